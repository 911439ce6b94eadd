"""pickles: data pickles load, pickles naming anything else do not, and nothing in them runs."""

import io
import os
import pickle

import numpy
import pytest

from dltut import pickles


def test_data_comes_back():
    data = ([numpy.arange(3, dtype="int32"), numpy.zeros((2, 2))], {"a": 1, "b": [1.5, "x"]},
            numpy.float64(2.5), b"bytes", (None, True))
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        loaded = pickles.load(io.BytesIO(pickle.dumps(data, protocol=protocol)))
        assert loaded[1:] == data[1:]
        for got, made in zip(loaded[0], data[0]):
            assert got.dtype == made.dtype and (got == made).all()


def test_python2_numpy_names_are_read():
    # what Python 2's NumPy wrote: numpy.core.multiarray._reconstruct (numpy._core in NumPy 2)
    text = pickle.dumps(numpy.arange(4, dtype="int32"), protocol=2)
    text = text.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    numpy.testing.assert_array_equal(pickles.load(io.BytesIO(text)), numpy.arange(4))


class _System:
    def __reduce__(self):
        return (os.system, ("echo ran",))


def test_code_is_refused():
    text = pickle.dumps([1, _System()], protocol=2)
    with pytest.raises(pickles.UnsafePickleError, match="refused to load posix.system: a dltut "
                                                         "data file holds only lists"):
        pickles.load(io.BytesIO(text))
    with pytest.raises(pickles.UnsafePickleError, match="builtins.eval"):
        pickles.load(io.BytesIO(b"cbuiltins\neval\n(S'1'\ntR."))
