"""pickles: data pickles load as NumPy 1 and 2 wrote them, at every protocol; a pickle that names
anything else, asks NumPy for anything but a plain numeric array, or holds more than its size
allows is one UnsafePickleError naming the file, with nothing run and nothing large allocated.

The crafted pickles are made as an attacker makes them: an object whose ``__reduce__`` returns the
call (``Reduce``), or opcodes written by hand. The cases that crashed Python (NumPy's dtype hole,
hashing a deep tuple) run in a subprocess, so that a regression is a failure, not a dead run.
"""

import _codecs
import gzip
import io
import os
import pickle
import pickletools
import struct

import numpy
import pytest

from dltut import pickles

try:
    from numpy._core import multiarray, numeric
except ImportError:  # NumPy 1
    from numpy.core import multiarray, numeric

F8_STATE = (3, "<", None, None, None, -1, -1, 0)  # NumPy's state of a plain little-endian dtype


class Reduce:
    """Pickles as ``function(*args)``, then ``BUILD state`` when a state is given."""

    def __init__(self, function, args, state=None):
        self.function, self.args, self.state = function, args, state

    def __reduce__(self):
        return (self.function, self.args) + (() if self.state is None else (self.state,))


def dtype(code="f8", state=F8_STATE):
    """A dtype as the pickle asks numpy.dtype for it: ``numpy.dtype(code, False, True)`` with
    ``state`` (none: no BUILD)."""
    return Reduce(numpy.dtype, (code, False, True), state)


def reconstructed(shape, data, of=None, fortran=False):
    """An array as NumPy's pickle makes it: ``_reconstruct`` then ``BUILD (1, shape, dtype,
    fortran, data)``."""
    return Reduce(multiarray._reconstruct, (numpy.ndarray, (0,), b"b"),
                  (1, shape, of or dtype(), fortran, data))


def load(value_or_text, protocol=2):
    text = value_or_text if isinstance(value_or_text, bytes) else \
        pickle.dumps(value_or_text, protocol=protocol)
    return pickles.load(io.BytesIO(text), source="crafted.pkl")


def numpy1_names(text):
    """The pickle ``text`` as NumPy 1 wrote it: ``numpy.core`` for ``numpy._core`` (frames
    dropped, whose lengths would be wrong; an unpickler needs none)."""
    frames = [position for op, _, position in pickletools.genops(text) if op.name == "FRAME"]
    for position in reversed(frames):
        text = text[:position] + text[position + 9:]
    for module in (b"multiarray", b"numeric"):
        new, old = b"numpy.core." + module, b"numpy._core." + module
        text = text.replace(old + b"\n", new + b"\n")  # GLOBAL (protocols 0-3)
        text = text.replace(bytes([0x8c, len(old)]) + old, bytes([0x8c, len(new)]) + new)
    return text


PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


# ----------------------------------------------------------------------------------------------
# What loads


def assert_same(got, made):
    assert type(got) is type(made), (got, made)
    if isinstance(made, numpy.ndarray):
        assert got.dtype == made.dtype and got.shape == made.shape
        assert got.flags.writeable and (got.flags.f_contiguous or not made.flags.f_contiguous)
        numpy.testing.assert_array_equal(got, made)
    elif isinstance(made, (list, tuple)):
        assert len(got) == len(made)
        for g, m in zip(got, made):
            assert_same(g, m)
    elif isinstance(made, dict):
        assert list(got) == list(made)
        for key in made:
            assert_same(got[key], made[key])
    else:
        assert got == made or (got != got and made != made)


ARRAYS = [numpy.arange(-3, 4, dtype=code) if code[0] in "if" else
          numpy.array([0, 1, 200], dtype=code) if code[0] == "u" else
          numpy.array([True, False]) if code == "b1" else numpy.array([1 + 2j, -3j], dtype=code)
          for code in sorted(pickles.DTYPES)]
ARRAYS += [numpy.arange(3, dtype=">i4"), numpy.arange(4, dtype=">f8"),
           numpy.asfortranarray(numpy.arange(6, dtype="f4").reshape(2, 3)),
           numpy.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
           numpy.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1),  # protocol 5: order K
           numpy.array([]), numpy.zeros((0, 784), "float32"), numpy.array(7.5),
           numpy.array([numpy.nan, numpy.inf])]
