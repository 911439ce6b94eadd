"""dltut.backend.padded: engine.function(..., pad_time=True) in JAX mode, the LSTM's functions."""

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import engine
from dltut.backend import padded
from dltut.engine import T


def test_padded_length_is_the_next_quarter_octave():
    got = {n: padded.padded_length(n) for n in (1, 16, 17, 20, 21, 32, 33, 64, 65, 96, 97, 99, 100,
                                              128, 129, 2500)}
    assert got == {1: 16, 16: 16, 17: 20, 20: 20, 21: 24, 32: 32, 33: 40, 64: 64, 65: 80, 96: 96,
                   97: 112, 99: 112, 100: 112, 128: 128, 129: 160, 2500: 2560}
    for n in range(1, 3000):  # never shorter, at most a quarter longer (past the first 16)
        assert n <= padded.padded_length(n) <= max(16, 1.25 * n)


@pytest.mark.skipif("jax" not in available_modes(), reason="JAX mode not available")
def test_a_padded_function_compiles_ahead_in_the_background(xla_compiles):
    """``prepare`` compiles the padded lengths to come in a thread (one PyTensor build per
    minibatch size); their first calls then only run, and give what an unpadded call gives."""
    with in_mode("jax"):
        x = T.matrix("x", dtype="int64")
        mask = T.matrix("mask", dtype=engine.floatX())
        weights = engine.shared(numpy.arange(1.0, 4.0, dtype=engine.floatX()), "weights")
        state, _ = engine.scan(lambda row, m, h: m * (h + T.cast(row, m.dtype)) + (1 - m) * h,
                               sequences=[x, mask],
                               outputs_info=T.zeros((x.shape[1],), dtype=engine.floatX()))
        f = engine.function([x, mask], state[-1] * weights, name="f", pad_time=True)
        f.prepare([((5, 3), (5, 3)), ((17, 3), (17, 3)), ((5, 3), (5, 3))])
        assert sorted(f.pending) == [((16, 3), (16, 3)), ((20, 3), (20, 3))]
        for future in f.pending.values():
            future.result()
        assert len(f.built) == 1 and xla_compiles() == 2
        rng = numpy.random.RandomState(0)
        for steps in (5, 17, 12, 33):
            values = rng.randint(0, 9, size=(steps, 3))
            lengths = rng.randint(1, steps + 1, size=3)
            m = (numpy.arange(steps)[:, None] < lengths).astype(engine.floatX())
            numpy.testing.assert_array_equal(f(values, m), (values * m).sum(axis=0) * [1, 2, 3])
            assert xla_compiles() == (0 if steps in (5, 17, 12) else 1), steps
        assert f.compiled == {((16, 3), (16, 3)), ((20, 3), (20, 3)), ((40, 3), (40, 3))}
        assert not f.pending and len(f.built) == 1
