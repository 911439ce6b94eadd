"""Fuzzing every file format dltut reads: a mutated file is read or refused, never more.

For each format a valid seed file is made here (an MNIST pickle, ``.npz`` and IDX file, an IMDB
pickle, an ATIS fold, a MIDI tune, a model file, a checkpoint, a suite's results, and the
segmentation datasets' BMP images (24-bit and 8-bit), TIFF stacks (plain and PackBits) and ray
text files (values and labels)); hypothesis draws mutations of
it (bytes flipped, inserted, deleted, truncated, set to edge values; for the pickles also whole
made structures of odd types; for the model files the JSON description changed), and
``fuzz_worker.py`` reads each mutant with dltut's reader in a subprocess whose memory is capped.
Every mutant must load or be refused with one line naming the file (``ValueError``/``OSError``,
what the command line prints as ``error: ...`` with exit 2); a signal, another exception, a
``MemoryError`` or a file written by the input fails the test, and the mutant stays in
``tmp_path`` to be read again.

The fast suite draws a few fixed batches (``derandomize``); ``DLTUT_FUZZ_EXAMPLES=N`` draws N
random batches of each format for a longer hunt.
"""

import functools
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hostile import ROOT, capped

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_worker.py")
EXAMPLES = int(os.environ.get("DLTUT_FUZZ_EXAMPLES", "0"))
BATCH = 12  # mutants of each format in a batch, all read by one worker process

FUZZ = settings(
    max_examples=EXAMPLES or 3,  # hypothesis's first batch is its simplest: two more are drawn
    derandomize=not EXAMPLES, deadline=None, database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the batch's failures are listed
    suppress_health_check=list(HealthCheck),
)

# ---------------------------------------------------------------------------------------------
# Mutations of bytes

EDGE_INTS = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
             2**63 - 1, 2**64 - 1, 10**6, 10**9, 10**12]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1,
                                                                              max_size=16)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("int"), st.floats(0, 1, exclude_max=True),
              st.tuples(st.sampled_from(EDGE_INTS), st.sampled_from(["<I", ">I", "<Q", ">Q"]))),
)
mutations = st.lists(mutation, min_size=1, max_size=4)


def mutate(data, steps, start=0):
    """``data`` with ``steps`` applied, each at a fraction of the length past ``start``."""
    data = bytearray(data)
    for kind, where, value in steps:
        at = start + int(where * max(len(data) - start, 1))
        if kind == "flip" and at < len(data):
            data[at] ^= value
        elif kind == "insert":
            data[at:at] = value
        elif kind == "delete":
            del data[at:at + value]
        elif kind == "truncate":
            del data[at:]
        elif kind == "int":
            number, form = value
            packed = struct.pack(form, number % (2 ** (8 * struct.calcsize(form))))
            data[at:at + len(packed)] = packed
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# Made structures for the pickled formats: what a crafted file could hold instead of the data

def _arrays():
    dtypes = st.sampled_from(["int8", "uint8", "int32", "int64", "float16", "float32",
                              "float64", "complex64", "bool", "U3", "S2", "M8[s]",
                              "i4,f8", "O"])
    shapes = st.lists(st.integers(0, 3), max_size=3).map(tuple)
    return st.tuples(dtypes, shapes).map(_array)


def _array(spec):
    dtype, shape = spec
    if dtype == "O":
        array = numpy.empty(shape, dtype=object)
        array.fill(1)
        return array
    return numpy.zeros(shape, dtype=dtype)


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
    st.text(max_size=5), st.binary(max_size=5), _arrays(),
    st.sampled_from([10**12, -1, 2.7, float("inf")]),
)
structures = st.recursive(
    leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=12)


# ---------------------------------------------------------------------------------------------
# The seeds: one valid file of each format

def _gzip(data):
    return gzip.compress(data, mtime=0)


