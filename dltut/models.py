"""Whole models built from the layers, and a registry to rebuild them from a saved description.

A model has the logistic layer's interface: ``params``, ``y_pred``, ``p_y_given_x``,
``negative_log_likelihood(y)`` and ``errors(y)``. ``build(arch, rng, input)`` makes one from its
architecture dict (``{"model": "mlp", "n_in": 784, ...}``), which is what a saved model records.
"""

import numpy

from dltut.layers import HiddenLayer, LeNetConvPoolLayer, LogisticRegression, tanh


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


class LeNet5:
    """LeNet: two convolution + max-pooling layers, a tanh hidden layer and a logistic layer.

    ``input`` is a (batch_size, 784) minibatch of rasterized 28x28 digits; ``batch_size`` is fixed
    because the convolution's shapes are static. With 5x5 filters and 2x2 pooling the maps shrink
    28 -> (28 - 5 + 1) / 2 = 12 -> (12 - 5 + 1) / 2 = 4, so the hidden layer sees
    ``nkerns[1] * 4 * 4`` inputs; that size is computed from the layers' output shapes.

    Draw order (what ``RandomState(23455)`` gives the tutorial's weights): all of layer 0's
    filters, then layer 1's, then the hidden layer's ``W``; the logistic layer draws nothing.
    ``params`` is in the tutorial's order, top layer first.
    """

    def __init__(self, rng, input, batch_size, nkerns=(20, 50), n_hidden=500, n_out=10):
        layer0_input = input.reshape((batch_size, 1) + IMAGE_SHAPE)
        self.layer0 = LeNetConvPoolLayer(
            rng, input=layer0_input, image_shape=(batch_size, 1) + IMAGE_SHAPE,
            filter_shape=(nkerns[0], 1) + FILTER_SHAPE, poolsize=POOL_SIZE, name="conv0",
        )
        self.layer1 = LeNetConvPoolLayer(
            rng, input=self.layer0.output, image_shape=self.layer0.output_shape,
            filter_shape=(nkerns[1], nkerns[0]) + FILTER_SHAPE, poolsize=POOL_SIZE, name="conv1",
        )
        n_features = int(numpy.prod(self.layer1.output_shape[1:]))  # nkerns[1] * 4 * 4
        self.layer2 = HiddenLayer(rng, input=self.layer1.output.flatten(2), n_in=n_features,
                                  n_out=n_hidden, activation=tanh, name="hidden")
        self.layer3 = LogisticRegression(input=self.layer2.output, n_in=n_hidden, n_out=n_out,
                                         name="logreg")
        self.negative_log_likelihood = self.layer3.negative_log_likelihood
        self.errors = self.layer3.errors
        self.p_y_given_x = self.layer3.p_y_given_x
        self.y_pred = self.layer3.y_pred
        self.params = (self.layer3.params + self.layer2.params + self.layer1.params
                       + self.layer0.params)
        self.input = input


IMAGE_SHAPE = (28, 28)  # an MNIST digit
FILTER_SHAPE = (5, 5)  # LeNet's receptive fields
POOL_SIZE = (2, 2)  # max-pooling windows


def _logistic_regression(rng, input, n_in, n_out):
    return LogisticRegression(input=input, n_in=n_in, n_out=n_out, name="logreg")


ARCHITECTURES = {
    "logistic_regression": _logistic_regression,
    "mlp": MLP,
    "lenet5": LeNet5,
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
