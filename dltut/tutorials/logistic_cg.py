"""Logistic regression on MNIST by conjugate gradients (the tutorial's logistic_cg.py).

The model is the softmax classifier of ``logistic_sgd``, but its ``W`` and ``b`` are views of one
flat shared vector ``theta``, the form ``scipy.optimize.fmin_cg`` works on. Each evaluation of the
objective is the mean, over the training minibatches, of each minibatch's mean negative
log-likelihood, and its gradient with respect to ``theta``; after each conjugate-gradient iteration
a callback measures the validation error and, on a new best, the test error. Suited to smaller
data sets: every evaluation reads the whole training set.

Reference: C. Bishop, Pattern Recognition and Machine Learning, section 4.3.2.
"""

import dataclasses
import logging
import os
import timeit

import numpy
import scipy.optimize

from dltut import data, engine
from dltut.compiled import CompiledCost, CompiledModel, minibatch
from dltut.engine import T
from dltut.fitting import (N_OUT, check_draws_nothing, check_positive_integers, input_size,
                           prepare)
from dltut.tutorials import logistic_sgd

log = logging.getLogger(__name__)

BATCH_SIZE = 600  # the tutorial's minibatch: the objective is a mean over minibatch means
RUN_OPTIONS = ("floatX", "mode", "device", "tf32")  # the fitting.Options it takes


class LogisticRegression(logistic_sgd.LogisticRegression):
    """``logistic_sgd.LogisticRegression`` with its parameters in one flat vector ``theta``.

    .. math::
        \\theta = (W_{1,1}, \\dots, W_{n_{in}, n_{out}}, b_1, \\dots, b_{n_{out}})

    ``W`` is the first ``n_in * n_out`` entries of ``theta`` reshaped to (n_in, n_out), row by
    row; ``b`` the last ``n_out``. ``theta`` starts at zero, as in the tutorial, and is the only
    parameter: ``params`` is ``[theta]``.
    """

    def __init__(self, input, n_in, n_out, name="logreg_cg"):
        n_weights = n_in * n_out
        self.theta = engine.shared(numpy.zeros(n_weights + n_out, dtype=engine.floatX()),
                                   f"theta_{name}")
        # theta's length stated, so that its views' shapes are known when JAX compiles
        flat = T.specify_shape(self.theta, (n_weights + n_out,))
        super().__init__(input, n_in, n_out, W=flat[:n_weights].reshape((n_in, n_out)),
                         b=flat[n_weights:], name=name)
        self.params = [self.theta]


class _MinibatchSums(CompiledCost):
    """One call over the training minibatches: their costs, and the sum of their gradients
    (``gradient_sum``, added to in minibatch order, from what it holds). ``CompiledCost``'s
    fused loop, each minibatch given its labels too."""

    def __init__(self, x, y, cost, theta, train_x, train_y, batch_size):
        self.gradient_sum = engine.shared(numpy.zeros_like(theta.get_value()), "gradient_sum")
        engine.place_data([train_y])
        self.y, self.train_y = y, train_y
        updates = [(self.gradient_sum, self.gradient_sum + engine.grad(cost, theta))]
        super().__init__(x, cost, updates, train_x, batch_size, fused=True)

    def _train_givens(self, index):
        givens = super()._train_givens(index)
        givens[self.y] = minibatch(self.train_y, index, self.batch_size, self.n_train_batches)
        return givens


class TrainingObjective:
    """The objective ``fmin_cg`` minimises and its gradient, both from one compiled call.

    .. math::
        f(\\theta) = \\frac{1}{B} \\sum_{i=1}^{B} \\ell(\\theta, \\mathcal{D}_i)

    the mean over the ``B`` training minibatches of their mean negative log-likelihood, and the
    mean of their gradients, as the tutorial's ``train_fn`` and ``train_fn_grad`` computed them
    (NumPy's mean of the minibatches' costs; their gradients summed in minibatch order, then
    divided by ``B``), but in one call over the training set instead of one call per minibatch
    and function: a loop over the minibatches (in JAX mode a ``JaxLoop``), each read once for
    its cost and its gradient. ``fmin_cg`` asks for the value and the gradient at the same
    ``theta`` separately: the last evaluation is kept, so each ``theta`` costs one call.
    ``calls`` counts the calls.
    """

    def __init__(self, classifier, x, y, train_x, train_y, batch_size):
        cost = classifier.negative_log_likelihood(y)  # one minibatch's mean
        self.theta = classifier.theta
        self.sums = _MinibatchSums(x, y, cost, classifier.theta, train_x, train_y, batch_size)
        self.calls = 0
        self._last = (None, None, None)  # theta, cost, gradient

    def prepare(self):
        """Compile the loop now (in JAX mode; the other modes compile as they build)."""
        self.sums.prepare([self.sums.n_train_batches])

    def evaluate(self, theta_value):
        """``(cost, gradient)`` at ``theta_value``; ``theta`` is left set to it."""
        last_theta, cost, gradient = self._last
        if last_theta is None or not numpy.array_equal(last_theta, theta_value):
            self.theta.set_value(numpy.asarray(theta_value, dtype=engine.floatX()))
            sums, n_batch = self.sums, self.sums.n_train_batches
            sums.gradient_sum.set_value(numpy.zeros_like(sums.gradient_sum.get_value()))
            costs = numpy.asarray(sums.train_minibatches(0, n_batch))
            self.calls += 1
            # NumPy values for scipy, whatever the mode computed them in (JAX gives its arrays)
            self._last = (numpy.array(theta_value), numpy.mean(costs)[()],
                          numpy.asarray(sums.gradient_sum.get_value()) / n_batch)
        return self._last[1:]

    def cost(self, theta_value):
        return self.evaluate(theta_value)[0]

    def gradient(self, theta_value):
        return self.evaluate(theta_value)[1]