SCALARS = [numpy.float64(2.5), numpy.int64(-3), numpy.uint8(7), numpy.bool_(True),
           numpy.complex128(1 + 2j), numpy.float32(0.1), numpy.int32(2**31 - 1)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("numpy1", [False, True], ids=["numpy2", "numpy1"])
def test_arrays_and_scalars_of_every_plain_dtype_come_back(protocol, numpy1):
    text = pickle.dumps((ARRAYS, SCALARS), protocol=protocol)
    got = load(numpy1_names(text) if numpy1 else text)
    assert_same(got, (ARRAYS, SCALARS))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_data_comes_back(protocol):
    data = ([numpy.arange(3, dtype="int32"), numpy.zeros((2, 2))], {"a": 1, "b": [1.5, "x"]},
            numpy.float64(2.5), b"bytes", b"", (None, True, 10**30, -(2**70)), "é")
    assert_same(load(data, protocol), data)
    if protocol >= 4:  # sets (at protocols 0-3 a call of builtins.set: refused)
        assert load([{1, "a"}, frozenset([2.5])], protocol) == [{1, "a"}, frozenset([2.5])]


def test_python2_numpy_names_are_read():
    # what Python 2's NumPy wrote: numpy.core.multiarray._reconstruct (numpy._core in NumPy 2)
    text = pickle.dumps(numpy.arange(4, dtype="int32"), protocol=2)
    text = text.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    numpy.testing.assert_array_equal(load(text), numpy.arange(4))


def py2_array(a):
    """Protocol-2 opcodes of ``a`` as NumPy 1 on Python 2 wrote them (mnist.pkl.gz): the data
    a Python 2 str (BINSTRING), read as latin1."""
    shape = b"".join(b"J" + struct.pack("<i", n) for n in a.shape)
    shape += {1: b"\x85", 2: b"\x86"}[a.ndim]  # TUPLE1, TUPLE2
    code, order = a.dtype.str[1:].encode(), a.dtype.str[:1].encode()
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01"
            + shape + b"cnumpy\ndtype\nU" + bytes([len(code)]) + code
            + b"K\x00K\x01\x87R(K\x03U\x01" + order + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"
            + struct.pack("<I", a.nbytes) + a.tobytes() + b"tb")


def test_the_tutorials_formats_load():
    from dltut.tutorials.rnnslu import toy_fold

    # mnist.pkl.gz: ((x, y), (x, y), (x, y)) written by Python 2
    sets = [(numpy.random.RandomState(n).rand(n, 784).astype("float32"), numpy.arange(n))
            for n in (5, 2, 3)]
    text = b"\x80\x02(" + b"".join(b"(" + py2_array(x) + py2_array(y) + b"t" for x, y in sets) \
        + b"t."
    assert_same(load(text), tuple(map(tuple, sets)))
    # the ATIS folds: lists of int arrays and dicts of names
    fold = toy_fold(5, 3, 2, seed=1)
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        assert_same(load(numpy1_names(pickle.dumps(fold, protocol))), fold)
    # imdb.pkl: two pickles one after the other, each (reviews, labels)
    train, test = ([[2, 3, 70000], [5]], [1, 0]), ([[9, 9]], [0])
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        text = pickle.dumps(train, protocol) + pickle.dumps(test, protocol)
        file = io.BytesIO(gzip.compress(text))
        with gzip.open(file, "rb") as f:
            assert (pickles.load(f), pickles.load(f)) == (train, test)


def test_empty_bytes_at_protocol_2_loads():
    # Python 3 writes b"" at protocols 0-2 as a call of __builtin__.bytes with no argument
    for protocol in (0, 2):
        text = pickle.dumps([b"", numpy.array([])], protocol)
        assert b"__builtin__\nbytes" in text
        got = load(text)
        assert got[0] == b"" and got[1].shape == (0,) and got[1].dtype == numpy.float64


def test_a_shared_array_stays_shared():
    a = numpy.arange(3)
    for protocol in (2, 5):
        got = load([a, a, (a, {"a": a})], protocol)
        assert type(got[0]) is numpy.ndarray and got[0] is got[1] is got[2][0] is got[2][1]["a"]


def test_a_file_without_tell_is_counted():
    class Pipe:
        def __init__(self, data):
            self._file = io.BytesIO(data)
            self.read, self.readline = self._file.read, self._file.readline

    assert_same(pickles.load(Pipe(pickle.dumps(ARRAYS, 2))), ARRAYS)
    with pytest.raises(pickles.UnsafePickleError, match="written out in full"):
        pickles.load(Pipe(pickle.dumps([numpy.zeros(784)] * 5000, 2)))


def test_a_large_memo_index_allocates_nothing():
    # the C unpickler sizes its memo by the index: LONG_BINPUT 2**31 would take 16 GiB
    assert load(b"\x80\x02Nr\x00\x00\x00\x800j\x00\x00\x00\x80.") is None


# ----------------------------------------------------------------------------------------------
# What is refused


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


