"""Whole models built from the layers, and a registry to rebuild them from a saved description.

A model has the logistic layer's interface: ``params``, ``y_pred``, ``p_y_given_x``,
``negative_log_likelihood(y)`` and ``errors(y)``. ``build(arch, rng, input)`` makes one from its
architecture dict (``{"model": "mlp", "n_in": 784, ...}``), which is what a saved model records.
"""

import numpy

from dltut.layers import HiddenLayer, LogisticRegression, tanh


class MLP:
    """A multilayer perceptron: one tanh ``HiddenLayer`` feeding a ``LogisticRegression``.

    .. math::
        f(x) = softmax(W^{(2)} \\tanh(W^{(1)} x + b^{(1)}) + b^{(2)})

    ``L1`` and ``L2_sqr`` are the regularisation terms of the tutorial, over both weight matrices.
    Draw order: all of the hidden layer's ``W`` (one ``rng.uniform`` call); the logistic layer starts
    at zero and draws nothing.
    """

    def __init__(self, rng, input, n_in, n_hidden, n_out):
        self.hiddenLayer = HiddenLayer(
            rng=rng, input=input, n_in=n_in, n_out=n_hidden, activation=tanh, name="hidden"
        )
        self.logRegressionLayer = LogisticRegression(
            input=self.hiddenLayer.output, n_in=n_hidden, n_out=n_out, name="logreg"
        )
        self.L1 = abs(self.hiddenLayer.W).sum() + abs(self.logRegressionLayer.W).sum()
        self.L2_sqr = (self.hiddenLayer.W**2).sum() + (self.logRegressionLayer.W**2).sum()
        self.negative_log_likelihood = self.logRegressionLayer.negative_log_likelihood
        self.errors = self.logRegressionLayer.errors
        self.p_y_given_x = self.logRegressionLayer.p_y_given_x
        self.y_pred = self.logRegressionLayer.y_pred
        self.params = self.hiddenLayer.params + self.logRegressionLayer.params
        self.input = input


def _logistic_regression(rng, input, n_in, n_out):
    return LogisticRegression(input=input, n_in=n_in, n_out=n_out, name="logreg")


ARCHITECTURES = {
    "logistic_regression": _logistic_regression,
    "mlp": MLP,
}


def build(arch, rng, input):
    """The model described by ``arch`` on the symbolic ``input``, its weights drawn from ``rng``."""
    arch = dict(arch)
    kind = arch.pop("model", None)
    if kind not in ARCHITECTURES:
        raise ValueError(
            f"unknown model {kind!r} in architecture {arch!r}: one of {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[kind](rng=rng, input=input, **arch)


def param_values(model):
    """``{name: value}`` of a model's parameters, in ``model.params`` order."""
    return {param.name: numpy.asarray(param.get_value()) for param in model.params}