@dataclasses.dataclass
class CGResult:
    """What ``cg_optimization_mnist`` found."""

    history: list  # the validation error after each conjugate-gradient iteration, as logged
    best_validation_loss: float  # the lowest of history (inf if no iteration ran)
    best_iter: int  # the iteration that reached it, counted from 1 (0 if none)
    test_score: float  # test error of the model of best_validation_loss
    iterations: int  # iterations done (at most n_epochs)
    function_calls: int  # evaluations of the training objective and its gradient
    elapsed: float  # seconds spent in fmin_cg, as logged ("ran for")
    theta: numpy.ndarray  # where fmin_cg stopped (the last iterate, not the best)
    model: LogisticRegression  # the classifier, with the best iterate's theta set


def cg_optimization_mnist(n_epochs=50, dataset=None, *, batch_size=BATCH_SIZE, seed=None,
                          **options):
    """Logistic regression on MNIST by ``scipy.optimize.fmin_cg`` (logistic_cg.py).

    Runs at most ``n_epochs`` conjugate-gradient iterations from ``theta = 0`` on the objective of
    ``TrainingObjective`` (minibatches of ``batch_size``, the tutorial's 600, matter only as the
    unit of its mean). After each iteration logs ``validation error %f %%`` and keeps the best
    iterate and its test error; logs the tutorial's closing lines. Unlike the tutorial, the best
    iterate's ``theta`` is set into the returned model (the tutorial computed its test error, then
    dropped it). ``options`` are ``floatX``, ``mode``, ``device`` and ``tf32`` (of
    ``fitting.Options``); floatX is float64 unless chosen (here, by the engine's flags or in this
    process), as the original runs in float64 only, and dltut's default again afterwards. ``seed`` is None: it draws nothing (``theta``
    starts at zero). Returns a ``CGResult``.
    """
    check_draws_nothing(seed, "the conjugate-gradient logistic regression")
    if options.get("floatX") is not None:
        return _cg_optimization_mnist(n_epochs, dataset, batch_size, options)
    # the original runs in float64 only: in float32 its shared theta refuses fmin_cg's float64
    # iterates (a TypeError at the first iteration, on theano-pymc)
    with engine.floatX_unless_chosen("float64"):
        log.debug("floatX %s (the original logistic_cg.py runs in float64)", engine.floatX())
        return _cg_optimization_mnist(n_epochs, dataset, batch_size, options)


def _cg_optimization_mnist(n_epochs, dataset, batch_size, options):
    options = prepare(options, only=RUN_OPTIONS)
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive integer (the most fmin_cg iterations), "
                         f"got {n_epochs!r}")
    check_positive_integers(batch_size=batch_size)
    datasets = data.load_shared(dataset)
    log.info("... building the model")
    x = T.matrix("x")  # the data, presented as rasterized images
    y = T.ivector("y")  # the labels, presented as a vector of int labels
    classifier = LogisticRegression(input=x, n_in=input_size(datasets), n_out=N_OUT)
    # the validation and test errors, per minibatch as in the tutorial (no training function)
    evaluation = CompiledModel(x, y, classifier.negative_log_likelihood(y), classifier.y_pred,
                               classifier.params, [], datasets, batch_size, fused=True)
    objective = TrainingObjective(classifier, x, y, *datasets[0], batch_size)
    evaluation.prepare()  # in JAX mode, compiled before the clock starts
    objective.prepare()

    history, best = [], {"validation": numpy.inf, "iter": 0, "test": 0.0, "theta": None}

    def callback(theta_value):
        classifier.theta.set_value(numpy.asarray(theta_value, dtype=engine.floatX()))
        this_validation_loss = evaluation.validation_loss()
        history.append(this_validation_loss)
        log.info("validation error %f %%", this_validation_loss * 100.0)
        if this_validation_loss < best["validation"]:
            best.update(validation=this_validation_loss, iter=len(history),
                        test=evaluation.test_score(), theta=numpy.array(theta_value))

    log.info("Optimizing using scipy.optimize.fmin_cg...")
    start_time = timeit.default_timer()
    theta = scipy.optimize.fmin_cg(
        f=objective.cost,
        x0=numpy.zeros(classifier.theta.get_value(borrow=True).shape, dtype=engine.floatX()),
        fprime=objective.gradient, callback=callback, disp=0, maxiter=n_epochs,
    )
    elapsed = timeit.default_timer() - start_time
    log.info("Optimization complete with best validation score of %f %%, with test performance "
             "%f %%", best["validation"] * 100.0, best["test"] * 100.0)
    log.info("The code for file %s ran for %.1fs", os.path.basename(__file__), elapsed)
    if best["theta"] is not None:
        classifier.theta.set_value(numpy.asarray(best["theta"], dtype=engine.floatX()))
    return CGResult(history, best["validation"], best["iter"], best["test"], len(history),
                    objective.calls, elapsed, theta, classifier)