# NumPy's dtype hole: a copy of dtype('O') with its flags cleared makes NumPy take 8 bytes of the
# file as an object pointer (SIGSEGV, or a write where the file says)
OBJECT_NO_FLAGS = dtype("O8", (3, "|", None, None, None, -1, -1, 0))
EXPLOITS = {
    "scalar": Reduce(multiarray.scalar, (OBJECT_NO_FLAGS, b"AAAAAAAA")),
    "reconstruct": reconstructed((1,), b"AAAAAAAA", of=OBJECT_NO_FLAGS),
    "frombuffer": Reduce(numeric._frombuffer, (b"AAAAAAAA", OBJECT_NO_FLAGS, (1,), "C")),
}


@pytest.mark.parametrize("name", sorted(EXPLOITS))
def test_numpys_dtype_hole_is_one_line_not_a_crash(tmp_path, name):
    from hostile import assert_refused, run_dltut

    path = tmp_path / "crafted.pkl"
    path.write_bytes(pickle.dumps(EXPLOITS[name], protocol=2))
    code = ("import sys; from dltut import pickles; from dltut.cli import exit_status; "
            "sys.exit(exit_status('load', lambda: pickles.load(open(sys.argv[1], 'rb'))))")
    assert_refused(run_dltut(["-c", code, str(path)], tmp_path), "crafted.pkl",
                   "refused an array of dtype 'O8'")


def test_a_deep_tuple_as_a_dict_key_is_refused_not_a_crash(tmp_path):
    # hashing a tuple nested a million deep overflows the C stack
    from hostile import assert_refused, run_dltut

    path = tmp_path / "crafted.pkl"
    path.write_bytes(b"\x80\x02})" + b"\x85" * 10**6 + b"Ns.")
    code = ("import sys; from dltut import pickles; from dltut.cli import exit_status; "
            "sys.exit(exit_status('load', lambda: pickles.load(open(sys.argv[1], 'rb'))))")
    assert_refused(run_dltut(["-c", code, str(path)], tmp_path), "crafted.pkl",
                   "refused a dict key or set item of type tuple")


HUGE = 10**6
REFUSED = {
    "object array": (numpy.array([1, None], dtype=object), "refused an array of dtype 'O8'"),
    "structured": (numpy.zeros(2, dtype=[("a", "f8")]), "refused an array of dtype 'V8'"),
    "text array": (numpy.array(["ab"]), "refused an array of dtype 'U2'"),
    "datetime": (numpy.array(["2020-01-01"], dtype="M8[D]"), "refused an array of dtype 'M8'"),
    "dtype flags": (reconstructed((1,), bytes(8), of=dtype("f8", (3, "<", None, None, None, -1,
                                                                  -1, 63))),
                    "refused the dtype state .* for 'f8' .*no fields, subarray, item size or "
                    "flags"),
    "dtype fields": (reconstructed((1,), bytes(8), of=dtype("f8", (3, "|", None, ("a",),
                                                                   {"a": 1}, 8, 1, 0))),
                     "refused the dtype state"),
    "dtype aligned": (Reduce(numpy.dtype, ("f8", 2, True)), "refused dtype arguments"),
    "dtype state twice": (Reduce(lambda: None, ()), None),  # replaced below (needs opcodes)
    "dtype never built": (Reduce(multiarray.scalar, (dtype(state=None), bytes(8))),
                          "refused a dtype 'f8' whose byte order was never set"),
    "codec": (Reduce(_codecs.encode, ("x", "rot13")),
              "refused _codecs.encode of 'x' with 'rot13' \\(only a string with latin1\\)"),
    "codec of bytes": (Reduce(_codecs.encode, (b"x", "latin1")), "refused _codecs.encode of b'x'"),
    "bytes of a size": (Reduce(bytes, (10**9,)), "refused the call bytes\\(1000000000,\\)"),
    "data too short": (reconstructed((3,), bytes(16)),
                       "refused an array of shape \\(3,\\) and dtype float64 from 16 bytes of "
                       "data \\(24 expected\\)"),
    "huge shape": (reconstructed((HUGE, HUGE), bytes(16)),
                   "refused an array of shape \\(1000000, 1000000\\) and dtype float64 from "
                   "16 bytes of data \\(8,000,000,000,000 expected\\)"),
    "shape beyond any file": (reconstructed((2**40, 0), b""), "refused the array shape"),
    "negative shape": (reconstructed((-1,), b""), "refused the array shape \\(-1,\\)"),
    "float shape": (reconstructed((2.5,), b""), "refused the array shape \\(2.5,\\)"),
    "data not bytes": (reconstructed((1,), [1.0]), "refused array data of type list"),
    "array state": (Reduce(multiarray._reconstruct, (numpy.ndarray, (0,), b"b"), {"a": 1}),
                    "refused the array state \\{'a': 1\\}"),
    "frombuffer too short": (Reduce(numeric._frombuffer, (bytes(8), dtype(), (HUGE, HUGE), "C")),
                             "refused an array of shape \\(1000000, 1000000\\) and dtype "
                             "float64 from 8 bytes of data \\(8,000,000,000,000 expected\\)"),
    "frombuffer order": (Reduce(numeric._frombuffer, (bytes(8), dtype(), (1,), "Q")),
                         "refused the array order"),
    "frombuffer axes": (Reduce(numeric._frombuffer, (bytes(16), dtype(), (1, 2), "K", (0, 0))),
                        "refused the axis order \\(0, 0\\)"),
    "reconstruct of another class": (Reduce(multiarray._reconstruct, (numpy.dtype, (0,), b"b")),
                                     "refused _reconstruct of"),
    "ndarray called": (Reduce(numpy.ndarray, ((HUGE, HUGE),)),
                       "refused a call of numpy.ndarray"),
    "a list of itself": (None, "refused a list that holds itself"),
}
REFUSED["a list of itself"] = ((lambda x: x.append(x) or x)([]), REFUSED["a list of itself"][1])
REFUSED["dtype state twice"] = (
    b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R" + pickle.dumps(F8_STATE, 2)[2:-1]
    + b"b" + pickle.dumps(F8_STATE, 2)[2:-1] + b"b.", "refused a second state for one dtype")


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_what_numpy_must_not_build_is_refused(name, protocol):
    value, message = REFUSED[name]
    with pytest.raises(pickles.UnsafePickleError, match="^crafted.pkl: " + message) as caught:
        load(value, protocol)
    assert "\n" not in str(caught.value) and "nothing was run" in str(caught.value)