def _mnist_sets(n=(20, 10, 10)):
    rng = numpy.random.RandomState(0)
    return tuple((rng.rand(k, 784).astype("float32"), rng.randint(0, 10, k).astype("int64"))
                 for k in n)


def _python2_names(text):
    return text.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


@functools.cache
def seeds():
    """``{format: (kind, name, bytes, transform)}``: ``kind`` names the worker's reader and
    ``transform`` turns mutated bytes into the file (a compression around the mutated pickle), or
    is None. Made once a process."""
    from dltut import fitting, saving
    from dltut.engine import T
    from dltut.registry import build, param_values
    from dltut.trainer import TrainState, Validation
    from dltut.tutorials import rnnslu

    folder = tempfile.mkdtemp(prefix="dltut-fuzz-seeds-")
    made = {}
    mnist = _python2_names(pickle.dumps(_mnist_sets(), protocol=2))
    made["mnist-pickle"] = ("mnist", "mnist.pkl.gz", mnist, _gzip)

    buffer = io.BytesIO()
    numpy.savez(buffer, **{f"{split}_{part}": array for split, pair in
                           zip(("train", "valid", "test"), _mnist_sets())
                           for part, array in zip("xy", pair)})
    made["mnist-npz"] = ("mnist", "mnist.npz", buffer.getvalue(), None)

    reviews = [[1, 5, 7], [2, 3], [9, 9, 9, 4], [6]]
    imdb = pickle.dumps((reviews, [0, 1, 1, 0]), protocol=2) + \
        pickle.dumps((reviews[:2], [1, 0]), protocol=2)
    made["imdb"] = ("imdb", "imdb.pkl", imdb, None)

    fold = rnnslu.toy_fold(n_train=6, n_valid=3, n_test=3)
    made["atis"] = ("atis", "atis.fold3.pkl.gz", _python2_names(pickle.dumps(fold, protocol=2)),
                    _gzip)

    arch = {"model": "mlp", "n_in": 784, "n_hidden": 5, "n_out": 10}
    model = build(arch, numpy.random.RandomState(0), T.matrix("x"))
    params = param_values(model)
    path = os.path.join(folder, "model.npz")
    saving.save_model(path, arch, params, {"iteration": 10})
    made["model"] = ("model", "model.npz", open(path, "rb").read(), None)

    state = TrainState(patience=5000, iteration=99, best_validation_loss=0.1, best_iter=49,
                       test_score=0.12, best_params=list(params.values()),
                       history=[Validation(iter=49, epoch=1, minibatch=50, validation_loss=0.1,
                                           patience=5000, new_best=True, extended=False,
                                           test_score=0.12)],
                       costs=[0.5] * 100)
    path = os.path.join(folder, "checkpoint.npz")
    fitting.checkpoint_writer(path, arch, {"learning_rate": 0.1}, model)(state)  # as fit writes
    made["checkpoint"] = ("checkpoint", "checkpoint.npz", open(path, "rb").read(), None)

    from dltut import catalogue, engine

    checks = [{"expected": line, "printed": line, "difference": 0.0, "agrees": True}
              for line in catalogue.get("hmc").quick.lines]
    results = {"key": {"kind": "quick", "engine": engine.name(), "mode": None, "floatX": None},
               "outcomes": {"hmc": {"name": "hmc", "settings": {}, "seconds": 1.0, "errors": None,
                                    "failure": None, "checks": checks}}}
    made["suite-results"] = ("suite-results", "suite.json", json.dumps(results).encode(), None)

    try:
        from dltut import midi

        roll = numpy.zeros((12, 88))
        roll[numpy.arange(12), (numpy.arange(12) * 7) % 88] = 1
        roll[3:9, 40] = 1
        path = os.path.join(folder, "tune.mid")
        midi.midiwrite(path, roll)
        made["midi"] = ("midi", "tune.mid", open(path, "rb").read(), None)
    except ImportError:  # mido is the midi extra's (the test extra has it)
        pass

    from segm_files import write_bmp, write_tiff

    rng = numpy.random.RandomState(0)
    for fmt, name, write in (
            ("bmp", "frame.bmp", lambda p: write_bmp(p, rng.randint(0, 256, (5, 6, 3)))),
            ("bmp8", "frame8.bmp", lambda p: write_bmp(p, rng.randint(0, 4, (4, 7)),
                                                        palette=rng.randint(0, 256, (4, 3)))),
            ("tiff", "stack.tif", lambda p: write_tiff(p, rng.randint(0, 256, (3, 5, 4)))),
            ("tiff-packbits", "masks.tif", lambda p: write_tiff(
                p, [rng.randint(0, 3, (6, 5)), rng.randint(0, 256, (2, 3, 3))], order=">",
                compression=32773, rows_per_strip=4))):
        path = os.path.join(folder, name)
        write(path)
        made[fmt] = ("tiff" if fmt.startswith("tiff") else "bmp", name, open(path, "rb").read(),
                     None)
    rays = "\n".join(" ".join(f"{v:.4f}" for v in row) for row in rng.rand(4, 6) * 100) + "\n"
    made["rays"] = ("rays", "training_raw.txt", rays.encode(), None)
    labels = "\n".join(" ".join(map(str, row)) for row in rng.randint(0, 7, (4, 6))) + "\n"
    made["ray-labels"] = ("ray-labels", "training_cls.txt", labels.encode(), None)
    shutil.rmtree(folder)
    return made


