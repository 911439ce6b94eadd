"""logistic_cg: W and b as views of theta, the training objective and its gradient against the
tutorial's per-minibatch loop done in NumPy (every mode), and small cg_optimization_mnist runs."""

import logging

import numpy
import pytest

import dltut
from conftest import available_modes, in_mode, numpy_softmax
from dltut import data, engine
from dltut.backend import modes
from dltut.engine import T
from dltut.tutorials.logistic_cg import LogisticRegression, TrainingObjective


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


# numba takes 45 s here to compile the objective (the C mode 6 s, JAX 3 s): not a unit test's time
@pytest.mark.parametrize("mode", [m for m in ("c", "jax") if m in available_modes()])
def test_objective_is_the_tutorials_mean_over_minibatches(floatX64, mode, tiny_mnist):
    (train_x, train_y), _, _ = data.load_shared(tiny_mnist)
    batch_size = 110  # 5 minibatches of the 600 images; the last 50 are unused, as in the tutorial
    x, y = T.matrix("x"), T.ivector("y")
    classifier = LogisticRegression(x, n_in=784, n_out=10)
    theta = numpy.random.RandomState(0).normal(0, 0.01, 7850)
    with in_mode(mode):
        objective = TrainingObjective(classifier, x, y, train_x, train_y, batch_size)
    cost, gradient = objective.evaluate(theta)

    xs, ys = train_x.get_value(), train_y.get_value()
    batches = [_numpy_minibatch_cost_and_grad(xs[i * batch_size:(i + 1) * batch_size],
                                              ys[i * batch_size:(i + 1) * batch_size], theta,
                                              784, 10) for i in range(5)]
    assert cost == pytest.approx(numpy.mean([c for c, _ in batches]), rel=1e-12)
    numpy.testing.assert_allclose(gradient, numpy.mean([g for _, g in batches], axis=0),
                                  rtol=1e-9, atol=1e-15)
    # fmin_cg asks for the cost and the gradient at each theta apart: one call for both
    assert objective.cost(theta) == cost and objective.gradient(theta) is gradient
    assert objective.calls == 1
    objective.cost(theta + 1)
    assert objective.calls == 2


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
