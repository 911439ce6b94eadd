"""Best models on disk: a ``.npz`` of parameter arrays plus a JSON description, written atomically.

The file holds ``param/<name>`` arrays (``W_logreg``, ``b_hidden``, ...) and ``meta``, a JSON string
with the format version, the dltut version, the engine and floatX it was trained with, the
architecture (what ``dltut.registry.build`` needs) and the run's counters. No pickled graph: a model
is rebuilt from its architecture and its values are set from the arrays.

A model file is read as hostile: each array's kind and size is checked from the zip's directory
and its ``.npy`` header before it is read (plain numbers only, no bigger than the file allows),
the JSON's structure before it is trusted, and the arrays' shapes against those the architecture
implies before any model is built. Whatever is wrong is one ``ModelFileError`` naming the file.

Every tutorial's checkpoint is such a file too, in one layout (``save_run``, ``read_run``): the
values the run's compiled functions update, the best parameters, the trainer's ``TrainState``
(where the run has one), other arrays, a NumPy ``RandomState`` and the tutorial's counters, with
the run's settings as JSON; a resume checks every array's shape and dtype against the running
model before anything is set, and refuses the checkpoint of a run with other settings
(``check_same_run``).
"""

import json
import logging
import math
import os
import zipfile
import zlib

import numpy

from dltut import __version__, engine, registry
from dltut.atomic import OutputError, atomic_write, check_output
from dltut.engine import T

log = logging.getLogger(__name__)