# ---------------------------------------------------------------------------------------------
# Running the worker


def _read_all(items, cwd):
    """Read each ``(kind, path)`` of ``items`` in one capped worker; the outcomes."""
    result = subprocess.run(capped([WORKER, *(f"{k}:{p}" for k, p in items)]),
                            cwd=cwd, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                            text=True, timeout=600, stdin=subprocess.DEVNULL)
    done = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0, (
        f"the reader died (exit {result.returncode}) after {len(done)} files, on "
        f"{items[len(done)] if len(done) < len(items) else '?'}:\n{result.stderr[-3000:]}")
    return done


def _check(items, cwd, how):
    """Every one of ``items`` is read or refused (see the module's docstring)."""
    outcomes = _read_all(items, cwd)
    assert len(outcomes) == len(items), outcomes
    faults = [(o, how[o["path"]]) for o in outcomes if o["outcome"] == "fault"]
    assert not faults, f"{len(faults)} of {len(items)} files, the first ten:\n\n" + "\n\n".join(
        f"{o['path']} (made by {h}):\n{o['type']}: {o['message'][:300]}\n"
        f"{o.get('traceback', '')[-700:]}" for o, h in faults[:10])
    assert sorted(os.listdir(cwd)) == sorted(os.path.basename(p) for _, p in items), \
        "a mutant wrote a file"


class _Mutants:
    """The files of one batch, in a fresh folder: ``add`` writes one, ``check`` reads them all."""

    def __init__(self, folder):
        self.folder, self.items, self.how = folder, [], {}

    def add(self, fmt, data, how):
        kind, name, _, transform = seeds()[fmt]
        path = str(self.folder / f"{len(self.items):03d}-{name}")
        with open(path, "wb") as file:
            file.write(transform(data) if transform else data)
        self.items.append((kind, path))
        self.how[path] = how

    def check(self):
        _check(self.items, self.folder, self.how)


# ---------------------------------------------------------------------------------------------
# The tests (each hypothesis example is one batch of every format, read by one worker)


def _formats(*names):
    return [name for name in names if name in seeds()]


@FUZZ
@given(batch=st.data())
def test_mutated_bytes_are_read_or_refused(tmp_path_factory, batch):
    mutants = _Mutants(tmp_path_factory.mktemp("bytes"))
    for fmt in _formats("mnist-pickle", "mnist-npz", "imdb", "atis", "model", "checkpoint",
                        "suite-results", "midi", "bmp", "bmp8", "tiff", "tiff-packbits", "rays",
                        "ray-labels"):
        _, _, seed, transform = seeds()[fmt]
        for steps in batch.draw(st.lists(mutations, min_size=BATCH, max_size=BATCH), label=fmt):
            # pickles: past the protocol header; other files: anywhere
            mutants.add(fmt, mutate(seed, steps, start=2 if transform else 0), steps)
    mutants.check()


