"""dltut: the LISA lab Deep Learning Tutorials (logistic regression, MLP, LeNet on MNIST) on PyTensor.

The tutorials' entry points and model classes are here, loaded on first use so that an engine can
still be chosen (``dltut.engine.use``) after ``import dltut``:

>>> import dltut
>>> result = dltut.sgd_optimization_mnist(n_epochs=5)
"""

import importlib

from dltut import catalogue

__version__ = "0.1.0"

_LAZY = {
    **{name: f"dltut.tutorials.{tutorial.module}" for tutorial in catalogue.TUTORIALS.values()
       for name in tutorial.exports},  # the tutorials' (the catalogue says which)
    "sweep": "dltut.sweep",  # the function; the module of that name is callable as it too
    "midiread": "dltut.midi",
    "midiwrite": "dltut.midi",
    "load_data": "dltut.data",
    "load_model": "dltut.saving",
    "EarlyStopping": "dltut.trainer",
    "train": "dltut.trainer",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dltut' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