FORMAT = 1
_PARAM = "param/"
_PLAIN_KINDS = "biuf"  # the dtypes of arrays a model file may hold: bools, ints and floats
# the most bytes a model file's arrays may take unpacked: this many times the file, and a floor
# (numpy.savez stores its arrays as they are; a compressed archive rarely shrinks floats 4 times,
# a zip bomb shrinks zeros a thousand times)
_UNPACKED_PER_BYTE = 16
_UNPACKED_FLOOR = 2**20
_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError, OverflowError, RecursionError, TypeError)


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, corrupt, or not matching its architecture."""


def check_writable(path, what):
    """Fail early, before any compiling, if ``path`` cannot be written (``atomic.check_output``)."""
    check_output(path, what)


class CheckpointWriter:
    """``write(*args)`` of a run's checkpoint file ``path``, where a failed write (a full disk, a
    folder made read-only: ``atomic.OutputError``, which names the file) is a warning, not the
    run's end: the file keeps its previous checkpoint, training goes on, the next checkpoint is
    tried again and the best model is still written at the end. One warning a streak of
    failures; ``failed`` says whether the last write failed."""

    def __init__(self, path, write):
        self.path, self.write, self.failed = path, write, False

    def __call__(self, *args):
        try:
            self.write(*args)
        except OutputError as error:
            if not self.failed:
                log.warning("checkpoint not written: %s; training goes on (the best model is "
                            "still written at the end)", error)
            self.failed = True
        else:
            if self.failed:
                log.warning("checkpoint %s written again", self.path)
            self.failed = False


def save_model(path, arch, params, info=None, entries=None):
    """Write ``params`` (``{name: array}``) of the model ``arch`` to ``path`` (a ``.npz``);
    ``entries`` are more ``meta`` entries (``{key: JSON value}``: a run's, ``save_run``)."""
    meta = {
        "format": FORMAT,
        "dltut": __version__,
        "engine": engine.name(),
        "floatX": engine.floatX(),
        "arch": arch,
        "info": info or {},
        **(entries or {}),
    }
    arrays = {_PARAM + name: numpy.asarray(value) for name, value in params.items()}
    arrays["meta"] = numpy.array(json.dumps(meta))
    atomic_write(path, lambda file: numpy.savez(file, **arrays))


def check_same_run(path, saved, current):
    """A checkpoint resumes only the run that wrote it: ``saved`` (its settings) and ``current``
    (this run's) agree on every key; the one ``ValueError`` of every tutorial, naming the file
    and each difference as (saved, here), otherwise."""
    differ = {key: (saved.get(key), current.get(key))
              for key in sorted(set(saved) | set(current), key=str)
              if saved.get(key) != current.get(key)}
    if differ:
        raise ValueError(f"{path}: checkpoint of another run (saved, here: {differ}); resume "
                         "with the same settings and data, or start a new run")


# ----------------------------------------------------------------------------------------------
# A run's checkpoint: every value the run changes, so that a resumed run goes on as the unbroken
# one (the one checkpoint format of every tutorial)


def save_run(path, name, settings, values, params=None, state=None, rng=None, counters=None,
             best=None, arrays=None):
    """Write the checkpoint ``path`` of a run of the tutorial ``name``: as arrays, ``value/<key>``
    of each of ``values`` (``{key: shared variable}``, what the run's compiled functions update:
    ``engine.updated_variables``), ``best/<key>`` of the best parameters (the trainer's
    ``state.best_params``, or ``best`` where the run has no ``TrainState``; in the order of
    ``params``, the model's ``{key: shared variable}``), the ``costs`` of the state's updates,
    ``array/<key>`` of ``arrays`` (other state, ``{key: array}``) and the keys of ``rng`` (a NumPy
    ``RandomState.get_state()``, if given); as JSON under ``<name>_checkpoint``, the run's
    ``settings``, the state's counters (``TrainState.to_dict``), the rest of ``rng`` and
    ``counters`` (the tutorial's own: ``{key: JSON value}``)."""
    arrays = {f"value/{key}": numpy.asarray(variable.get_value())
              for key, variable in values.items()} | {
        f"array/{key}": numpy.asarray(value) for key, value in (arrays or {}).items()}
    best = state.best_params if state is not None else best
    if best is not None:
        arrays.update({f"best/{key}": value for key, value in zip(params, best)})
    run = {"settings": jsonable(settings), **(counters or {})}
    if state is not None:
        arrays["costs"] = numpy.asarray(state.costs, dtype=float)
        run["state"] = state.to_dict()
    if rng is not None:
        arrays["rng_keys"] = rng[1]
        run["rng"] = [rng[0], *map(float, rng[2:])]
    info = {"iteration": state.iteration} if state is not None else {}
    save_model(path, {"model": name}, arrays, info, {f"{name}_checkpoint": run})


def read_run(path, name, settings, counters=None, rng=False, n_updates=None, patience=None,
             state=True, check=None):
    """The checkpoint ``path`` of a run of ``name`` as ``save_run`` wrote it, checked before
    anything is built: its JSON holds the keys ``save_run`` writes and no other (``counters``:
    ``{key: kind}`` of the tutorial's, a kind a type or a ``(test, what it accepts)`` pair;
    ``rng`` whether a NumPy state is there; ``state`` whether a ``TrainState`` is), ``check(run)``
    (the JSON: a problem with it, or None) passes, the settings are this run's
    (``check_same_run``), the trainer's state is one a run can be in (``TrainState.from_dict``),
    before update ``n_updates`` with this ``patience`` (where given). A ``SavedRun``; a
    ModelFileError naming the file otherwise."""
    from dltut.trainer import TrainState

    saved = load_model(path)
    run = saved.meta.get(f"{name}_checkpoint")
    if run is None:
        raise ModelFileError(f"{path}: not a checkpoint of {name}; resume needs the file that "
                             "checkpoint= (--checkpoint) wrote")
    saved = SavedRun(saved, name, run)
    counters = counters or {}
    keys = sorted(["settings", *(["state"] if state else []), *(["rng"] if rng else []),
                   *counters])
    if not isinstance(run, dict) or sorted(run, key=str) != keys:
        raise saved.refuse(f"{name}_checkpoint is {run!r:.80}, not the dict of {', '.join(keys)}")
    kinds = {"settings": dict, **({"state": dict} if state else {}), **counters}
    for key, kind in kinds.items():
        test, what = (kind if isinstance(kind, tuple)
                      else (lambda value, kind=kind: isinstance(value, kind), f"a {kind.__name__}"))
        if not test(run[key]):
            raise saved.refuse(f"{key} is {run[key]!r:.80}, not {what}")
    if rng and not _is_rng_state(run["rng"]):
        raise saved.refuse(f"rng is {run['rng']!r:.80}, not [\"MT19937\", position 0-624, "
                           "has_gauss 0 or 1, gaussian]")
    problem = check(run) if check is not None else None
    if problem:
        raise saved.refuse(problem)
    check_same_run(path, run["settings"], jsonable(settings))
    if not state:
        return saved
    state = run["state"]
    has_best = any(key.startswith("best/") for key in saved.arrays)
    try:
        TrainState.from_dict(state, [] if has_best else None,
                             saved.arrays.get("costs", numpy.zeros(0)))
    except ValueError as error:
        raise saved.refuse(error) from None
    if (n_updates is not None and not state["iteration"] < n_updates) \
            or (patience is not None and state["patience"] != patience):
        raise saved.refuse(f"iteration {state['iteration']} and patience {state['patience']}, "
                           f"where this run has at most {n_updates} updates and patience "
                           f"{patience}")
    return saved


class SavedRun:
    """A checkpoint ``read_run`` read and checked: ``run`` its JSON (``settings``, ``state``...),
    ``arrays`` its arrays; ``restore`` sets them into the running model, and keeps in ``best``
    the best parameters (in the order of ``params``, or None) and in ``other`` ``save_run``'s
    ``arrays``."""

    def __init__(self, saved, name, run):
        self.path, self.name, self.run = saved.path, name, run
        self.arrays = saved.params  # save_run's arrays, under save_model's param/
        self.best, self.other = None, {}

    def refuse(self, problem):
        return ModelFileError(f"{self.path}: {problem}: not a checkpoint {self.name} wrote; start "
                              "a new run without --resume")

    def restore(self, values, params=None, rng=None, arrays=None):
        """Set ``values`` (as ``save_run`` was given them) and the NumPy ``rng`` from the
        checkpoint, after every array's shape and dtype is checked against the running model's
        (``arrays``: ``{key: array like the saved one}`` of ``save_run``'s ``arrays``) and no
        other array is there; the trainer's ``TrainState`` (None where the run has none)."""
        from dltut.trainer import TrainState

        expected = {f"value/{key}": numpy.asarray(variable.get_value())
                    for key, variable in values.items()}
        expected.update({f"array/{key}": numpy.asarray(like)
                         for key, like in (arrays or {}).items()})
        has_best = any(key.startswith("best/") for key in self.arrays)
        if has_best:
            expected.update({f"best/{key}": numpy.asarray(variable.get_value())
                             for key, variable in (params or {}).items()})
        if "state" in self.run:  # the costs' kind and size: read_run checked them (from_dict)
            expected["costs"] = self.arrays.get("costs", numpy.zeros(0))
        if rng is not None:
            expected["rng_keys"] = numpy.zeros(624, dtype=numpy.uint32)
        for key, like in expected.items():
            value = self.arrays.get(key)
            if value is None:
                raise self.refuse(f"no array {key}")
            if value.shape != like.shape or value.dtype != like.dtype:
                raise self.refuse(f"{key} is {value.dtype} {value.shape}, this run's is "
                                  f"{like.dtype} {like.shape}")
        if set(self.arrays) - set(expected):
            raise self.refuse(f"unknown arrays {sorted(set(self.arrays) - set(expected))!r:.80}")
        for key, variable in values.items():
            variable.set_value(self.arrays[f"value/{key}"])
        if has_best:
            self.best = [self.arrays[f"best/{key}"] for key in params]
        self.other = {key: self.arrays[f"array/{key}"] for key in arrays or {}}
        if rng is not None:
            name, position, has_gauss, cached = self.run["rng"]
            rng.set_state((name, self.arrays["rng_keys"], int(position), int(has_gauss), cached))
        if "state" not in self.run:
            return None
        state = TrainState.from_dict(self.run["state"], self.best, self.arrays["costs"])
        log.info("... resuming from %s (update %d)", self.path, state.iteration + 1)
        return state


def by_name(variables):
    """``{name: variable}`` of shared variables: how ``save_run`` and ``SavedRun.restore`` take
    a model's parameters."""
    return {variable.name: variable for variable in variables}


def is_number(value):
    """A number as JSON gives it (an int or a float, not a bool): a test of a run's counters."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_index(value):
    """A count or an index as JSON gives it: an int >= 0, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_rng_state(value):
    """NumPy's MT19937 state as ``save_run`` writes it: its name, position, has_gauss and cached
    gaussian (the 624 keys are an array)."""
    return (isinstance(value, list) and len(value) == 4 and value[0] == "MT19937"
            and all(is_number(v) and math.isfinite(v) for v in value[1:])
            and value[1] in range(625) and value[2] in (0, 1))


def jsonable(settings):
    """``settings`` as JSON values: functions by name, paths as strings, NumPy scalars as
    Python's."""
    def plain(value):
        if callable(value):
            return value.__name__
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        return value.item() if isinstance(value, numpy.generic) else value
    return {key: plain(value) for key, value in settings.items()}


class SavedModel:
    """A model read back from disk: its architecture, parameter values and run counters."""

    def __init__(self, path, meta, params):
        self.path = path
        self.meta = meta
        self.arch = meta["arch"]
        self.info = meta["info"]
        self.params = params

    def build(self, input, batch_size=None):
        """The model on the symbolic ``input``, with the saved values (``batch_size`` for LeNet)."""
        arch = dict(self.arch)
        if "batch_size" in arch and batch_size is not None:
            arch["batch_size"] = batch_size
        return self.build_into(registry.build(arch, numpy.random.RandomState(0), input))

    def build_into(self, model):
        """Set the saved values into ``model``, after checking they are its parameters."""
        names = [param.name for param in model.params]
        if sorted(names) != sorted(self.params):
            raise ModelFileError(
                f"{self.path}: parameters {sorted(self.params)} do not match architecture "
                f"{self.arch['model']!r}, which has {sorted(names)} (file from another model?)"
            )
        for param in model.params:
            expected = param.get_value(borrow=True).shape
            value = self.params[param.name]
            if value.shape != expected:
                raise ModelFileError(
                    f"{self.path}: parameter {param.name} has shape {value.shape}, architecture "
                    f"{self.arch} needs {expected}"
                )
            # (floatX for the weights; a random stream's state stays int32)
            param.set_value(numpy.asarray(value, dtype=param.dtype))
        return model

    def predict(self, images):
        """Predicted labels (int array) of ``images``, an array of shape (n, 784) or (n, 28, 28)."""
        images = numpy.asarray(images, dtype=engine.floatX())
        images = images.reshape((images.shape[0], -1))
        x = T.matrix("x")
        model = self.build(x, batch_size=images.shape[0])
        return engine.function([x], model.y_pred, name="predict_model")(images)


def load_model(path):
    """Read a model file written by ``save_model``; one ``ModelFileError`` naming the file if
    it cannot be used (see the module's docstring for what is checked)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file; train one first (scripts write it with --out)")
    arrays = _read_arrays(path)
    meta = _read_meta(path, arrays.pop("meta", None))
    params = {key[len(_PARAM):]: value for key, value in arrays.items() if key.startswith(_PARAM)}
    if meta["arch"].get("model") in registry.ARCHITECTURES:
        _check_params(path, meta["arch"], params)
    return SavedModel(path, meta, params)


def _read_arrays(path):
    """``{name: array}`` of the ``.npz`` at ``path``, each checked before it is read: the zip's
    declared sizes within a budget of the file's size, each member a ``.npy`` of plain numbers
    (or the ``meta`` string) whose header's shape fills exactly the member's bytes."""
    size = os.path.getsize(path)
    budget = _UNPACKED_PER_BYTE * size + _UNPACKED_FLOOR
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            unpacked = sum(info.file_size for info in infos)
            if unpacked > budget:
                raise _bad(path, f"its arrays would take {unpacked:,} bytes unpacked, more than "
                                 f"{budget:,} for a file of {size:,} bytes (a zip bomb?)")
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise _bad(path, "the archive holds an array twice")
            arrays = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise _bad(path, f"member {info.filename!r} is not a .npy array")
                name = info.filename[:-len(".npy")]
                with archive.open(info) as member:
                    _check_header(path, name, member, info.file_size)
                with archive.open(info) as member:
                    arrays[name] = numpy.lib.format.read_array(member, allow_pickle=False)
    except ModelFileError:
        raise
    except _READ_ERRORS as error:
        raise ModelFileError(
            f"{path}: not a readable dltut model file ({type(error).__name__}: {error}); "
            "it may be truncated or from another program: train it again"
        ) from None
    return arrays


def read_arrays_like(path, like, hint):
    """``{name: array}`` of the ``.npz`` ``path`` (as ``numpy.savez`` writes it), one for each
    name of ``like`` (``{name: array}``: a model's parameters), cast to floatX. Each array's
    ``.npy`` header is read first: its shape must be ``like``'s and its dtype a float, before its
    values are read (a file cannot make this allocate more than the model holds); what is wrong
    is a ModelFileError naming the file, then ``hint`` (what to give instead)."""
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file; {hint}")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            for name, value in like.items():
                if f"{name}.npy" not in members:
                    raise ModelFileError(f"{path}: {name} is not in the archive; {hint}")
                with archive.open(members[f"{name}.npy"]) as member:
                    version, shape, dtype = read_npy_header(member)
                    if shape is None:
                        raise ModelFileError(f"{path}: {name} is a .npy of version {version}, "
                                             f"not one numpy.savez writes; {hint}")
                    if shape != numpy.shape(value):
                        raise ModelFileError(f"{path}: {name} has shape {shape}, this model's "
                                             f"is {numpy.shape(value)}; {hint}")
                    if dtype.kind != "f":
                        raise ModelFileError(f"{path}: {name} holds {dtype}, not floats; {hint}")
                with archive.open(members[f"{name}.npy"]) as member:
                    arrays[name] = numpy.lib.format.read_array(member, allow_pickle=False) \
                        .astype(engine.floatX())
    except ModelFileError:
        raise
    except _READ_ERRORS as error:
        raise ModelFileError(f"{path}: not a readable model file ({type(error).__name__}: "
                             f"{error}); {hint}") from None
    return arrays


_NPY_HEADERS = {(1, 0): numpy.lib.format.read_array_header_1_0,
                (2, 0): numpy.lib.format.read_array_header_2_0}


def read_npy_header(member):
    """``(version, shape, dtype)`` of the ``.npy`` header at the start of the open ``member``,
    read before any of its values; shape and dtype None for a format numpy.savez does not write
    (it writes 1.0, or 2.0 for a long header)."""
    version = numpy.lib.format.read_magic(member)
    if version not in _NPY_HEADERS:
        return version, None, None
    shape, _, dtype = _NPY_HEADERS[version](member)
    return version, shape, dtype


def _check_header(path, name, member, member_size):
    """The ``.npy`` header of ``name``: a plain dtype and a shape whose bytes are the member's."""
    version, shape, dtype = read_npy_header(member)
    if shape is None:
        raise _bad(path, f"array {name}: .npy format {version}, numpy.savez writes 1.0 or 2.0")
    plain = (dtype.kind in _PLAIN_KINDS or (name == "meta" and dtype.kind == "U")) \
        and dtype.fields is None and dtype.subdtype is None and not dtype.hasobject
    if not plain:
        raise _bad(path, f"array {name} has dtype {dtype}, not plain numbers")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise _bad(path, f"array {name} has shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != member_size - member.tell():
        raise _bad(path, f"array {name} of shape {shape} and dtype {dtype} needs {nbytes:,} "
                         f"bytes, its member holds {member_size - member.tell():,}")


def _read_meta(path, meta):
    """The ``meta`` JSON of a model file: an object of the format read here, whose ``arch`` and
    ``info`` are objects and whose ``dltut``, ``engine`` and ``floatX`` are strings."""
    if meta is None:
        raise _bad(path, "no meta entry (not a file dltut wrote)")
    if meta.shape != () or meta.dtype.kind != "U":
        raise _bad(path, f"meta is an array of shape {meta.shape} and dtype {meta.dtype}, not "
                         "a JSON string")
    try:
        meta = json.loads(str(meta))
    except (ValueError, RecursionError) as error:
        raise _bad(path, f"meta is not JSON ({type(error).__name__}: {str(error)[:200]})") \
            from None
    if not isinstance(meta, dict):
        raise _bad(path, f"meta is a JSON {type(meta).__name__} {_short(meta)}, not an object")
    if meta.get("format") != FORMAT or "arch" not in meta:
        raise ModelFileError(
            f"{path}: model file format {meta.get('format')!r}, this dltut reads format {FORMAT}"
        )
    missing = [key for key in ("dltut", "engine", "floatX", "info") if key not in meta]
    if missing:
        raise _bad(path, f"meta: missing {', '.join(missing)}")
    for key in ("dltut", "engine", "floatX"):
        if not isinstance(meta[key], str):
            raise _bad(path, f"meta {key} {_short(meta[key])} is not a string")
    for key in ("arch", "info"):
        if not isinstance(meta[key], dict):
            raise _bad(path, f"meta {key} {_short(meta[key])} is not a JSON object")
    if not isinstance(meta["arch"].get("model"), str):
        raise _bad(path, f"arch {_short(meta['arch'])} names no model")
    return meta


def _check_params(path, arch, params):
    """The parameters of a registry model: those ``arch`` implies, of its shapes, floats; checked
    before any model is built, so an architecture cannot ask for more than the file holds."""
    try:
        shapes = registry.param_shapes(arch)
    except registry.ArchitectureError as error:
        raise _bad(path, str(error)) from None
    if sorted(params) != sorted(shapes):
        raise ModelFileError(
            f"{path}: parameters {sorted(params)} do not match architecture {arch['model']!r}, "
            f"which has {sorted(shapes)} (file from another model?)")
    for name, shape in shapes.items():
        value = params[name]
        if value.shape != shape:
            raise ModelFileError(f"{path}: parameter {name} has shape {value.shape}, "
                                 f"architecture {arch} needs {shape}")
        if value.dtype.kind != "f":
            raise _bad(path, f"parameter {name} has dtype {value.dtype}, not floats")


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _bad(path, problem):
    """A ModelFileError: ``path``, what is wrong, and what to do."""
    return ModelFileError(f"{path}: {problem}; not a model file dltut wrote (or a damaged one): "
                          "train it again")
