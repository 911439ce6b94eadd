"""inc_rows: ``x[idx] += y`` on a matrix in the C mode against NumPy's ``add.at``."""

import numpy
import pytest

from conftest import in_mode
from dltut import engine

pytestmark = pytest.mark.skipif(engine.name() != "pytensor", reason="IncRows is a PyTensor op")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_c_mode_adds_rows_as_add_at_does(dtype):
    """Repeated and negative indices, a transposed (strided) y; the rows added in order, so
    float32 sums round as add.at's do; the graph's op is IncRows."""
    import pytensor.tensor as pt

    from dltut.backend.inc_rows import IncRows

    x = pt.matrix("x", dtype=dtype)
    yt = pt.matrix("yt", dtype=dtype)
    idx = pt.vector("idx", dtype="int32")
    with in_mode("c"):
        f = engine.function([x, yt, idx], [pt.inc_subtensor(x[idx], yt.T), engine.grad(
            (x[idx] ** 2).sum(), x)])
    ops = [node.op for node in f.maker.fgraph.apply_nodes]
    assert any(isinstance(op, IncRows) for op in ops), ops
    rng = numpy.random.RandomState(0)
    a = rng.normal(size=(6, 4)).astype(dtype)
    b = rng.normal(size=(4, 9)).astype(dtype) * 1e3
    rows = numpy.array([0, 5, -1, 2, 0, 0, -6, 3, 5], dtype="int32")
    expected = a.copy()
    numpy.add.at(expected, rows, b.T)
    expected_grad = numpy.zeros_like(a)
    numpy.add.at(expected_grad, rows, 2 * a[rows])
    got, grad = f(a, b, rows)
    numpy.testing.assert_array_equal(got, expected)
    numpy.testing.assert_array_equal(grad, expected_grad)
    numpy.testing.assert_array_equal(a, a.copy())  # the input is left as it was
    with pytest.raises(IndexError, match="out of bounds"):
        f(a, b[:, :1], numpy.array([6], dtype="int32"))


def test_its_perform_is_add_at():
    from dltut.backend.inc_rows import IncRows
    import pytensor

    x, y = engine.T.matrix("x", dtype="float64"), engine.T.matrix("y", dtype="float64")
    idx = engine.T.vector("idx", dtype="int64")
    f = pytensor.function([x, y, idx], IncRows()(x, y, idx),
                          mode=pytensor.compile.mode.Mode(linker="py", optimizer=None))
    a, b = numpy.ones((3, 2)), numpy.arange(8.0).reshape(4, 2)
    expected = a.copy()
    numpy.add.at(expected, [2, 2, 0, -1], b)
    numpy.testing.assert_array_equal(f(a, b, [2, 2, 0, -1]), expected)
