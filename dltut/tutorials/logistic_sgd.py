"""Logistic regression on MNIST, minibatch SGD with early stopping (the tutorial's logistic_sgd.py).

``LogisticRegression`` builds the softmax classifier on a symbolic ``input`` and is the top layer of
the MLP and of LeNet; ``sgd_optimization_mnist`` trains it on MNIST with the tutorial's settings.
"""

import logging

from dltut import data, engine
from dltut.engine import T
from dltut.fitting import (N_OUT, check_architecture, check_batch_size, check_draws_nothing, check_sgd_settings,
                           input_size, prepare, train_functions)
from dltut.trainer import EarlyStopping, Minibatches

log = logging.getLogger(__name__)


class LogisticRegression:
    """Multi-class logistic regression: a softmax over affine projections of the input.

    .. math::
        P(Y=i|x, W, b) = softmax_i(W x + b) = \\frac{e^{W_i x + b_i}}{\\sum_j e^{W_j x + b_j}}

        y_{pred} = argmax_i P(Y=i|x, W, b)

    ``W`` (n_in, n_out) and ``b`` (n_out,) start at zero, as in the tutorial; no random draw.
    """

    def __init__(self, input, n_in, n_out, W=None, b=None, name="logreg"):
        self.input = input
        self.W = W if W is not None else engine.shared_zeros((n_in, n_out), f"W_{name}")
        self.b = b if b is not None else engine.shared_zeros((n_out,), f"b_{name}")
        # one row per example, one column per class
        self.p_y_given_x = engine.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.output = self.p_y_given_x
        self.params = [self.W, self.b]

    def negative_log_likelihood(self, y):
        """Mean negative log-likelihood of the labels ``y`` over the minibatch.

        .. math::
            \\ell(\\theta=\\{W,b\\}, \\mathcal{D}) = -\\frac{1}{|\\mathcal{D}|}
                \\sum_{i=0}^{|\\mathcal{D}|} \\log P(Y=y^{(i)}|x^{(i)}, W, b)

        The mean, not the sum, keeps the learning rate less dependent on the batch size.
        """
        # log P of the correct class of each row: LP[arange(n), y]
        log_p = T.log(self.p_y_given_x)
        return -T.mean(log_p[T.arange(y.shape[0]), y])

    def errors(self, y):
        """The zero-one loss: fraction of the minibatch whose predicted label differs from ``y``."""
        if y.ndim != self.y_pred.ndim:
            raise TypeError(f"y must be a vector of labels like y_pred, got {y.type}")
        if not y.dtype.startswith("int"):
            raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
        return T.mean(T.neq(self.y_pred, y))


def sgd_optimization_mnist(learning_rate=0.13, n_epochs=1000, dataset=None, batch_size=600, *,
                           patience=5000, seed=None, **options):
    """Logistic regression on MNIST by minibatch SGD with early stopping (logistic_sgd.py).

    With the defaults this reproduces the tutorial's published run: best validation error 7.5 %
    and test error 7.489583 % after 74 epochs. ``seed`` is None: the logistic regression draws
    nothing (its weights start at zero), so there is no seed to choose. ``options`` are the fields
    of ``fitting.Options``.
    """
    check_draws_nothing(seed, "the logistic regression")
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
    x = T.matrix("x")  # data, presented as rasterized images
    y = T.ivector("y")  # labels, presented as 1D vector of [int] labels

    # each MNIST image has size 28*28
    n_in = input_size(datasets)
    arch = check_architecture({"model": "logistic_regression", "n_in": n_in, "n_out": N_OUT})
    classifier = LogisticRegression(input=x, n_in=n_in, n_out=N_OUT)

    # the cost we minimize during training is the negative log likelihood of the model
    cost = classifier.negative_log_likelihood(y)

    # the mistakes the model makes on a minibatch
    test_model = engine.function(
        inputs=[index],
        outputs=classifier.errors(y),
        givens={
            x: test_set_x[index * batch_size: (index + 1) * batch_size],
            y: test_set_y[index * batch_size: (index + 1) * batch_size],
        },
        name="test_model",
    )
    validate_model = engine.function(
        inputs=[index],
        outputs=classifier.errors(y),
        givens={
            x: valid_set_x[index * batch_size: (index + 1) * batch_size],
            y: valid_set_y[index * batch_size: (index + 1) * batch_size],
        },
        name="validate_model",
    )

    # the gradient of the cost with respect to theta = (W, b)
    g_W = engine.grad(cost=cost, wrt=classifier.W)
    g_b = engine.grad(cost=cost, wrt=classifier.b)

    # how the parameters are updated: a list of (variable, update expression) pairs
    updates = [(classifier.W, classifier.W - learning_rate * g_W),
               (classifier.b, classifier.b - learning_rate * g_b)]

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

    log.info("... training the model")
    # the early-stopping loop, shared by every tutorial (dltut.trainer)
    model = Minibatches(train_model, validate_model, test_model, n_train_batches,
                        n_valid_batches, n_test_batches, classifier.params, fused=options.fused)
    result = train_functions(
        model, classifier, arch,
        {"learning_rate": learning_rate, "batch_size": batch_size},
        EarlyStopping(n_epochs=n_epochs, patience=patience), options)
    log.info(
        "Optimization complete with best validation score of %f %%,with test performance %f %%",
        result.best_validation_loss * 100.0, result.test_score * 100.0,
    )
    log.info("The code run for %d epochs, with %f epochs/sec", result.epochs,
             result.epochs_per_second)
    log.info("The code ran for %.1fs", result.elapsed)
    return result
