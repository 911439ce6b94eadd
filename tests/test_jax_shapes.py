"""jax_shapes: a graph with shapes known only at run time, built once, compiled by JAX per shape,
against NumPy."""

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import engine


def running_sums(T, x, w):
    """A scan over the rows of ``x`` (its length unknown), its buffers and the reshape of its
    result sized from that length: what PyTensor's JAX mode refuses to compile."""
    h0 = T.zeros((x.shape[1],), dtype=x.dtype)
    h, _ = engine.scan(lambda row, h: T.tanh(row + T.dot(h, w)), sequences=x, outputs_info=h0)
    return h.reshape((x.shape[0] * x.shape[1],))


def numpy_running_sums(x, w):
    h, out = numpy.zeros(x.shape[1]), []
    for row in x:
        h = numpy.tanh(row + h @ w)
        out.append(h)
    return numpy.concatenate(out)


@pytest.mark.skipif("jax" not in available_modes(), reason="JAX mode not available")
def test_one_build_serves_every_length(xla_compiles):
    with in_mode("jax"):
        T = engine.T
        x = T.tensor(dtype=engine.floatX(), shape=(None, 3), name="x")
        rng = numpy.random.RandomState(0)
        w_value = rng.uniform(-1, 1, size=(3, 3)).astype(engine.floatX())
        w = engine.shared(w_value, "w")
        f = engine.function([x], running_sums(T, x, w), shapes_at_run_time=True)
        xla_compiles()
        seen = set()
        for steps in (4, 7, 4, 1):
            value = rng.uniform(-1, 1, size=(steps, 3)).astype(engine.floatX())
            numpy.testing.assert_allclose(f(value), numpy_running_sums(value, w_value),
                                          rtol=1e-5 if engine.floatX() == "float32" else 1e-12)
            # XLA compiles a new length only; the PyTensor function is the same
            assert xla_compiles() == (0 if steps in seen else 1)
            seen.add(steps)


def test_other_modes_take_the_flag_as_they_are():
    """(The mode is the test's: C, or JAX in a run of the JAX tests.)"""
    T = engine.T
    x = T.matrix("x", dtype=engine.floatX())
    w_value = numpy.eye(3, dtype=engine.floatX()) / 2
    w = engine.shared(w_value, "w")
    f = engine.function([x], running_sums(T, x, w), shapes_at_run_time=True)
    value = numpy.ones((5, 3), dtype=engine.floatX())
    numpy.testing.assert_allclose(f(value), numpy_running_sums(value, w_value), rtol=1e-5)


@pytest.mark.skipif("jax" not in available_modes(), reason="JAX mode not available")
def test_an_arange_of_a_computed_length():
    """``arange`` of a length computed from an axis unknown in the graph (the LSTM's dropout:
    the MRG streams' count, sized from the minibatch, which a minibatch of one review leaves
    unknown): PyTensor's JAX mode refuses its computed bounds; evaluated while JAX traces, it is
    a constant."""
    with in_mode("jax"):
        T = engine.T
        x = T.tensor(dtype=engine.floatX(), shape=(None, None), name="x")
        f = engine.function([x], x.flatten()[T.arange(x.shape[0] * 2)], shapes_at_run_time=True)
        for rows in (3, 1):
            value = numpy.arange(rows * 4, dtype=engine.floatX()).reshape(rows, 4)
            numpy.testing.assert_array_equal(f(value), value.flatten()[:rows * 2])
