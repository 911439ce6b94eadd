"""A multilayer perceptron on MNIST (the tutorial's mlp.py).

``HiddenLayer`` is a fully connected tanh (or sigmoid) layer; ``MLP`` puts one under the
``LogisticRegression`` of logistic_sgd; ``test_mlp`` trains it with the tutorial's L1/L2 cost
and seed.
"""

import logging

import numpy

from dltut import data, engine
from dltut.engine import T
from dltut.fitting import (N_OUT, check_architecture, check_batch_size, check_seed, check_sgd_settings, input_size,
                           prepare, train_functions)
from dltut.trainer import EarlyStopping, Minibatches
from dltut.tutorials.logistic_sgd import LogisticRegression

log = logging.getLogger(__name__)


def tanh(x):
    """The hyperbolic tangent, the tutorials' default activation."""
    return T.tanh(x)


def sigmoid(x):
    """The logistic sigmoid (``T.nnet.sigmoid`` in Theano, ``T.sigmoid`` in PyTensor)."""
    return T.nnet.sigmoid(x) if engine.name() == "theano" else T.sigmoid(x)


class HiddenLayer:
    """A fully connected layer: ``output = activation(dot(input, W) + b)``.

    .. math::
        h = \\tanh(x W + b)

    ``W`` (n_in, n_out) is drawn uniform in :math:`\\pm\\sqrt{6 / (n_in + n_out)}` by one
    ``rng.uniform`` call, then multiplied by 4 for the sigmoid (whose slope at zero is 1/4); ``b`` is
    zero. ``activation=None`` gives a linear layer, as in the tutorial.
    """

    def __init__(self, rng, input, n_in, n_out, W=None, b=None, activation=tanh, name="hidden"):
        self.input = input
        if W is None:
            bound = numpy.sqrt(6.0 / (n_in + n_out))
            W_values = numpy.asarray(
                rng.uniform(low=-bound, high=bound, size=(n_in, n_out)), dtype=engine.floatX()
            )
            if activation is sigmoid:
                W_values *= 4
            # of static shape: JAX mode needs the shapes of samples drawn from the layer's
            # codes as constants (the stacked networks' dAs and RBMs)
            W = engine.shared(W_values, name=f"W_{name}", static_shape=True)
        self.W = W
        self.b = b if b is not None else engine.shared_zeros((n_out,), f"b_{name}")
        lin_output = T.dot(input, self.W) + self.b
        self.output = lin_output if activation is None else activation(lin_output)
        self.params = [self.W, self.b]


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


def test_mlp(learning_rate=0.01, L1_reg=0.00, L2_reg=0.0001, n_epochs=1000, dataset=None,
             batch_size=20, n_hidden=500, *, patience=10000, seed=1234, **options):
    """A one-hidden-layer perceptron on MNIST (mlp.py), seeded with ``RandomState(seed)``: the
    tutorial's 1234 by default.

    The cost is the negative log-likelihood plus ``L1_reg * L1 + L2_reg * L2_sqr``.
    ``options`` are the fields of ``fitting.Options``.
    """
    check_seed(seed)
    check_sgd_settings(learning_rate, batch_size)
    options = prepare(options)
    datasets = data.load_shared(dataset)
    check_batch_size(datasets, batch_size)

    train_set_x, train_set_y = datasets[0]
    valid_set_x, valid_set_y = datasets[1]
    test_set_x, test_set_y = datasets[2]

    # compute number of minibatches for training, validation and testing
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
    n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size

    log.info("... building the model")
    index = T.lscalar()  # index to a [mini]batch
    x = T.matrix("x")  # the data is presented as rasterized images
    y = T.ivector("y")  # the labels are presented as 1D vector of [int] labels

    rng = numpy.random.RandomState(seed)
    n_in = input_size(datasets)  # 28 * 28 for MNIST
    arch = check_architecture({"model": "mlp", "n_in": n_in, "n_hidden": n_hidden, "n_out": N_OUT})
    classifier = MLP(rng=rng, input=x, n_in=n_in, n_hidden=n_hidden, n_out=N_OUT)

    # the cost we minimize during training: the negative log likelihood of the model plus the
    # regularization terms (L1 and L2); a term whose coefficient is 0 costs nothing (the
    # engine's rewrites drop it)
    cost = (
        classifier.negative_log_likelihood(y)
        + L1_reg * classifier.L1
        + L2_reg * classifier.L2_sqr
    )

    # the mistakes the model makes on a minibatch
    test_model = engine.function(
        inputs=[index],
        outputs=classifier.errors(y),
        givens={
            x: test_set_x[index * batch_size:(index + 1) * batch_size],
            y: test_set_y[index * batch_size:(index + 1) * batch_size],
        },
        name="test_model",
    )
    validate_model = engine.function(
        inputs=[index],
        outputs=classifier.errors(y),
        givens={
            x: valid_set_x[index * batch_size:(index + 1) * batch_size],
            y: valid_set_y[index * batch_size:(index + 1) * batch_size],
        },
        name="validate_model",
    )

    # the gradient of the cost with respect to theta (sorted in params)
    gparams = [engine.grad(cost, param) for param in classifier.params]

    # how to update the parameters: a list of (variable, update expression) pairs
    updates = [
        (param, param - learning_rate * gparam)
        for param, gparam in zip(classifier.params, gparams)
    ]

    # train_model returns the cost and updates the parameters as ``updates`` says
    train_model = engine.function(
        inputs=[index],
        outputs=cost,
        updates=updates,
        givens={
            x: train_set_x[index * batch_size: (index + 1) * batch_size],
            y: train_set_y[index * batch_size: (index + 1) * batch_size],
        },
        name="train_model",
    )

    log.info("... training")
    # the early-stopping loop, shared by every tutorial (dltut.trainer)
    model = Minibatches(train_model, validate_model, test_model, n_train_batches,
                        n_valid_batches, n_test_batches, classifier.params, fused=options.fused)
    result = train_functions(
        model, classifier, arch,
        {"learning_rate": learning_rate, "batch_size": batch_size, "L1_reg": L1_reg,
         "L2_reg": L2_reg, "seed": seed},
        EarlyStopping(n_epochs=n_epochs, patience=patience), options)
    log.info(
        "Optimization complete. Best validation score of %f %% obtained at iteration %i, "
        "with test performance %f %%",
        result.best_validation_loss * 100.0, result.best_iter + 1, result.test_score * 100.0,
    )
    log.info("The code ran for %.2fm", result.elapsed / 60.0)
    return result


test_mlp.__test__ = False  # the tutorial's name, not a pytest test