@pytest.mark.parametrize("text, message", [
    (b"\x80\x02]}b.", "refused a state for a list"),
    (b"\x80\x02cnumpy\ndtype\n)\x81.", "refused the opcode NEWOBJ"),
    (b"\x80\x02\x82\x01.", "refused the opcode EXT1"),
    (b"\x80\x05N\x98.", "refused the opcode READONLY_BUFFER"),
    (b"\x80\x02}Na.", "refused to append to a value of type dict"),
    (b"\x80\x02]NNs.", "refused to set an item of a value of type list"),
    (b"\x80\x02N)R.", "refused a call of None"),
    (b"\x80\x02" + b")" + b"\x85" * 1000 + b".", "refused containers nested more than 100 deep"),
    (b"\x80\x02}]Ns.", "refused a dict key or set item of type list"),
], ids=["build", "newobj", "ext", "buffer", "append", "setitem", "call", "deep", "key"])
def test_opcodes_beyond_plain_data_are_refused(text, message):
    with pytest.raises(pickles.UnsafePickleError, match="^crafted.pkl: " + message):
        load(text)


@pytest.mark.parametrize("text, error, message", [
    (b"\x80\x02\xff", pickle.UnpicklingError, "no opcode b'\\\\xff'"),
    (b"\x80\x02(]", EOFError, "the pickle ends before its STOP opcode"),
    (b"\x80\x02R.", pickle.UnpicklingError, "IndexError"),
    (b"\x80\x02\x8e" + struct.pack("<Q", 2**29) + b"abc.", pickle.UnpicklingError,
     "pickle data was truncated"),
])
def test_a_damaged_pickle_is_an_unpickling_error(text, error, message):
    with pytest.raises(error, match=message):
        load(text)


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x8d", b"\x96", b"\x95"],
                         ids=["BINBYTES8", "BINUNICODE8", "BYTEARRAY8", "FRAME"])
def test_a_claimed_length_allocates_nothing(opcode):
    with pytest.raises(pickles.UnsafePickleError,
                       match="refused a string of 1,099,511,627,776 bytes"):
        load(b"\x80\x05" + opcode + struct.pack("<Q", 2**40) + b"abc.")


# ----------------------------------------------------------------------------------------------
# Sizes: what a small file may make


def test_memo_amplification_is_refused():
    row = numpy.zeros(784, "float32")
    text = pickle.dumps([row] * 200_000, 2)  # 400 KB: a memo GET a row; 627 MB written out
    with pytest.raises(pickles.UnsafePickleError, match="written out in full .*a row "
                                                        "referenced again and again"):
        load(text)
    with pytest.raises(pickles.UnsafePickleError, match="written out in full"):
        load([[row] * 1000] * 1000)  # 3 GB from a few KB: refused without a look at every row
    assert len(load([row] * 1000)) == 1000  # within what its size allows


