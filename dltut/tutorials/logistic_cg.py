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
from dltut.engine import T
from dltut.fitting import (N_OUT, check_batch_size, check_draws_nothing, check_positive_integers,
                           input_size, prepare)
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


class TrainingObjective:
    """The objective ``fmin_cg`` minimises and its gradient, from one pass over the minibatches.

    .. math::
        f(\\theta) = \\frac{1}{B} \\sum_{i=1}^{B} \\ell(\\theta, \\mathcal{D}_i)

    the mean over the ``B`` training minibatches of their mean negative log-likelihood, and the
    mean of their gradients, as the tutorial's ``train_fn`` and ``train_fn_grad`` computed them
    (NumPy's mean of the minibatches' costs; their gradients summed in minibatch order, then
    divided by ``B``). ``batch_cost_and_grad`` is the compiled function of a minibatch index that
    returns the minibatch's cost and its gradient with respect to ``theta`` (the tutorial's
    ``batch_cost`` and ``batch_grad`` as one function): each minibatch is read once for both, and
    where the function can run all the indices as one call (``over``, in JAX mode) it does.
    ``fmin_cg`` asks for the value and the gradient at the same ``theta`` separately: the last
    evaluation is kept, so each ``theta`` costs one pass. ``calls`` counts the passes.
    """

    def __init__(self, batch_cost_and_grad, theta, n_train_batches):
        self.batch_cost_and_grad, self.theta = batch_cost_and_grad, theta
        self.n_train_batches = n_train_batches
        self.calls = 0
        self._last = (None, None, None)  # theta, cost, gradient

    def evaluate(self, theta_value):
        """``(cost, gradient)`` at ``theta_value``; ``theta`` is left set to it."""
        last_theta, cost, gradient = self._last
        if last_theta is None or not numpy.array_equal(last_theta, theta_value):
            self.theta.set_value(numpy.asarray(theta_value, dtype=engine.floatX()))
            if hasattr(self.batch_cost_and_grad, "over"):
                costs, grads = self.batch_cost_and_grad.over(0, self.n_train_batches)
            else:
                costs, grads = zip(*[self.batch_cost_and_grad(i)
                                     for i in range(self.n_train_batches)])
            # NumPy values for scipy, whatever the mode computed them in (JAX gives its arrays)
            grads = numpy.asarray(grads)
            grad = grads[0].copy()
            for i in range(1, self.n_train_batches):
                grad += grads[i]
            self.calls += 1
            self._last = (numpy.array(theta_value), numpy.mean(numpy.asarray(costs))[()],
                          grad / self.n_train_batches)
        return self._last[1:]

    def cost(self, theta_value):  # scipy's float64, whatever floatX computed it in
        return numpy.float64(self.evaluate(theta_value)[0])

    def gradient(self, theta_value):
        return numpy.asarray(self.evaluate(theta_value)[1], dtype="float64")


def mean_error(model, n_batches):
    """The tutorial's ``numpy.mean([model(i) for i in range(n_batches)])``: the zero-one loss of a
    split, in float64; one call over the split where ``model`` can run all its indices as one
    (``over``, in JAX mode)."""
    if hasattr(model, "over"):
        losses = model.over(0, n_batches)
    else:
        losses = [model(i) for i in range(n_batches)]
    return numpy.mean(numpy.asarray(losses, dtype=numpy.float64))


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
    process), as the original runs in float64 only, and dltut's default again afterwards.
    ``seed`` is None: it draws nothing (``theta`` starts at zero). Returns a ``CGResult``.
    """
    check_draws_nothing(seed, "the conjugate-gradient logistic regression")
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive integer (the most fmin_cg iterations), "
                         f"got {n_epochs!r}")
    check_positive_integers(batch_size=batch_size)
    options = prepare(options, only=RUN_OPTIONS)
    # the original runs in float64 only: in float32 its shared theta refuses fmin_cg's float64
    # iterates (a TypeError at the first iteration, on theano-pymc); a floatX chosen stands
    with engine.floatX_unless_chosen("float64"):
        log.debug("floatX %s (the original logistic_cg.py runs in float64)", engine.floatX())
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

        # construct the logistic regression class; each MNIST image has size 28*28
        classifier = LogisticRegression(input=x, n_in=input_size(datasets), n_out=N_OUT)

        # the cost we minimize during training is the negative log likelihood of the model
        cost = classifier.negative_log_likelihood(y).mean()

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

        # the cost of a minibatch and its gradient with respect to theta: the tutorial's
        # batch_cost and batch_grad as one function, which reads the minibatch once for both
        batch_cost_and_grad = engine.function(
            inputs=[index],
            outputs=[cost, engine.grad(cost, classifier.theta)],
            givens={
                x: train_set_x[index * batch_size:(index + 1) * batch_size],
                y: train_set_y[index * batch_size:(index + 1) * batch_size],
            },
            name="batch_cost_and_grad",
        )

        # the average cost on the training set and its gradient with respect to theta (the
        # tutorial's train_fn and train_fn_grad): one pass over the minibatches for both
        objective = TrainingObjective(batch_cost_and_grad, classifier.theta, n_train_batches)
        train_fn, train_fn_grad = objective.cost, objective.gradient

        history, best = [], {"validation": numpy.inf, "iter": 0, "test": 0.0, "theta": None}

        # the validation function, called after each iteration: on a new best, the test error
        def callback(theta_value):
            classifier.theta.set_value(numpy.asarray(theta_value, dtype=engine.floatX()))
            this_validation_loss = mean_error(validate_model, n_valid_batches)
            history.append(this_validation_loss)
            log.info("validation error %f %%", this_validation_loss * 100.0)
            if this_validation_loss < best["validation"]:
                best.update(validation=this_validation_loss, iter=len(history),
                            test=mean_error(test_model, n_test_batches),
                            theta=numpy.array(theta_value))

        # in JAX mode, each pass compiled before the clock starts (the other modes compile as
        # they build)
        for function, count in ((batch_cost_and_grad, n_train_batches),
                                (validate_model, n_valid_batches), (test_model, n_test_batches)):
            if hasattr(function, "compile_ahead"):
                function.compile_ahead([count])

        log.info("Optimizing using scipy.optimize.fmin_cg...")
        start_time = timeit.default_timer()
        # scipy's line search keeps its iterates in x0's dtype: float64 (its step bounds
        # overflow float32); the objective casts each iterate to floatX
        theta = scipy.optimize.fmin_cg(
            f=train_fn,
            x0=numpy.zeros(classifier.theta.get_value(borrow=True).shape, dtype="float64"),
            fprime=train_fn_grad, callback=callback, disp=0, maxiter=n_epochs,
        )
        theta = numpy.asarray(theta, dtype=engine.floatX())
        elapsed = timeit.default_timer() - start_time
        log.info("Optimization complete with best validation score of %f %%, with test "
                 "performance %f %%", best["validation"] * 100.0, best["test"] * 100.0)
        log.info("The code for file %s ran for %.1fs", os.path.basename(__file__), elapsed)
        if best["theta"] is not None:
            classifier.theta.set_value(numpy.asarray(best["theta"], dtype=engine.floatX()))
        return CGResult(history, best["validation"], best["iter"], best["test"], len(history),
                        objective.calls, elapsed, theta, classifier)
