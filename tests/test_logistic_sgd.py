"""logistic_sgd: LogisticRegression against NumPy and finite differences, one SGD step, and the
tutorial end to end: a small run in every mode, its script, and the published result."""

import logging

import numpy
import pytest

import dltut
from conftest import available_modes, numpy_softmax, run_script
from dltut import data, engine, saving
from dltut.engine import T
from dltut.tutorials.logistic_sgd import LogisticRegression
from dltut.updates import sgd


def _data(rng, n=7, n_in=5, n_out=4):
    return rng.rand(n, n_in), rng.randint(0, n_out, n).astype("int32")


def test_logistic_regression_against_numpy(floatX64, mode):
    rng = numpy.random.RandomState(0)
    xs, ys = _data(rng)
    W, b = rng.randn(5, 4), rng.randn(4)
    x, y = T.matrix("x"), T.ivector("y")
    layer = LogisticRegression(x, 5, 4)
    layer.W.set_value(W)
    layer.b.set_value(b)
    nll = layer.negative_log_likelihood(y)
    gW, gb = engine.grad(nll, layer.params)
    f = engine.function([x, y], [layer.p_y_given_x, layer.y_pred, nll, layer.errors(y), gW, gb])
    p, pred, cost, err, got_gW, got_gb = f(xs, ys)

    expected_p = numpy_softmax(xs @ W + b)
    numpy.testing.assert_allclose(p, expected_p, rtol=1e-12)
    numpy.testing.assert_array_equal(pred, expected_p.argmax(axis=1))
    assert cost == pytest.approx(-numpy.mean(numpy.log(expected_p[numpy.arange(7), ys])), 1e-12)
    assert err == pytest.approx(numpy.mean(expected_p.argmax(axis=1) != ys))
    # d nll / d logits = (p - onehot(y)) / n
    delta = (expected_p - numpy.eye(4)[ys]) / len(ys)
    numpy.testing.assert_allclose(got_gW, xs.T @ delta, rtol=1e-10, atol=1e-14)
    numpy.testing.assert_allclose(got_gb, delta.sum(axis=0), rtol=1e-10, atol=1e-14)


def test_nll_gradient_finite_differences(floatX64):
    rng = numpy.random.RandomState(1)
    xs, ys = _data(rng)
    x, y = T.matrix("x"), T.ivector("y")
    layer = LogisticRegression(x, 5, 4)
    W0 = rng.randn(5, 4)
    layer.W.set_value(W0)
    nll = layer.negative_log_likelihood(y)
    cost = engine.function([x, y], nll)
    gradient = numpy.asarray(engine.function([x, y], engine.grad(nll, layer.W))(xs, ys))
    eps = 1e-6
    for i, j in [(0, 0), (2, 3), (4, 1)]:
        values = []
        for sign in (1, -1):
            W = W0.copy()
            W[i, j] += sign * eps
            layer.W.set_value(W)
            values.append(float(cost(xs, ys)))
        assert gradient[i, j] == pytest.approx((values[0] - values[1]) / (2 * eps), rel=1e-6)


def test_errors_rejects_float_labels():
    layer = LogisticRegression(T.matrix("x"), 5, 4)
    with pytest.raises(TypeError, match="integer labels"):
        layer.errors(T.vector("y"))
    with pytest.raises(TypeError, match="vector of labels"):
        layer.errors(T.imatrix("y"))


def test_sgd_update_is_one_step(floatX64):
    rng = numpy.random.RandomState(2)
    xs, ys = _data(rng)
    x, y = T.matrix("x"), T.ivector("y")
    layer = LogisticRegression(x, 5, 4)
    nll = layer.negative_log_likelihood(y)
    gradient = numpy.asarray(engine.function([x, y], engine.grad(nll, layer.W))(xs, ys))
    step = engine.function([x, y], nll, updates=sgd(nll, layer.params, 0.5))
    step(xs, ys)
    numpy.testing.assert_allclose(layer.W.get_value(), -0.5 * gradient, rtol=1e-12)
    with pytest.raises(ValueError, match="learning_rate must be positive, got 0"):
        sgd(nll, layer.params, 0)


def _messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name.startswith("dltut")]


def test_logreg_small_run(tiny_mnist, tmp_path, mode, caplog):
    out = tmp_path / "logreg.npz"
    with caplog.at_level(logging.INFO):
        result = dltut.sgd_optimization_mnist(n_epochs=3, dataset=tiny_mnist, batch_size=100,
                                              out=out, floatX="float64")
    lines = _messages(caplog)
    assert lines[:3] == ["... loading data", "... building the model", "... training the model"]
    assert any(line.startswith("epoch 3, minibatch 6/6, validation error") for line in lines)
    assert any(line.startswith("Optimization complete with best validation score of") for line in lines)
    assert result.epochs == 3 and result.iterations == 18 and len(result.history) == 3
    # the saved model predicts what the best model predicts, and scores its test error
    model = saving.load_model(out)
    assert model.info["best_iter"] == result.best_iter
    _, _, (test_x, test_y) = data.load_data(tiny_mnist)
    predicted = model.predict(test_x)
    assert numpy.mean(predicted != test_y) == pytest.approx(result.test_score)


def test_logreg_script_train_and_predict(tiny_mnist, tmp_path):
    run = run_script("logreg.py", "--n-epochs", "2", "--batch-size", "100", "--dataset",
                  str(tiny_mnist), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "epoch 2, minibatch 6/6, validation error" in run.stdout
    assert "The code run for 2 epochs" in run.stdout
    assert (tmp_path / "out" / "logreg.npz").is_file()
    run = run_script("logreg.py", "predict", "--count", "7", "--dataset", str(tiny_mnist), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Predicted values for the first 7 examples in test set:" in run.stdout
    labels = run.stdout.strip().splitlines()[-1].strip("[]").split()
    assert len(labels) == 7 and all(label in "0123456789" for label in labels)


@pytest.mark.slow
@pytest.mark.parametrize("floatX, mode", [("float64", None), ("float32", None),
                                          ("float32", "jax")])
def test_logreg_reproduces_the_published_run(floatX, mode, caplog):
    """logistic_sgd.py's published result: 7.500000 % / 7.489583 % after 74 epochs; in the
    engine's default mode, and in JAX mode (fused, the data placed on JAX's device: the GPU path)."""
    if mode is not None and mode not in available_modes():
        pytest.skip(f"mode {mode} not available on this engine")
    with caplog.at_level(logging.INFO):
        result = dltut.sgd_optimization_mnist(floatX=floatX, mode=mode or engine.mode())
    assert "epoch 1, minibatch 83/83, validation error 12.458333 %" in _messages(caplog)
    assert "%f" % (result.best_validation_loss * 100) == "7.500000"
    assert "%f" % (result.test_score * 100) == "7.489583"
    assert result.epochs == 74 and result.stop_reason == "patience"
