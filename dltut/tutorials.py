"""The tutorials' entry points, named and defaulted as in the original code.

* ``sgd_optimization_mnist``: logistic regression (logistic_sgd.py)
* ``test_mlp``: multilayer perceptron (mlp.py)

Each loads MNIST into shared variables, builds the model with the tutorial's seed, compiles
``train_model`` / ``validate_model`` / ``test_model``, runs the shared early-stopping trainer, logs
the tutorial's lines, writes the best model to ``out`` (if given) and returns the ``TrainResult``.
"""

import dataclasses
import logging

import numpy

from dltut import data, engine, models, saving
from dltut.compiled import CompiledModel
from dltut.engine import T
from dltut.trainer import EarlyStopping, train
from dltut.updates import sgd

log = logging.getLogger(__name__)

N_OUT = 10  # ten digit classes


def configure(floatX=None, mode=None):
    """Set the engine's floatX and compile mode, where given."""
    if floatX is not None:
        engine.set_floatX(floatX)
    if mode is not None:
        engine.set_mode(mode)


def fit(arch, rng, datasets, batch_size, learning_rate, stopping, regularize=None, out=None,
        callbacks=(), log_every=None, training_message="... training", fused=None):
    """Build the model ``arch``, train it with SGD and early stopping, save the best model.

    ``regularize(model, nll)`` turns the negative log-likelihood into the cost (the MLP's L1/L2).
    ``fused`` trains each span between validations in one compiled call (default: in JAX mode).
    Returns the ``TrainResult``; ``result.model`` is the model with the best parameters set.
    """
    log.info("... building the model")
    x = T.matrix("x")  # the data, presented as rasterized images
    y = T.ivector("y")  # the labels, presented as a vector of int labels
    classifier = models.build(arch, rng, x)
    cost = classifier.negative_log_likelihood(y)
    if regularize is not None:
        cost = regularize(classifier, cost)
    updates = sgd(cost, classifier.params, learning_rate)
    compiled = CompiledModel(
        x, y, cost, classifier.errors(y), classifier.params, updates, datasets, batch_size,
        fused=fused,
    )
    log.info(training_message)
    result = train(
        compiled, compiled.n_train_batches, stopping, callbacks=callbacks, log_every=log_every
    )
    if result.best_params is not None:
        compiled.set_params(result.best_params)
    result.model = classifier
    if out is not None:
        info = _counters(result)
        info["hyperparameters"] = {"learning_rate": learning_rate, "batch_size": batch_size,
                                   **dataclasses.asdict(stopping)}
        saving.save_model(out, arch, models.param_values(classifier), info)
        log.info("best model saved to %s", out)
    return result


def _counters(result):
    return {
        "best_validation_loss": result.best_validation_loss,
        "best_iter": result.best_iter,
        "test_score": result.test_score,
        "epochs": result.epochs,
        "iterations": result.iterations,
        "stop_reason": result.stop_reason,
    }


def _n_in(datasets):
    return int(datasets[0][0].get_value(borrow=True).shape[1])


def sgd_optimization_mnist(learning_rate=0.13, n_epochs=1000, dataset=None, batch_size=600, *,
                           patience=5000, out=None, floatX=None, mode=None, fused=None,
                           callbacks=()):
    """Logistic regression on MNIST by minibatch SGD with early stopping (logistic_sgd.py).

    With the defaults this reproduces the tutorial's published run: best validation error 7.5 %
    and test error 7.489583 % after 74 epochs.
    """
    configure(floatX, mode)
    datasets = data.load_shared(dataset)
    arch = {"model": "logistic_regression", "n_in": _n_in(datasets), "n_out": N_OUT}
    stopping = EarlyStopping(n_epochs=n_epochs, patience=patience)
    result = fit(arch, None, datasets, batch_size, learning_rate, stopping, out=out,
                 callbacks=callbacks, training_message="... training the model", fused=fused)
    log.info(
        "Optimization complete with best validation score of %f %%,with test performance %f %%",
        result.best_validation_loss * 100.0, result.test_score * 100.0,
    )
    log.info("The code run for %d epochs, with %f epochs/sec", result.epochs,
             result.epochs_per_second)
    log.info("The code ran for %.1fs", result.elapsed)
    return result


def test_mlp(learning_rate=0.01, L1_reg=0.00, L2_reg=0.0001, n_epochs=1000, dataset=None,
             batch_size=20, n_hidden=500, *, patience=10000, out=None, floatX=None, mode=None,
             callbacks=()):
    """A one-hidden-layer perceptron on MNIST (mlp.py), seeded with ``RandomState(1234)``.

    The cost is the negative log-likelihood plus ``L1_reg * L1 + L2_reg * L2_sqr``.
    """
    configure(floatX, mode)
    datasets = data.load_shared(dataset)
    rng = numpy.random.RandomState(1234)
    arch = {"model": "mlp", "n_in": _n_in(datasets), "n_hidden": n_hidden, "n_out": N_OUT}
    stopping = EarlyStopping(n_epochs=n_epochs, patience=patience)
    result = fit(arch, rng, datasets, batch_size, learning_rate, stopping, out=out,
                 regularize=lambda mlp, nll: nll + L1_reg * mlp.L1 + L2_reg * mlp.L2_sqr,
                 callbacks=callbacks, fused=fused)
    log.info(
        "Optimization complete. Best validation score of %f %% obtained at iteration %i, "
        "with test performance %f %%",
        result.best_validation_loss * 100.0, result.best_iter + 1, result.test_score * 100.0,
    )
    log.info("The code ran for %.2fm", result.elapsed / 60.0)
    return result


test_mlp.__test__ = False  # the tutorial's name, not a pytest test