def memoized_calls(setup, call, n):
    """A protocol-2 pickle of the list of ``n`` results of ``call`` (opcodes that GET what
    ``setup`` memoized, then REDUCE)."""
    return b"\x80\x02" + setup + b"]q\x00(" + call * n + b"e."


def test_one_string_made_into_many_is_refused():
    # _codecs.encode of one memoized 1 MB string, called again and again: each call a new 1 MB
    setup = (b"c_codecs\nencode\nq\x010X" + struct.pack("<I", 2**20) + b"a" * 2**20
             + b"q\x020X\x06\x00\x00\x00latin1q\x030")
    call = b"h\x01h\x02h\x03\x86R"
    assert load(memoized_calls(setup, call, 10)) == [b"a" * 2**20] * 10  # within its allowance
    with pytest.raises(pickles.UnsafePickleError, match="refused bytes: it brings what the "
                                                        "pickle builds to .* made again and"):
        load(memoized_calls(setup, call, 100))
    # arrays from one memoized buffer of 1 MB, again and again
    setup = (b"cnumpy._core.numeric\n_frombuffer\nq\x010B" + struct.pack("<I", 2**20)
             + bytes(2**20) + b"q\x020cnumpy\ndtype\nX\x02\x00\x00\x00u1\x89\x88\x87R(K\x03"
             + b"X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbq\x030J"
             + struct.pack("<i", 2**20) + b"\x85q\x040X\x01\x00\x00\x00Cq\x050")
    call = b"h\x01(h\x02h\x03h\x04h\x05tR"
    assert len(load(memoized_calls(setup, call, 10))) == 10
    with pytest.raises(pickles.UnsafePickleError, match="refused an array of shape \\(1048576,\\) "
                                                        "and dtype uint8: it brings"):
        load(memoized_calls(setup, call, 100))


def test_a_pickle_runs_and_holds_only_so_much(monkeypatch):
    monkeypatch.setattr(pickles, "MAX_OPCODES", 2**17)
    assert len(load([None] * 100_000)) == 100_000
    with pytest.raises(pickles.UnsafePickleError, match="more than 131,072 opcodes"):
        load([None] * 200_000)  # a flood of opcodes, each pushing an object
    monkeypatch.setattr(pickles, "MAX_BYTES", 2**20)
    strings = [f"{i:05}" * 10_000 for i in range(30)]  # 30 strings of 50 KB
    assert load(strings[:5]) == strings[:5]
    for protocol in (0, 2):  # lines (protocol 0) and strings
        with pytest.raises(pickles.UnsafePickleError, match="refused a string of .* bytes: with "
                                                            "the .* before it, more than a data "
                                                            "pickle holds \\(1,048,576\\)"):
            load(strings, protocol)
    with pytest.raises(pickles.UnsafePickleError, match="refused a pickle of more than 1,048,576 "
                                                        "bytes"):
        load([bytes([i % 256]) * 200 for i in range(70_000)], 3)  # short bytes: bytes read


# ----------------------------------------------------------------------------------------------
# On the command line: dltut run logreg --dataset


def _mnist_pickle(path, train_x):
    sets = ((train_x, numpy.zeros(3, "int64")), (numpy.zeros((1, 784), "float32"),
                                                 numpy.zeros(1, "int64")),
            (numpy.zeros((1, 784), "float32"), numpy.zeros(1, "int64")))
    path.write_bytes(gzip.compress(pickle.dumps(sets, 2)))
    return path


@pytest.mark.parametrize("train_x, words", [
    (EXPLOITS["scalar"], ["refused an array of dtype 'O8'"]),
    (reconstructed((HUGE, HUGE), bytes(16)), ["8,000,000,000,000 expected"]),
    ([numpy.zeros(784, "float32")] * 3_000_000, ["written out in full"]),  # 19 KB: 17.5 GiB
    (Reduce(_codecs.encode, ("x", "no-such-codec")), ["'no-such-codec'"]),
], ids=["dtype-hole", "huge-shape", "memo", "codec"])
def test_logreg_refuses_a_crafted_mnist_pickle_in_one_line(tmp_path, train_x, words):
    from hostile import assert_refused, run_dltut

    path = _mnist_pickle(tmp_path / "mnist.pkl.gz", train_x)
    assert path.stat().st_size < 100_000
    refused = run_dltut(["run", "logreg", "--dataset", path, "--n-epochs", 1], tmp_path)
    assert_refused(refused, "mnist.pkl.gz", *words)
