"""Best models on disk: a ``.npz`` of parameter arrays plus a JSON description, written atomically.

The file holds ``param/<name>`` arrays (``W_logreg``, ``b_hidden``, ...) and ``meta``, a JSON string
with the format version, the dltut version, the engine and floatX it was trained with, the
architecture (what ``dltut.registry.build`` needs) and the run's counters. No pickled graph: a model
is rebuilt from its architecture and its values are set from the arrays.
"""

import json
import os
import zipfile

import numpy

from dltut import __version__, engine, registry
from dltut.atomic import atomic_write
from dltut.engine import T

FORMAT = 1
_PARAM = "param/"
_BEST = "best/"


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, corrupt, or not matching its architecture."""


def check_writable(path, what):
    """Fail early, before any compiling, if ``path`` cannot be written."""
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    if os.path.isdir(os.fspath(path)):
        raise ValueError(f"{what} {path} is a directory: give a file name such as {path}/model.npz")
    if not os.path.isdir(directory):
        raise ValueError(f"{what} {path}: directory {directory} does not exist; create it first")
    if not os.access(directory, os.W_OK):
        raise ValueError(f"{what} {path}: directory {directory} is not writable; choose another path")


def save_model(path, arch, params, info=None, extra=None):
    """Write ``params`` (``{name: array}``) of the model ``arch`` to ``path`` (a ``.npz``).

    ``extra`` adds arrays and ``meta`` entries: ``({key: array}, {key: value})`` (checkpoints).
    """
    meta = {
        "format": FORMAT,
        "dltut": __version__,
        "engine": engine.name(),
        "floatX": engine.floatX(),
        "arch": arch,
        "info": info or {},
    }
    arrays = {_PARAM + name: numpy.asarray(value) for name, value in params.items()}
    if extra is not None:
        arrays.update(extra[0])
        meta.update(extra[1])
    arrays["meta"] = numpy.array(json.dumps(meta))
    atomic_write(path, lambda file: numpy.savez(file, **arrays))


def save_checkpoint(path, arch, params, hyperparameters, state):
    """A model file of the current parameters that also holds the whole ``TrainState``."""
    names = list(params)
    arrays = {"costs": numpy.asarray(state.costs, dtype=float)}
    if state.best_params is not None:
        arrays.update({_BEST + name: value for name, value in zip(names, state.best_params)})
    meta = {"checkpoint": {"state": state.to_dict(), "param_order": names,
                           "hyperparameters": hyperparameters}}
    save_model(path, arch, params, {"iteration": state.iteration}, (arrays, meta))


def load_checkpoint(path):
    """``(saved_model, hyperparameters, state)`` from a file written by ``save_checkpoint``."""
    from dltut.trainer import TrainState

    model = load_model(path)
    if "checkpoint" not in model.meta:
        raise ModelFileError(f"{path}: a model file, not a checkpoint; resume needs the file that "
                             "--checkpoint wrote")
    checkpoint = model.meta["checkpoint"]
    with numpy.load(path, allow_pickle=False) as data:
        best = [data[_BEST + name] for name in checkpoint["param_order"]] \
            if _BEST + checkpoint["param_order"][0] in data.files else None
        costs = data["costs"]
    state = TrainState.from_dict(checkpoint["state"], best, costs)
    return model, checkpoint["hyperparameters"], state


class SavedModel:
    """A model read back from disk: its architecture, parameter values and run counters."""

    def __init__(self, path, meta, params):
        self.path = path
        self.meta = meta
        self.arch = meta["arch"]
        self.info = meta["info"]
        self.params = params
        self._predict = None

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
            param.set_value(numpy.asarray(value, dtype=engine.floatX()))
        return model

    def predict(self, images):
        """Predicted labels (int array) of ``images``, an array of shape (n, 784) or (n, 28, 28)."""
        images = numpy.asarray(images, dtype=engine.floatX())
        images = images.reshape((images.shape[0], -1))
        x = T.matrix("x")
        model = self.build(x, batch_size=images.shape[0])
        return engine.function([x], model.y_pred, name="predict_model")(images)


def load_model(path):
    """Read a model file written by ``save_model``; one clear error if it cannot be used."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file; train one first (scripts write it with --out)")
    try:
        with numpy.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            params = {key[len(_PARAM):]: data[key] for key in data.files if key.startswith(_PARAM)}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise ModelFileError(
            f"{path}: not a readable dltut model file ({type(error).__name__}: {error}); "
            "it may be truncated or from another program: train it again"
        ) from error
    if meta.get("format") != FORMAT or "arch" not in meta:
        raise ModelFileError(
            f"{path}: model file format {meta.get('format')!r}, this dltut reads format {FORMAT}"
        )
    return SavedModel(path, meta, params)
