"""Logistic regression on MNIST, minibatch SGD with early stopping (the tutorial's logistic_sgd.py).

``LogisticRegression`` builds the softmax classifier on a symbolic ``input`` and is the top layer of
the MLP and of LeNet; ``sgd_optimization_mnist`` trains it on MNIST with the tutorial's settings.
"""

import logging

from dltut import data, engine
from dltut.engine import T
from dltut.fitting import N_OUT, check_draws_nothing, fit, input_size, prepare
from dltut.trainer import EarlyStopping

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
    options = prepare(options)
    datasets = data.load_shared(dataset)
    arch = {"model": "logistic_regression", "n_in": input_size(datasets), "n_out": N_OUT}
    result = fit(arch, None, datasets, {"learning_rate": learning_rate, "batch_size": batch_size},
                 EarlyStopping(n_epochs=n_epochs, patience=patience), options,
                 training_message="... training the model")
    log.info(
        "Optimization complete with best validation score of %f %%,with test performance %f %%",
        result.best_validation_loss * 100.0, result.test_score * 100.0,
    )
    log.info("The code run for %d epochs, with %f epochs/sec", result.epochs,
             result.epochs_per_second)
    log.info("The code ran for %.1fs", result.elapsed)
    return result
