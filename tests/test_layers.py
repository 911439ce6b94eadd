"""Layers and models against NumPy: forward values, gradients, finite differences, initial draws."""

import numpy
import pytest

from conftest import numpy_softmax
from dltut import engine, registry
from dltut.engine import T
from dltut.tutorials.logistic_sgd import LogisticRegression
from dltut.tutorials.mlp import HiddenLayer, sigmoid
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
    gradient = engine.function([x, y], engine.grad(nll, layer.W))(xs, ys)
    eps = 1e-6
    for i, j in [(0, 0), (2, 3), (4, 1)]:
        values = []
        for sign in (1, -1):
            W = W0.copy()
            W[i, j] += sign * eps
            layer.W.set_value(W)
            values.append(cost(xs, ys))
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
    gradient = engine.function([x, y], engine.grad(nll, layer.W))(xs, ys)
    step = engine.function([x, y], nll, updates=sgd(nll, layer.params, 0.5))
    step(xs, ys)
    numpy.testing.assert_allclose(layer.W.get_value(), -0.5 * gradient, rtol=1e-12)
    with pytest.raises(ValueError, match="learning_rate must be positive, got 0"):
        sgd(nll, layer.params, 0)


@pytest.mark.parametrize("activation, scale", [("tanh", 1), ("sigmoid", 4), (None, 1)])
def test_hidden_layer_draw_and_forward(floatX64, activation, scale):
    from dltut.tutorials import mlp

    act = {"tanh": mlp.tanh, "sigmoid": sigmoid, None: None}[activation]
    x = T.matrix("x")
    layer = HiddenLayer(numpy.random.RandomState(5), x, 6, 3, activation=act)
    bound = numpy.sqrt(6.0 / (6 + 3))
    expected_W = numpy.random.RandomState(5).uniform(-bound, bound, (6, 3)) * scale
    numpy.testing.assert_array_equal(layer.W.get_value(), expected_W)
    numpy.testing.assert_array_equal(layer.b.get_value(), numpy.zeros(3))
    xs = numpy.random.RandomState(6).randn(4, 6)
    linear = xs @ expected_W
    expected = {"tanh": numpy.tanh(linear), "sigmoid": 1 / (1 + numpy.exp(-linear)),
                None: linear}[activation]
    numpy.testing.assert_allclose(engine.function([x], layer.output)(xs), expected, rtol=1e-12)


def test_mlp_initial_weights_follow_the_tutorial_seed(floatX64):
    # mlp.py: RandomState(1234); the hidden layer's W is the first and only draw
    x = T.matrix("x")
    mlp = registry.build({"model": "mlp", "n_in": 784, "n_hidden": 500, "n_out": 10},
                       numpy.random.RandomState(1234), x)
    bound = numpy.sqrt(6.0 / (784 + 500))
    expected = numpy.random.RandomState(1234).uniform(low=-bound, high=bound, size=(784, 500))
    numpy.testing.assert_array_equal(mlp.hiddenLayer.W.get_value(), expected)
    assert [p.name for p in mlp.params] == ["W_hidden", "b_hidden", "W_logreg", "b_logreg"]
    assert not mlp.logRegressionLayer.W.get_value().any()


def test_mlp_regularisers_against_numpy(floatX64):
    x = T.matrix("x")
    mlp = registry.build({"model": "mlp", "n_in": 5, "n_hidden": 3, "n_out": 2},
                       numpy.random.RandomState(0), x)
    W2 = numpy.random.RandomState(1).randn(3, 2)
    mlp.logRegressionLayer.W.set_value(W2)
    W1 = mlp.hiddenLayer.W.get_value()
    l1, l2 = engine.function([], [mlp.L1, mlp.L2_sqr])()
    assert l1 == pytest.approx(abs(W1).sum() + abs(W2).sum())
    assert l2 == pytest.approx((W1**2).sum() + (W2**2).sum())


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        registry.build({"model": "resnet"}, None, T.matrix("x"))
