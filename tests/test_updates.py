"""dltut.updates against NumPy loops of the same rules."""

import numpy
import pytest

from dltut import engine, updates
from dltut.engine import T


def _regression(seed=0):
    """A least-squares cost of a weight matrix and a bias, and its NumPy gradients."""
    rng = numpy.random.RandomState(seed)
    X, Y = rng.randn(5, 3), rng.randn(5, 2)
    W = engine.shared(rng.randn(3, 2), name="W")
    b = engine.shared(rng.randn(2), name="b")
    cost = ((T.dot(X, W) + b - Y) ** 2).sum()

    def gradients(W_value, b_value):
        residual = 2 * (X @ W_value + b_value - Y)
        return X.T @ residual, residual.sum(axis=0)

    return cost, [W, b], gradients


@pytest.mark.usefixtures("floatX64")
def test_adam_matches_a_numpy_loop_with_a_decaying_learning_rate(mode):
    """Lasagne's Adam: a_t from the step count, the moments, the step; the learning rate a shared
    variable set between calls, as the segmentation tutorials decay it per epoch."""
    cost, params, gradients = _regression()
    learning_rate = engine.shared(numpy.asarray(0.01), name="learning_rate")
    pairs = updates.adam(cost, params, learning_rate=learning_rate, beta1=0.8)
    assert [shared.name for shared, _ in pairs] == ["W_m", "W_v", "W", "b_m", "b_v", "b", "adam_t"]
    step = engine.function([], cost, updates=pairs)
    values = [param.get_value() for param in params]
    moments = [[numpy.zeros_like(value), numpy.zeros_like(value)] for value in values]
    for t in range(1, 5):
        step()
        rate = 0.01 * 0.5 ** (t - 1)
        a_t = rate * numpy.sqrt(1 - 0.999 ** t) / (1 - 0.8 ** t)
        for value, (m, v), g in zip(values, moments, gradients(*values)):
            m[:] = 0.8 * m + (1 - 0.8) * g
            v[:] = 0.999 * v + (1 - 0.999) * g ** 2
            value -= a_t * m / (numpy.sqrt(v) + 1e-8)
        for param, value in zip(params, values):
            numpy.testing.assert_allclose(param.get_value(), value, rtol=1e-12, atol=1e-14)
        learning_rate.set_value(numpy.asarray(rate / 2))
    for (shared, _), expected in zip(pairs, [moments[0][0], moments[0][1], None, moments[1][0], moments[1][1]]):
        if expected is not None:
            numpy.testing.assert_allclose(shared.get_value(), expected, rtol=1e-12, atol=1e-15)
    assert pairs[-1][0].get_value() == 4


def test_adam_takes_gradients_and_checks_them():
    cost, params, _ = _regression()
    grads = engine.grad(cost, params)
    assert len(updates.adam(grads, params)) == 7
    with pytest.raises(ValueError, match="1 gradients for 2 parameters"):
        updates.adam(grads[:1], params)
    with pytest.raises(ValueError, match="params must be shared variables"):
        updates.adam(cost, [T.matrix("W")])


@pytest.mark.usefixtures("floatX64")
def test_sgd_is_one_step_down_the_gradient():
    cost, params, gradients = _regression(1)
    values = [param.get_value() for param in params]
    engine.function([], cost, updates=updates.sgd(cost, params, 0.1))()
    for param, value, g in zip(params, values, gradients(*values)):
        numpy.testing.assert_allclose(param.get_value(), value - 0.1 * g, rtol=1e-12)
