"""LeNet5, a convolutional network, on MNIST (the tutorial's convolutional_mlp.py).

``LeNetConvPoolLayer`` is a convolution, max-pooling, bias and tanh; ``LeNet5`` stacks two of
them under the MLP's ``HiddenLayer`` and the ``LogisticRegression`` of logistic_sgd;
``evaluate_lenet5`` trains it with the tutorial's settings and seed.
"""

import logging

import numpy

from dltut import data, engine, ops
from dltut.engine import T
from dltut.fitting import (N_OUT, check_architecture, check_batch_size, check_seed, check_sgd_settings, prepare,
                           train_functions)
from dltut.trainer import EarlyStopping, Minibatches
from dltut.tutorials.logistic_sgd import LogisticRegression
from dltut.tutorials.mlp import HiddenLayer, tanh

log = logging.getLogger(__name__)

IMAGE_SHAPE = (28, 28)  # an MNIST digit
FILTER_SHAPE = (5, 5)  # LeNet's receptive fields
POOL_SIZE = (2, 2)  # max-pooling windows


class LeNetConvPoolLayer:
    """A convolution with a bank of filters, then max-pooling, a bias and tanh.

    .. math::
        h = \\tanh(pool(W * x) + b)

    ``input`` has shape ``image_shape`` (batch, channels, rows, cols); ``W`` has
    ``filter_shape`` (n_filters, channels, f_rows, f_cols) and is drawn uniform in
    :math:`\\pm\\sqrt{6 / (fan_{in} + fan_{out})}` by one ``rng.uniform`` call, where each hidden
    unit sees ``fan_in = channels * f_rows * f_cols`` inputs and sends gradients to
    ``fan_out = n_filters * f_rows * f_cols // pool area`` (integer division, as in the tutorial).
    ``b`` (one per filter) is zero. ``self.output_shape`` is the shape of ``self.output``.
    """

    def __init__(self, rng, input, filter_shape, image_shape, poolsize=(2, 2), name="conv0"):
        conv_shape = ops.conv_output_shape(image_shape, filter_shape)  # checks the channels
        self.output_shape = ops.pool_output_shape(conv_shape, poolsize)
        self.input = input
        fan_in = int(numpy.prod(filter_shape[1:]))
        fan_out = filter_shape[0] * int(numpy.prod(filter_shape[2:])) // int(numpy.prod(poolsize))
        bound = numpy.sqrt(6.0 / (fan_in + fan_out))
        W_values = numpy.asarray(rng.uniform(low=-bound, high=bound, size=filter_shape),
                                 dtype=engine.floatX())
        self.W = engine.shared(W_values, name=f"W_{name}")
        self.b = engine.shared_zeros((filter_shape[0],), f"b_{name}")
        conv_out = ops.conv2d(input, self.W, input_shape=image_shape, filter_shape=filter_shape)
        pooled_out = ops.pool_2d(conv_out, ws=poolsize, ignore_border=True)
        # the bias is one number per feature map, broadcast over batch, rows and columns
        self.output = T.tanh(pooled_out + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]


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


def evaluate_lenet5(learning_rate=0.1, n_epochs=200, dataset=None, nkerns=(20, 50), batch_size=500,
                    *, patience=10000, seed=23455, **options):
    """LeNet5 on MNIST (convolutional_mlp.py), seeded with ``RandomState(seed)``: the tutorial's
    23455 by default.

    Two convolution + max-pooling layers with ``nkerns`` filters each, a 500-unit tanh layer and a
    logistic layer; logs ``training @ iter = %i`` every 100 updates as the tutorial does.
    ``options`` are the fields of ``fitting.Options``.
    """
    check_seed(seed)
    check_sgd_settings(learning_rate, batch_size)
    options = prepare(options)
    rng = numpy.random.RandomState(seed)
    datasets = data.load_shared(dataset)
    check_batch_size(datasets, batch_size)

    train_set_x, train_set_y = datasets[0]
    valid_set_x, valid_set_y = datasets[1]
    test_set_x, test_set_y = datasets[2]

    # compute number of minibatches for training, validation and testing
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
    n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()  # index to a [mini]batch
    x = T.matrix("x")  # the data is presented as rasterized images
    y = T.ivector("y")  # the labels are presented as 1D vector of [int] labels

    log.info("... building the model")
    arch = check_architecture({"model": "lenet5", "batch_size": batch_size,
                               "nkerns": [int(n) for n in nkerns], "n_hidden": 500, "n_out": N_OUT})
    # two convolution + pooling layers, a tanh layer and a logistic layer (LeNet5 above)
    classifier = LeNet5(rng, input=x, batch_size=batch_size, nkerns=nkerns)

    # the cost we minimize during training is the NLL of the model
    cost = classifier.negative_log_likelihood(y)

    # the mistakes the model makes on a minibatch
    test_model = engine.function(
        [index],
        classifier.errors(y),
        givens={
            x: test_set_x[index * batch_size: (index + 1) * batch_size],
            y: test_set_y[index * batch_size: (index + 1) * batch_size],
        },
        name="test_model",
    )
    validate_model = engine.function(
        [index],
        classifier.errors(y),
        givens={
            x: valid_set_x[index * batch_size: (index + 1) * batch_size],
            y: valid_set_y[index * batch_size: (index + 1) * batch_size],
        },
        name="validate_model",
    )

    # all the parameters to fit (top layer first) and their gradients
    params = classifier.params
    grads = engine.grad(cost, params)

    # one SGD update for each (params[i], grads[i]) pair
    updates = [
        (param_i, param_i - learning_rate * grad_i)
        for param_i, grad_i in zip(params, grads)
    ]
    train_model = engine.function(
        [index],
        cost,
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
                        n_valid_batches, n_test_batches, params, fused=options.fused)
    result = train_functions(
        model, classifier, arch,
        {"learning_rate": learning_rate, "batch_size": batch_size, "seed": seed},
        EarlyStopping(n_epochs=n_epochs, patience=patience), options, log_every=100)
    log.info("Optimization complete.")
    log.info("Best validation score of %f %% obtained at iteration %i, with test performance %f %%",
             result.best_validation_loss * 100.0, result.best_iter + 1, result.test_score * 100.0)
    log.info("The code ran for %.2fm", result.elapsed / 60.0)
    return result
