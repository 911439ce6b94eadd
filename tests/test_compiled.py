"""Compiled minibatch functions: the minibatch cut, and fused spans equal to one call per minibatch."""

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import data, engine, registry
from dltut.compiled import CompiledCost, CompiledModel, minibatch
from dltut.engine import T
from dltut.trainer import EarlyStopping, train
from dltut.updates import sgd


def test_minibatch_is_the_tutorial_slice(mode):
    values = numpy.arange(23 * 3, dtype=engine.floatX()).reshape(23, 3)
    shared = engine.shared(values, "data")
    index = T.lscalar("index")
    f = engine.function([index], minibatch(shared, index, 5, 23 // 5))
    for i in range(4):
        numpy.testing.assert_array_equal(f(i), values[i * 5:(i + 1) * 5])


def _datasets(rng, n_in=12, sizes=(50, 20, 20)):
    pairs = [(rng.rand(n, n_in), rng.randint(0, 10, n).astype("int32")) for n in sizes]
    return [data.shared_dataset(pair, name) for pair, name in zip(pairs, ("train", "valid", "test"))]


def _run(fused, arch, seed=0, stopping=EarlyStopping(n_epochs=3, patience=6)):
    rng = numpy.random.RandomState(seed)
    datasets = _datasets(rng)
    x, y = T.matrix("x"), T.ivector("y")
    model = registry.build(arch, numpy.random.RandomState(1234), x)
    cost = model.negative_log_likelihood(y)
    if arch["model"] == "mlp":
        cost = cost + 0.001 * model.L1 + 0.0001 * model.L2_sqr
    compiled = CompiledModel(x, y, cost, model.y_pred, model.params,
                             sgd(cost, model.params, 0.1), datasets, batch_size=5, fused=fused)
    result = train(compiled, compiled.n_train_batches, stopping)
    return result, compiled


def _assert_same(got, expected):
    """Bit-equal on PyTensor. Theano's scan runs its inner graph in Python with rewrites of its
    own, which leaves the fused values some ulps apart (measured: relative 4e-14 at most)."""
    if engine.name() == "theano":
        numpy.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    else:
        numpy.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("arch", [
    {"model": "logistic_regression", "n_in": 12, "n_out": 10},
    {"model": "mlp", "n_in": 12, "n_hidden": 7, "n_out": 10},
])
def test_fused_equals_one_call_per_minibatch(floatX64, mode, arch):
    if mode == "numba" and arch["model"] == "mlp":
        # a fused numba scan takes 70-90 s to compile cold; fusing is off by default there, so
        # the logistic regression checks that mode and the MLP is checked in c and jax
        pytest.skip("numba: checked on the logistic regression only (compile time)")
    # patience 6 validates every 3 of the 10 minibatches: spans of 3 and of 1 (epoch end, stop)
    reference, _ = _run(False, arch)
    fused, compiled = _run(True, arch)
    assert len(compiled._train_spans) >= 2
    _assert_same(fused.costs, reference.costs)
    assert [(v.iter, v.validation_loss, v.test_score, v.patience) for v in fused.history] == \
        [(v.iter, v.validation_loss, v.test_score, v.patience) for v in reference.history]
    for got, expected in zip(fused.best_params, reference.best_params):
        _assert_same(got, expected)
    assert (fused.iterations, fused.stop_reason) == (reference.iterations, reference.stop_reason)


def test_fused_by_default_only_in_jax(floatX64, mode):
    _, compiled = _run(None, {"model": "logistic_regression", "n_in": 12, "n_out": 10},
                       stopping=EarlyStopping(n_epochs=1))
    assert compiled.fused == (mode == "jax")


def test_jax_mode_keeps_float64(floatX64):
    if "jax" not in available_modes():
        pytest.skip("JAX not installed")
    engine.set_floatX("float32")  # as if PyTensor's JAX backend had loaded in float32
    with in_mode("jax"):
        engine.set_floatX("float64")
        shared = engine.shared(numpy.full((2, 1), 1.0), "data")
        engine.place_data([shared])
        f = engine.function([], shared.sum() + 1e-12)
        assert f() == 2.0 + 1e-12 and f().dtype == numpy.float64
    with in_mode("c"):  # a mode that reads NumPy arrays: the value comes back as one
        engine.place_data([shared])
    assert type(shared.get_value(borrow=True)) is numpy.ndarray
    assert shared.get_value(borrow=True).dtype == numpy.float64


def test_fused_draws_as_one_call_per_minibatch(floatX64, mode):
    """A cost that draws (inputs corrupted as the denoising autoencoder does) draws the same
    numbers fused as in one call per minibatch: each fused step advances the random streams."""
    if mode == "numba":
        pytest.skip("numba: fused scans take minutes to compile (fusing is off there by default)")
    from dltut.random import RandomStreams

    def run(fused):
        datasets = _datasets(numpy.random.RandomState(0))
        x, y = T.matrix("x"), T.ivector("y")
        corrupted = x * RandomStreams(7).binomial(size=(5, 12), p=0.7, dtype=engine.floatX())
        model = registry.build({"model": "logistic_regression", "n_in": 12, "n_out": 10},
                             numpy.random.RandomState(1234), corrupted)
        cost = model.negative_log_likelihood(y)
        compiled = CompiledModel(x, y, cost, model.y_pred, model.params,
                                 sgd(cost, model.params, 0.1), datasets, batch_size=5, fused=fused)
        costs = numpy.concatenate([compiled.train_minibatches(0, 3),
                                   compiled.train_minibatches(3, 3)])
        return costs, compiled.get_params()

    (costs, params), (fused_costs, fused_params) = run(False), run(True)
    assert len(set(costs)) == len(costs)  # the draws differ from step to step
    _assert_same(fused_costs, costs)
    for got, expected in zip(fused_params, params):
        _assert_same(got, expected)


def _run_cost(fused, epochs=2):
    """An unsupervised cost of x alone that draws a corruption of size x.shape (as the denoising
    autoencoder's), trained ``epochs`` epochs of 10 minibatches; the costs and the parameter."""
    from dltut.random import RandomStreams

    train_x = _datasets(numpy.random.RandomState(0))[0][0]
    x = T.matrix("x")
    W = engine.shared(numpy.random.RandomState(1).uniform(-0.5, 0.5, (12, 4)), "W")
    mask = RandomStreams(7).binomial(size=x.shape, n=1, p=0.7, dtype=engine.floatX())
    cost = T.mean(T.sum((T.dot(T.dot(mask * x, W), W.T) - x) ** 2, axis=1))
    compiled = CompiledCost(x, cost, sgd(cost, [W], 0.1), train_x, batch_size=5, fused=fused)
    compiled.prepare([compiled.n_train_batches])
    costs = [compiled.train_minibatches(0, compiled.n_train_batches) for _ in range(epochs)]
    return numpy.concatenate(costs), W.get_value(), compiled


def test_fused_epoch_of_a_cost_equals_one_call_per_minibatch(floatX64, mode):
    if mode == "numba":
        pytest.skip("numba: fused scans take minutes to compile (fusing is off there by default)")
    costs, W, compiled = _run_cost(False)
    fused_costs, fused_W, fused = _run_cost(True)
    assert (compiled.fused, fused.fused, compiled.n_train_batches) == (False, True, 10)
    assert list(fused._train_spans) == [10]  # one compiled call an epoch
    assert len(set(costs)) == len(costs)  # each minibatch draws anew
    _assert_same(fused_costs, costs)
    _assert_same(fused_W, W)


def test_cost_fused_by_default_only_in_jax(floatX64, mode):
    _, _, compiled = _run_cost(None, epochs=1)
    assert compiled.fused == (mode == "jax")
