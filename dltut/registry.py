"""The models by name, to rebuild one from the description a model file records.

A model has the logistic layer's interface: ``params``, ``y_pred``, ``p_y_given_x``,
``negative_log_likelihood(y)`` and ``errors(y)``. ``build(arch, rng, input)`` makes one from its
architecture dict (``{"model": "mlp", "n_in": 784, ...}``), which is what a saved model records.
"""

import importlib

import numpy

# architecture "model" -> the tutorial module, the class that builds it and the keyword it takes
# its numpy rng by (None: it draws nothing). The class is imported on first use: the tutorial
# modules import the core (fitting, saving), which imports this.
ARCHITECTURES = {
    "logistic_regression": ("dltut.tutorials.logistic_sgd", "LogisticRegression", None),
    "mlp": ("dltut.tutorials.mlp", "MLP", "rng"),
    "lenet5": ("dltut.tutorials.convolutional_mlp", "LeNet5", "rng"),
    "sda": ("dltut.tutorials.SdA", "SdA", "numpy_rng"),
    "dbn": ("dltut.tutorials.DBN", "DBN", "numpy_rng"),
}


def build(arch, rng, input):
    """The model described by ``arch`` on the symbolic ``input``, its weights drawn from ``rng``."""
    arch = dict(arch)
    kind = arch.pop("model", None)
    if kind not in ARCHITECTURES:
        raise ValueError(
            f"unknown model {kind!r} in architecture {arch!r}: one of {', '.join(ARCHITECTURES)}"
        )
    module, name, rng_keyword = ARCHITECTURES[kind]
    model = getattr(importlib.import_module(module), name)
    if rng_keyword is None:  # the logistic regression starts at zero: it draws nothing
        return model(input=input, name="logreg", **arch)
    return model(input=input, **{rng_keyword: rng}, **arch)


def param_values(model):
    """``{name: value}`` of a model's parameters, in ``model.params`` order."""
    return {param.name: numpy.asarray(param.get_value()) for param in model.params}
