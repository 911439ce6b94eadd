"""The models by name, to rebuild one from the description a model file records.

A model has the logistic layer's interface: ``params``, ``y_pred``, ``p_y_given_x``,
``negative_log_likelihood(y)`` and ``errors(y)``. ``build(arch, rng, input)`` makes one from its
architecture dict (``{"model": "mlp", "n_in": 784, ...}``), which is what a saved model records.
"""

import importlib

import numpy

# architecture "model" -> the tutorial module and the class that builds it. The class is imported
# on first use: the tutorial modules import the core (fitting, saving), which imports this.
ARCHITECTURES = {
    "logistic_regression": ("dltut.tutorials.logistic_sgd", "LogisticRegression"),
    "mlp": ("dltut.tutorials.mlp", "MLP"),
    "lenet5": ("dltut.tutorials.convolutional_mlp", "LeNet5"),
}


def build(arch, rng, input):
    """The model described by ``arch`` on the symbolic ``input``, its weights drawn from ``rng``."""
    arch = dict(arch)
    kind = arch.pop("model", None)
    if kind not in ARCHITECTURES:
        raise ValueError(
            f"unknown model {kind!r} in architecture {arch!r}: one of {', '.join(ARCHITECTURES)}"
        )
    module, name = ARCHITECTURES[kind]
    model = getattr(importlib.import_module(module), name)
    if kind == "logistic_regression":  # starts at zero: draws nothing, takes no rng
        return model(input=input, name="logreg", **arch)
    return model(rng=rng, input=input, **arch)


def param_values(model):
    """``{name: value}`` of a model's parameters, in ``model.params`` order."""
    return {param.name: numpy.asarray(param.get_value()) for param in model.params}
