"""dltut: the LISA lab Deep Learning Tutorials (logistic regression, MLP, LeNet on MNIST) on PyTensor.

The tutorials' entry points and model classes are here, loaded on first use so that an engine can
still be chosen (``dltut.engine.use``) after ``import dltut``:

>>> import dltut
>>> result = dltut.sgd_optimization_mnist(n_epochs=5)
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "sgd_optimization_mnist": "dltut.tutorials.logistic_sgd",
    "test_mlp": "dltut.tutorials.mlp",
    "evaluate_lenet5": "dltut.tutorials.convolutional_mlp",
    "test_dA": "dltut.tutorials.dA",
    "test_SdA": "dltut.tutorials.SdA",
    "test_DBN": "dltut.tutorials.DBN",
    "cg_optimization_mnist": "dltut.tutorials.logistic_cg",
    "test_cA": "dltut.tutorials.cA",
    "test_hmc": "dltut.tutorials.hmc",
    "sampler_on_nd_gaussian": "dltut.tutorials.hmc",
    "test_rbm": "dltut.tutorials.rbm",
    "test_rnnrbm": "dltut.tutorials.rnnrbm",
    "train_lstm": "dltut.tutorials.lstm",
    "sweep": "dltut.sweep",  # the function; the module of that name is callable as it too
    "LogisticRegression": "dltut.tutorials.logistic_sgd",
    "HiddenLayer": "dltut.tutorials.mlp",
    "MLP": "dltut.tutorials.mlp",
    "LeNetConvPoolLayer": "dltut.tutorials.convolutional_mlp",
    "LeNet5": "dltut.tutorials.convolutional_mlp",
    "dA": "dltut.tutorials.dA",
    "SdA": "dltut.tutorials.SdA",
    "DBN": "dltut.tutorials.DBN",
    "cA": "dltut.tutorials.cA",
    "HMC_sampler": "dltut.tutorials.hmc",
    "RBM": "dltut.tutorials.rbm",
    "RNNSLU": "dltut.tutorials.rnnslu",
    "atisfold": "dltut.tutorials.rnnslu",
    "RnnRbm": "dltut.tutorials.rnnrbm",
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
