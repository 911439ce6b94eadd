"""logistic_cg: W and b as views of theta, the training objective and its gradient against the
tutorial's per-minibatch loop done in NumPy and against its batch_cost and batch_grad (every
mode), the validation error's mean, and small cg_optimization_mnist runs."""

import ast
import inspect
import logging

import numpy
import pytest

import dltut
from conftest import available_modes, in_mode, numpy_softmax
from dltut import data, engine
from dltut.backend import modes
from dltut.engine import T
from dltut.tutorials import logistic_cg
from dltut.tutorials.logistic_cg import LogisticRegression, TrainingObjective, mean_error


def _numpy_minibatch_cost_and_grad(x, y, theta, n_in, n_out):
    """The tutorial's batch_cost and batch_grad of one minibatch, by hand."""
    W, b = theta[:n_in * n_out].reshape(n_in, n_out), theta[n_in * n_out:]
    p = numpy_softmax(x @ W + b)
    cost = -numpy.mean(numpy.log(p[numpy.arange(len(y)), y]))
    delta = p.copy()
    delta[numpy.arange(len(y)), y] -= 1
    delta /= len(y)
    return cost, numpy.concatenate([(x.T @ delta).ravel(), delta.sum(axis=0)])


def test_W_and_b_are_views_of_theta(floatX64):
    x = T.matrix("x")
    classifier = LogisticRegression(x, n_in=3, n_out=2)
    assert classifier.params == [classifier.theta]
    assert classifier.theta.get_value().shape == (3 * 2 + 2,) and \
        not classifier.theta.get_value().any()
    classifier.theta.set_value(numpy.arange(8.0))
    W, b = engine.function([], [classifier.W, classifier.b])()
    numpy.testing.assert_array_equal(W, [[0, 1], [2, 3], [4, 5]])
    numpy.testing.assert_array_equal(b, [6, 7])


def _training_functions(classifier, x, y, train_x, train_y, batch_size):
    """The tutorial's batch_cost and batch_grad, and cg_optimization_mnist's batch_cost_and_grad
    (both in one), compiled as they are there."""
    index = T.lscalar()
    givens = {x: train_x[index * batch_size:(index + 1) * batch_size],
              y: train_y[index * batch_size:(index + 1) * batch_size]}
    cost = classifier.negative_log_likelihood(y).mean()
    grad = engine.grad(cost, classifier.theta)
    return (engine.function([index], cost, givens=givens, name="batch_cost"),
            engine.function([index], grad, givens=givens, name="batch_grad"),
            engine.function([index], [cost, grad], givens=givens, name="batch_cost_and_grad"))


# numba takes 45 s here to compile the objective (the C mode 6 s, JAX 3 s): not a unit test's time
@pytest.mark.parametrize("mode", [m for m in ("c", "jax") if m in available_modes()])
def test_objective_is_the_tutorials_mean_over_minibatches(floatX64, mode, tiny_mnist):
    (train_x, train_y), _, _ = data.load_shared(tiny_mnist)
    batch_size = 110  # 5 minibatches of the 600 images; the last 50 are unused, as in the tutorial
    x, y = T.matrix("x"), T.ivector("y")
    classifier = LogisticRegression(x, n_in=784, n_out=10)
    theta = numpy.random.RandomState(0).normal(0, 0.01, 7850)
    with in_mode(mode):
        batch_cost, batch_grad, batch_cost_and_grad = _training_functions(
            classifier, x, y, train_x, train_y, batch_size)
    # in JAX mode the engine's function runs the 5 minibatches as one call
    assert hasattr(batch_cost_and_grad, "over") == (mode == "jax")
    objective = TrainingObjective(batch_cost_and_grad, classifier.theta, 5)
    cost, gradient = objective.evaluate(theta)
    numpy.testing.assert_array_equal(classifier.theta.get_value(), theta)

    xs, ys = train_x.get_value(), train_y.get_value()
    batches = [_numpy_minibatch_cost_and_grad(xs[i * batch_size:(i + 1) * batch_size],
                                              ys[i * batch_size:(i + 1) * batch_size], theta,
                                              784, 10) for i in range(5)]
    assert cost == pytest.approx(numpy.mean([c for c, _ in batches]), rel=1e-12)
    numpy.testing.assert_allclose(gradient, numpy.mean([g for _, g in batches], axis=0),
                                  rtol=1e-9, atol=1e-15)
    # the tutorial's train_fn and train_fn_grad, one call per minibatch, in NumPy: the same
    # numbers, bit for bit; in the C mode also with its batch_cost and batch_grad apart (in JAX
    # mode XLA may round a product's last bit otherwise when it compiles the gradient alone)
    calls = {"cost_and_grad": [batch_cost_and_grad(i) for i in range(5)]}
    if mode == "c":
        calls["apart"] = [(batch_cost(i), batch_grad(i)) for i in range(5)]
    for how, minibatches in calls.items():
        assert cost == numpy.mean([numpy.asarray(c) for c, _ in minibatches]), how
        tutorial_grad = numpy.array(minibatches[0][1])
        for _, grad in minibatches[1:]:
            tutorial_grad += numpy.asarray(grad)
        numpy.testing.assert_array_equal(gradient, tutorial_grad / 5, err_msg=how)
    # fmin_cg asks for the cost and the gradient at each theta apart: one pass for both
    assert objective.cost(theta) == cost and objective.gradient(theta) is gradient
    assert objective.calls == 1
    objective.cost(theta + 1)
    assert objective.calls == 2