@FUZZ
@given(batch=st.data())
def test_made_structures_are_read_or_refused(tmp_path_factory, batch):
    mutants = _Mutants(tmp_path_factory.mktemp("structures"))
    for fmt in ("mnist-pickle", "imdb", "atis"):
        for value, protocol in batch.draw(st.lists(st.tuples(structures, st.sampled_from(
                [0, 2, 5])), min_size=BATCH, max_size=BATCH), label=fmt):
            data = pickle.dumps(value, protocol=protocol)
            if fmt == "imdb":  # two pickles, train then test
                data += pickle.dumps(value, protocol=protocol)
            mutants.add(fmt, data, f"pickle of {value!r:.300} at protocol {protocol}")
    mutants.check()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(),
              st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


def _paths(value, prefix=()):
    """Every key path of a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


def _replace(value, path, new, delete=False):
    if not path:
        return new
    value = json.loads(json.dumps(value))
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return value


def _rewrite_meta(seed, meta):
    """The npz ``seed`` with ``meta`` as its JSON description."""
    source = zipfile.ZipFile(io.BytesIO(seed))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "meta.npy":
                member = io.BytesIO()
                numpy.save(member, numpy.array(json.dumps(meta)))
                data = member.getvalue()
            target.writestr(info.filename, data)
    return out.getvalue()


@FUZZ
@given(batch=st.data())
def test_model_descriptions_are_read_or_refused(tmp_path_factory, batch):
    """The JSON description of a model file or checkpoint, or a suite's results file, with one
    value changed or deleted."""
    mutants = _Mutants(tmp_path_factory.mktemp("descriptions"))
    for fmt in ("model", "checkpoint", "suite-results"):
        _, _, seed, _ = seeds()[fmt]
        npz = fmt != "suite-results"
        meta = json.loads(str(numpy.load(io.BytesIO(seed))["meta"]) if npz else seed)
        places = list(_paths(meta))
        for where, value, delete in batch.draw(st.lists(st.tuples(
                st.integers(0, len(places) - 1), json_values, st.booleans()), min_size=BATCH,
                max_size=BATCH), label=fmt):
            place = places[where]
            delete = delete and bool(place)
            changed = _replace(meta, place, value, delete)
            data = _rewrite_meta(seed, changed) if npz else json.dumps(changed).encode()
            mutants.add(fmt, data, f"meta{list(place)} {'deleted' if delete else f'= {value!r}'}")
    mutants.check()


def test_mnist_idx_headers_are_read_or_refused(tmp_path):
    """The shipped IDX files with their headers changed to edge values (the counts, the
    dimensions, the magic numbers)."""
    from dltut import data

    items, how = [], {}
    for i, (member, offset, number) in enumerate(
            [(m, o, n) for m in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte")
             for o in (0, 4, 8) for n in (0, 1, 0x803, 0x7FFFFFFF, 0xFFFFFFFF)]):
        folder = tmp_path / f"{i:02d}-idx"
        folder.mkdir()
        for other in data.IDX_FILES.values():
            (folder / f"{other}.gz").symlink_to(data.DEFAULT_DATASET / f"{other}.gz")
        raw = bytearray(gzip.decompress((data.DEFAULT_DATASET / f"{member}.gz").read_bytes()))
        raw[offset:offset + 4] = struct.pack(">I", number)
        (folder / f"{member}.gz").unlink()
        (folder / member).write_bytes(bytes(raw))
        items.append(("mnist", str(folder)))
        how[str(folder)] = f"{member} bytes {offset}-{offset + 3} = {number:#x}"
    _check(items, tmp_path, how)