@pytest.mark.parametrize("mode", [m for m in ("c", "jax") if m in available_modes()])
def test_mean_error_is_the_tutorials_mean_of_minibatch_errors(floatX64, mode, tiny_mnist):
    _, (valid_x, valid_y), _ = data.load_shared(tiny_mnist)
    x, y, index = T.matrix("x"), T.ivector("y"), T.lscalar()
    classifier = LogisticRegression(x, n_in=784, n_out=10)
    classifier.theta.set_value(numpy.random.RandomState(1).normal(0, 0.01, 7850))
    with in_mode(mode):
        validate_model = engine.function(
            [index], classifier.errors(y),
            givens={x: valid_x[index * 40:(index + 1) * 40],
                    y: valid_y[index * 40:(index + 1) * 40]})
    xs, ys = valid_x.get_value(), valid_y.get_value()
    W, b = classifier.theta.get_value()[:7840].reshape(784, 10), classifier.theta.get_value()[7840:]
    wrong = (numpy.argmax(xs @ W + b, axis=1) != ys).reshape(5, 40)
    loss = mean_error(validate_model, 5)
    assert type(loss) is numpy.float64
    assert loss == numpy.mean(wrong.sum(axis=1) / 40)
    assert loss == numpy.mean([validate_model(i) for i in range(5)])


def test_the_tutorial_imports_no_back_end_or_model_compiling_code():
    tree = ast.parse(inspect.getsource(logistic_cg))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | \
        {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
         for alias in node.names}
    assert not {name for name in imported
                if name.startswith(("dltut.compiled", "dltut.backend"))}, imported


def _tiny_run(tiny_mnist, **kwargs):
    return dltut.cg_optimization_mnist(dataset=tiny_mnist, batch_size=100, **kwargs)


def test_tiny_run_logs_the_tutorial_lines_and_keeps_the_best_theta(tiny_mnist, floatX64, caplog):
    caplog.set_level(logging.INFO, logger="dltut")
    result = _tiny_run(tiny_mnist, n_epochs=4, mode="c")
    messages = [record.getMessage() for record in caplog.records]
    assert {"... building the model", "Optimizing using scipy.optimize.fmin_cg..."} <= \
        set(messages)
    assert [m for m in messages if m.startswith("validation error")] == \
        [f"validation error {loss * 100:f} %" for loss in result.history]
    assert result.iterations == len(result.history) == 4
    assert result.function_calls >= result.iterations + 1
    assert result.best_validation_loss == min(result.history)
    assert result.history[result.best_iter - 1] == result.best_validation_loss
    assert (f"Optimization complete with best validation score of "
            f"{result.best_validation_loss * 100:f} %, with test performance "
            f"{result.test_score * 100:f} %") in messages
    assert any(m.startswith("The code for file logistic_cg.py ran for ") for m in messages)

    # the model holds the best iterate: its errors, counted here, are the best numbers
    (_, _), (vx, vy), (sx, sy) = data.load_data(tiny_mnist)
    theta = result.model.theta.get_value()
    W, b = theta[:7840].reshape(784, 10), theta[7840:]
    for xs, ys, expected in ((vx, vy, result.best_validation_loss), (sx, sy, result.test_score)):
        wrong = numpy.argmax(xs @ W + b, axis=1) != ys
        assert numpy.mean(wrong.reshape(2, 100).mean(axis=1)) == pytest.approx(expected)


def test_modes_give_the_same_run(tiny_mnist, floatX64):
    runs = {mode: _tiny_run(tiny_mnist, n_epochs=2, mode=mode) for mode in ("c", "jax")
            if mode in available_modes()}
    for mode, run in runs.items():
        assert run.history == runs["c"].history, mode
        numpy.testing.assert_allclose(run.theta, runs["c"].theta, rtol=1e-9, atol=1e-12)


def test_runs_in_float64_unless_a_floatX_is_chosen(tiny_mnist, monkeypatch):
    """The original runs in float64 only, so dltut's default floatX (float32) gives way."""
    engine.set_floatX("float32")
    monkeypatch.setattr(modes, "_floatX_reason", modes._DEFAULT_FLOATX_REASON)
    assert _tiny_run(tiny_mnist, n_epochs=1, mode="c").theta.dtype == numpy.float64
    # the runs after it keep dltut's default
    assert engine.floatX() == "float32" and engine.floatX_is_default()
    assert _tiny_run(tiny_mnist, n_epochs=1, mode="c", floatX="float32").theta.dtype == \
        numpy.float32


def test_bad_settings_fail_before_training(tiny_mnist):
    with pytest.raises(ValueError, match=r"n_epochs must be a positive integer \(the most "
                                         r"fmin_cg iterations\), got 0"):
        _tiny_run(tiny_mnist, n_epochs=0)
    with pytest.raises(ValueError, match="batch_size 700 is larger than the training set"):
        dltut.cg_optimization_mnist(n_epochs=1, dataset=tiny_mnist, batch_size=700)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        dltut.cg_optimization_mnist(n_epochs=1, dataset=tiny_mnist, batch_size=0)
    with pytest.raises(TypeError, match=r"unexpected options \['fused'\]"):
        _tiny_run(tiny_mnist, n_epochs=1, fused=True)
