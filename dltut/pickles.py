"""The one way dltut reads a pickle: a restricted unpickler that builds data and runs nothing.

A pickle is a small program: its ``GLOBAL``/``STACK_GLOBAL`` opcodes import any callable a file
names (``os.system``) and ``REDUCE`` calls it; ``BUILD`` hands a state of the file's choosing to
the object's ``__setstate__``. The tutorials' files (``mnist.pkl.gz``, ``imdb.pkl``, the ATIS
folds) hold only tuples, lists, dicts, strings, numbers and NumPy arrays of numbers. So:

* A name is imported by nobody. ``find_class`` answers the few names a NumPy array, dtype or
  scalar pickle uses (under their NumPy 1 ``numpy.core`` and NumPy 2 ``numpy._core`` spellings),
  ``_codecs.encode`` and ``bytes`` (by which Python 3 writes bytes at protocol 2), with stand-ins
  of this module; anything else is refused before it is imported.
* NumPy never receives a value from the file. The stand-ins record what the pickle asks for (a
  dtype from a short list of plain numeric kinds, a byte order, a shape, the raw bytes), check it,
  and only then build the array with ``numpy.frombuffer``: a dtype with flags or fields, an object
  or structured dtype, a shape its bytes do not fill, are refused with one line. ``BUILD`` sets
  the state of these stand-ins only.
* Sizes are checked before anything is allocated: every array, bytes and string the stand-ins
  build counts against an allowance proportional to the bytes read from the file, and so does
  the loaded object written out in full (a row referenced three million times through the memo
  counts three million times, as ``numpy.asarray`` would copy it), so a small file cannot make a
  reader allocate gigabytes. A length the file claims is read in pieces (nothing is allocated
  for bytes that are not there), and a pickle may run ``MAX_OPCODES`` opcodes and hold
  ``MAX_BYTES``: a few MB of gzip can hold a GB of opcodes, each making an object.

* A dict key or set item is a string, number or flat tuple of them: hashing a tuple nested a
  million deep (a byte a level in a pickle) overflows the C stack.

This is the pure-Python unpickler (``pickle._Unpickler``) with some opcodes replaced: the C one
can be hooked only through ``find_class``, it sizes its memo by the largest index a file names
(``LONG_BINPUT 2**31`` allocates 16 GiB) and it hashes keys of any depth. The price is speed on
many small opcodes (imdb.pkl's lists of ints); a few large strings (mnist.pkl.gz) cost little.
"""

import io
import math
import pickle
import reprlib
import struct

import numpy

# (module, name) pairs a NumPy array, dtype or scalar pickle imports, and the method of
# RestrictedUnpickler that stands in for each (nothing is imported)
_CONSTRUCTORS = {
    ("numpy", "dtype"): "_dtype", ("numpy", "ndarray"): None,  # _reconstruct's argument
    ("_codecs", "encode"): "_encode", ("builtins", "bytes"): "_bytes",
    ("__builtin__", "bytes"): "_bytes",  # Python 2's name, as Python 3 writes it at protocol 2
    **{(f"numpy.{core}.{module}", name): method
       for core in ("core", "_core")
       for module, name, method in (("multiarray", "_reconstruct", "_reconstruct"),
                                    ("multiarray", "scalar", "_scalar"),
                                    ("numeric", "_frombuffer", "_frombuffer"))},
}
ALLOWED = frozenset(_CONSTRUCTORS)

# The dtypes an array or scalar may have, as NumPy's dtype pickle names them (kind and item
# size): bool, signed and unsigned integers, floats and complex numbers.
DTYPES = frozenset("b1 i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8 c8 c16".split())
BYTE_ORDERS = frozenset("<>|=")

MAX_BYTES = 2**30  # the most a data pickle may hold (mnist.pkl.gz is 220 MB uncompressed)
MAX_OPCODES = 2**25  # the most opcodes it may run (imdb.pkl's train set runs 6 million)
# What a pickle builds may be SIZE_FACTOR times the bytes read from it plus SIZE_ALLOWANCE
# (written out, IMDB's lists of ints come to 4 times their pickle at protocol 2, a list of None 8)
SIZE_FACTOR = 16
SIZE_ALLOWANCE = 2**24
MAX_DEPTH = 100  # containers nested deeper are refused (the tutorials' files nest 4 deep)
_CHUNK = 2**24  # a string longer than this is read in pieces of this size

_HOLDS = ("a dltut data file holds only lists, tuples, dicts, strings, numbers and NumPy arrays of "
          "numbers (nothing was run; use the data file the tutorial names, or rebuild it)")
_PLAIN = frozenset([int, float, bool, type(None)])  # what a list of numbers holds
_KEYS = frozenset([str, bytes, int, float, bool, type(None)])  # what a dict key may be
_show = reprlib.Repr()
_show.maxstring = _show.maxother = 60


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle holds something other than plain data: a name it would import, an array NumPy
    could not build safely, or more than its size allows. A ValueError, so that the command line
    reports it as one line."""


class _Refused(Exception):
    """What is wrong with the pickle, without the file's name (``load`` adds it)."""


class _Dtype:
    """What ``numpy.dtype(code, align, copy)`` and the ``BUILD`` after it ask for: a plain
    numeric dtype of ``DTYPES`` in a byte order of ``BYTE_ORDERS``, checked."""

    def __init__(self, name, align=False, copy=True):
        code = _text(name)
        if code not in DTYPES:
            raise _Refused(f"refused an array of dtype {_show.repr(name)}")
        if not _flag(align) or not _flag(copy):
            raise _Refused(f"refused dtype arguments {_show.repr((code, align, copy))}")
        self.code = code
        self.dtype = None  # the numpy dtype, once BUILD gave the byte order

    def set_state(self, state):
        """NumPy's dtype state, ``(3, byte order, None, None, None, -1, -1, 0)`` (version 4
        adds ``None`` metadata): anything else (fields, a subarray, an item size, flags) would
        make another dtype than the plain one its code names."""
        if self.dtype is not None:
            raise _Refused("refused a second state for one dtype")
        plain = (type(state) is tuple and len(state) in (8, 9) and type(state[0]) is int
                 and state[0] == len(state) - 5 and _text(state[1]) in BYTE_ORDERS
                 and all(value is None for value in state[2:5] + state[8:])
                 and all(type(value) is int for value in state[5:8])
                 and state[5:8] == (-1, -1, 0))
        if not plain:
            raise _Refused(f"refused the dtype state {_show.repr(state)} for {self.code!r} (only "
                           "plain numbers: no fields, subarray, item size or flags)")
        order = _text(state[1])
        self.dtype = numpy.dtype(("=" if order == "|" else order) + self.code)

    def built(self):
        if self.dtype is None:
            raise _Refused(f"refused a dtype {self.code!r} whose byte order was never set")
        return self.dtype


class _Array:
    """What ``numpy.core.multiarray._reconstruct(ndarray, (0,), b"b")`` and the ``BUILD`` after
    it ask for: the array its state describes, once ``RestrictedUnpickler._build_array`` made
    it."""

    def __init__(self):
        self.array = None


class _Marker:
    """``numpy.ndarray`` as a pickle names it: the class ``_reconstruct`` is asked to make."""

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _Marker()


class _Dispatch(dict):
    """The unpickler's opcode table: an opcode it lacks is a damaged pickle."""

    def __missing__(self, code):
        raise pickle.UnpicklingError(f"no opcode {bytes([code])!r}")


def _refuse_opcode(name):
    def load(self):
        raise _Refused(f"refused the opcode {name}")
    return load


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler of plain data and numeric NumPy arrays; ``source`` names the file in errors.

    ``load`` returns only lists, tuples, dicts, sets, strings, bytes, numbers, NumPy arrays and
    scalars; a ``_Refused`` error says what else the file asked for.
    """

    dispatch = _Dispatch(pickle._Unpickler.dispatch)

    def __init__(self, file, source="the pickle", encoding="latin1"):
        try:
            start = file.tell()
        except (AttributeError, OSError, ValueError):  # a pipe: count what is read instead
            file, start = _Counted(file), 0
        super().__init__(file, encoding=encoding)
        self.source = source
        self._file, self._start = file, start
        self._built = 0  # bytes of the arrays, bytes and strings the stand-ins made so far
        self._strings = 0  # bytes of the strings (and protocol 0's lines) read so far

    def load(self):
        """``pickle._Unpickler.load`` within ``MAX_OPCODES`` opcodes and ``MAX_BYTES`` read
        (looked at every 65,536 opcodes), the result through ``_finish``. It reads straight from
        the file until a ``FRAME`` (there is none at protocols 0-3), not through ``_Unframer``
        (a Python call a read): a third faster through imdb.pkl's lists of ints."""
        self._unframer = pickle._Unframer(self._file_read, self._readline)
        self.read, self.readline = self._file_read, self._readline
        self.readinto = self._unframer.readinto
        self.metastack, self.stack = [], []
        self.append = self.stack.append
        self.proto = 0
        dispatch = self.dispatch
        try:
            for _ in range(MAX_OPCODES >> 16):
                for _ in range(2**16):  # opcodes between two looks at the bytes read
                    key = self.read(1)
                    if not key:
                        raise EOFError("the pickle ends before its STOP opcode")
                    dispatch[key[0]](self)
                self._check_read()
            raise _Refused(f"refused a pickle of more than {MAX_OPCODES:,} opcodes (imdb.pkl's "
                           "train set has 6 million; each opcode may make an object)")
        except pickle._Stop as stop:
            return self._finish(stop.value)
        finally:  # what only the memo holds (strings of array data) goes now, and the cycles
            self.memo.clear()  # through self._readline with it
            self.read = self.readline = self.readinto = self._unframer = None

    def find_class(self, module, name):
        if (module, name) not in _CONSTRUCTORS:
            raise _Refused(f"refused to load {module}.{name}")
        method = _CONSTRUCTORS[module, name]
        return _NDARRAY if method is None else getattr(self, method)

    # --- the stand-ins that find_class gives ----------------------------------------------

    def _dtype(self, *args):
        return _Dtype(*args)

    def _reconstruct(self, subtype, shape, typecode):
        if subtype is not _NDARRAY:
            raise _Refused(f"refused _reconstruct of {_show.repr(subtype)} (only numpy.ndarray)")
        return _Array()

    def _frombuffer(self, data, dtype, shape, order, axis_order=None):
        """NumPy 2's pickle of a contiguous array at protocol 5: ``order`` is C or F, or K
        with ``axis_order`` the axes of the C-ordered ``shape`` in the array's order."""
        order = _text(order)
        if order not in ("C", "F", "K") or (order == "K") != (axis_order is not None):
            raise _Refused(f"refused the array order {_show.repr((order, axis_order))}")
        array = self._new_array(data, dtype, shape, order == "F")
        if axis_order is not None:
            if type(axis_order) is not tuple or not all(type(axis) is int for axis in axis_order) \
                    or sorted(axis_order) != list(range(array.ndim)):
                raise _Refused(f"refused the axis order {_show.repr(axis_order)} of an array of "
                               f"shape {array.shape}")
            array = array.transpose(axis_order)
        return array

    def _scalar(self, dtype, data):
        """A NumPy scalar: one item of ``dtype`` from its raw bytes."""
        return self._new_array(data, dtype, (), False)[()]

    def _encode(self, text, encoding):
        """``_codecs.encode(text, "latin1")``: how Python 3 writes bytes at protocols 0-2."""
        if type(text) is not str or _text(encoding) not in ("latin1", "latin-1"):
            raise _Refused(f"refused _codecs.encode of {_show.repr(text)} with "
                           f"{_show.repr(encoding)} (only a string with latin1)")
        self._charge(len(text), "bytes")
        try:
            return text.encode("latin1")
        except UnicodeEncodeError:
            raise _Refused(f"refused _codecs.encode of {_show.repr(text)}: not latin1") from None

    def _bytes(self, *args):
        """``bytes()``, how Python 3 writes ``b""`` at protocols 0-2, or ``bytes(text,
        "latin1")``."""
        if len(args) not in (0, 2):
            raise _Refused(f"refused the call bytes{_show.repr(args)} (only bytes() or "
                           "bytes(text, 'latin1'))")
        return self._encode(*args) if args else b""

    # --- arrays ----------------------------------------------------------------------------

    def _build_array(self, target, state):
        """``BUILD`` of a ``_reconstruct``ed array: NumPy's state ``(1, shape, dtype,
        is_fortran, raw bytes)`` (or without the version 1)."""
        if target.array is not None:
            raise _Refused("refused a second state for one array")
        if type(state) is tuple and len(state) == 5 and type(state[0]) is int and state[0] == 1:
            state = state[1:]
        if type(state) is not tuple or len(state) != 4:
            raise _Refused(f"refused the array state {_show.repr(state)}")
        shape, dtype, fortran, data = state
        if not _flag(fortran):
            raise _Refused(f"refused the array order {_show.repr(fortran)}")
        target.array = self._new_array(data, dtype, shape, bool(fortran))
        return target.array

    def _new_array(self, data, dtype, shape, fortran):
        """The array of ``shape`` and ``dtype`` (a ``_Dtype``) that the raw bytes ``data`` fill
        exactly, in Fortran order if ``fortran``: checked and counted before it is made, writable
        and sharing nothing (Python 2's str is encoded into a buffer of its own, bytes copied)."""
        if not isinstance(dtype, _Dtype):
            raise _Refused(f"refused an array of dtype {_show.repr(dtype)}")
        dtype = dtype.built()
        if type(shape) is not tuple or len(shape) > 32 or not all(
                type(n) is int and 0 <= n <= MAX_BYTES for n in shape):
            raise _Refused(f"refused the array shape {_show.repr(shape)} (up to 32 sizes, each "
                           f"an int from 0 to {MAX_BYTES})")
        if type(data) not in (str, bytes, bytearray):
            raise _Refused(f"refused array data of type {type(data).__name__} (bytes only)")
        size = math.prod(shape) * dtype.itemsize
        if size != len(data):  # a str read as latin1 has a character a byte
            raise _Refused(f"refused an array of shape {shape} and dtype {dtype} from "
                           f"{len(data):,} bytes of data ({size:,} expected)")
        self._charge(size, f"an array of shape {shape} and dtype {dtype}")
        order = "F" if fortran else "C"
        if type(data) is str:
            return _latin1_array(data).view(dtype).reshape(shape, order=order)
        return numpy.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy(order="K")

    def _bytes_read(self):
        return self._file.tell() - self._start

    def _check_read(self):
        """Refuse a pickle longer than ``MAX_BYTES``: a gzip file of a few MB can hold a GB of
        opcodes."""
        if self._bytes_read() > MAX_BYTES:
            raise _Refused(f"refused a pickle of more than {MAX_BYTES:,} bytes (the tutorials' "
                           "largest, mnist.pkl.gz, is 220 MB uncompressed)")

    def _count(self, size):
        """Count ``size`` bytes of strings and lines about to be read, refused past
        ``MAX_BYTES`` in all (``load`` looks at the bytes read only every 65,536 opcodes)."""
        if size > MAX_BYTES - self._strings:
            raise _Refused(f"refused a string of {size:,} bytes: with the {self._strings:,} "
                           f"before it, more than a data pickle holds ({MAX_BYTES:,})")
        self._strings += size

    def _readline(self):
        """The next line of the file (protocol 0's opcodes), counted."""
        line = self._file.readline(MAX_BYTES + 1)
        self._count(len(line))
        return line

    def _allowance(self):
        return SIZE_FACTOR * min(self._bytes_read(), MAX_BYTES) + SIZE_ALLOWANCE

    def _charge(self, size, what):
        """Count ``size`` bytes that the stand-ins are about to make: within the allowance of the
        bytes read so far, or refused before they are allocated."""
        self._built += size
        if self._built > self._allowance():
            raise _Refused(
                f"refused {what}: it brings what the pickle builds to {self._built:,} bytes, "
                f"more than the {self._allowance():,} its {self._bytes_read():,} bytes allow "
                "(one string or array made again and again?)")

    # --- opcodes replaced: what is built, and how much is read ----------------------------

    def _load_reduce(self):
        args = self.stack.pop()
        function = self.stack[-1]
        if not callable(function) or getattr(function, "__self__", None) is not self \
                or type(args) is not tuple:
            raise _Refused(f"refused a call of {_show.repr(function)}")
        self.stack[-1] = function(*args)

    def _load_build(self):
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _Dtype):
            target.set_state(state)
        elif isinstance(target, _Array):
            self.stack[-1] = self._build_array(target, state)
        else:
            raise _Refused(f"refused a state for a {type(target).__name__} (only NumPy arrays "
                           "and dtypes take one)")

    def _load_append(self):
        value = self.stack.pop()
        _container(self.stack[-1], list, "append to").append(value)

    def _load_appends(self):
        items = self.pop_mark()
        _container(self.stack[-1], list, "append to").extend(items)

    def _load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        _container(self.stack[-1], dict, "set an item of")[_key(key)] = value

    def _load_setitems(self):
        items = self.pop_mark()
        target = _container(self.stack[-1], dict, "set an item of")
        for i in range(0, len(items), 2):
            target[_key(items[i])] = items[i + 1]

    def _load_dict(self):
        items = self.pop_mark()
        self.append({_key(items[i]): items[i + 1] for i in range(0, len(items), 2)})

    def _load_additems(self):
        items = self.pop_mark()
        _container(self.stack[-1], set, "add to").update(map(_key, items))

    def _load_frozenset(self):
        items = self.pop_mark()  # (before self.append: it pops the stack self.append is of)
        self.append(frozenset(map(_key, items)))

    def _read_payload(self, size):
        """The next ``size`` bytes: refused beyond ``MAX_BYTES``, and a long string read in
        pieces, so that a length the file claims allocates nothing its bytes do not fill (bytes,
        or a bytearray when long)."""
        self._count(size)
        if size <= _CHUNK:
            data = self.read(size)
        else:
            data = bytearray()
            while len(data) < size:
                piece = self.read(min(size - len(data), _CHUNK))
                if not piece:
                    break
                data += piece
        if len(data) != size:
            raise pickle.UnpicklingError("pickle data was truncated")
        return data

    def _length(self, form):
        return struct.unpack(form, self.read(struct.calcsize(form)))[0]

    def _load_binbytes(self):
        self.append(bytes(self._read_payload(self._length("<I"))))

    def _load_binbytes8(self):
        self.append(bytes(self._read_payload(self._length("<Q"))))

    def _load_bytearray8(self):
        data = self._read_payload(self._length("<Q"))
        self.append(data if type(data) is bytearray else bytearray(data))

    def _load_binunicode(self):
        self.append(str(self._read_payload(self._length("<I")), "utf-8", "surrogatepass"))

    def _load_binunicode8(self):
        self.append(str(self._read_payload(self._length("<Q")), "utf-8", "surrogatepass"))

    def _load_binstring(self):
        text = self._decode_string(self._read_payload(_non_negative(self._length("<i"))))
        self.append(bytes(text) if type(text) is bytearray else text)  # encoding="bytes"

    def _load_long4(self):
        self.append(pickle.decode_long(self._read_payload(_non_negative(self._length("<i")))))

    def _load_frame(self):
        size = self._length("<Q")
        unframer = self._unframer
        if unframer.current_frame and unframer.current_frame.read() != b"":
            raise pickle.UnpicklingError("beginning of a new frame before end of current frame")
        unframer.current_frame = None  # the frame's bytes come from the file
        unframer.current_frame = io.BytesIO(self._read_payload(size))
        self.read, self.readline = unframer.read, unframer.readline  # framed from here on

    for _opcode, _load in [(pickle.REDUCE, _load_reduce), (pickle.BUILD, _load_build),
                           (pickle.APPEND, _load_append), (pickle.APPENDS, _load_appends),
                           (pickle.SETITEM, _load_setitem), (pickle.SETITEMS, _load_setitems),
                           (pickle.DICT, _load_dict), (pickle.ADDITEMS, _load_additems),
                           (pickle.FROZENSET, _load_frozenset),
                           (pickle.BINBYTES, _load_binbytes), (pickle.BINBYTES8, _load_binbytes8),
                           (pickle.BYTEARRAY8, _load_bytearray8),
                           (pickle.BINUNICODE, _load_binunicode),
                           (pickle.BINUNICODE8, _load_binunicode8),
                           (pickle.BINSTRING, _load_binstring), (pickle.LONG4, _load_long4),
                           (pickle.FRAME, _load_frame)]:
        dispatch[_opcode[0]] = _load

    # objects of classes, extension codes and out-of-band buffers: never in a data file
    for _name in ("INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "PERSID",
                  "BINPERSID", "NEXT_BUFFER", "READONLY_BUFFER"):
        dispatch[getattr(pickle, _name)[0]] = _refuse_opcode(_name)
    del _opcode, _load, _name

    # --- the loaded object: stand-ins replaced, its full size checked ---------------------

    def _finish(self, value):
        """``value`` with each array stand-in replaced by its array (in lists and dicts in
        place, tuples rebuilt), after checking its size written out in full: each shared
        reference counted again, as ``numpy.asarray`` or ``list`` would copy it. Sizes are
        counted as memory: 8 bytes a slot, a string's or array's bytes."""
        limit = self._allowance()
        done = {}  # id -> (object, replacement, size) of each container met
        path = set()  # ids of the containers being visited: met again inside itself, a cycle

        def visit(item, depth):
            kind = type(item)
            if kind in _PLAIN or isinstance(item, numpy.generic):
                return item, 8
            if kind in (str, bytes, bytearray):
                return item, len(item)
            if kind is numpy.ndarray:
                return item, item.nbytes
            if kind is _Array:
                if item.array is None:
                    raise _Refused("refused an array whose state was never set")
                return item.array, item.array.nbytes
            if kind is _Dtype:
                return item.built(), 8
            if kind not in (list, tuple, dict, set, frozenset):  # a stand-in's name
                what = "numpy.ndarray" if item is _NDARRAY else f"a {kind.__name__}"
                raise _Refused(f"refused {what} in the data")
            key = id(item)
            if key in done:
                return done[key][1:]
            if key in path:
                raise _Refused(f"refused a {kind.__name__} that holds itself")
            if depth >= MAX_DEPTH:
                raise _Refused(f"refused containers nested more than {MAX_DEPTH} deep")
            path.add(key)
            replacement, size = visit_container(item, kind, depth + 1)
            path.discard(key)
            done[key] = item, replacement, size
            return replacement, size

        def visit_container(item, kind, depth):
            if kind is dict:
                size, changed = 16 * len(item), {}
                for key, value in item.items():
                    new, value_size = visit(value, depth)
                    size += _size_of_key(key) + value_size
                    if new is not value:
                        changed[key] = new
                    check(size)
                item.update(changed)
                return item, size
            size = 8 * len(item)
            if set(map(type, item)) <= _PLAIN:  # the fast way through a list of numbers
                return item, check(size)
            if kind in (set, frozenset):
                return item, check(size + sum(map(_size_of_key, item)))
            new_items = None
            for i, element in enumerate(item):
                new, element_size = visit(element, depth)
                size = check(size + element_size)
                if new is not element:
                    if kind is list:
                        item[i] = new
                    else:
                        new_items = new_items or list(item)
                        new_items[i] = new
            return (tuple(new_items) if new_items is not None else item), size

        def check(size):
            if size > limit:
                raise _Refused(
                    f"refused data of more than {limit:,} bytes when written out in full (each "
                    f"shared reference copied, as the readers copy it): "
                    f"{self._bytes_read():,} bytes of pickle allow at most that (a row "
                    "referenced again and again through the memo?)")
            return size

        return visit(value, 0)[0]


class _Counted:
    """A file without ``tell`` (a pipe), counting the bytes read from it."""

    def __init__(self, file):
        self._file, self._read = file, 0

    def read(self, size=-1):
        data = self._file.read(size)
        self._read += len(data)
        return data

    def readline(self, size=-1):
        data = self._file.readline(size)
        self._read += len(data)
        return data

    def tell(self):
        return self._read


def _latin1_array(text):
    """The bytes of ``text`` (Python 2's str, read as latin1) in a uint8 array, encoded a piece
    at a time: the text and the array are the only copies in memory."""
    array = numpy.empty(len(text), numpy.uint8)
    for start in range(0, len(text), _CHUNK):
        try:
            piece = text[start:start + _CHUNK].encode("latin1")
        except UnicodeEncodeError:
            raise _Refused("refused array data given as text beyond latin1") from None
        array[start:start + len(piece)] = numpy.frombuffer(piece, numpy.uint8)
    return array


def _text(value):
    """A dtype code, byte order or array order as text: Python 2's str is read as latin1 (str),
    or as bytes when ``load`` is given ``encoding="bytes"``."""
    if type(value) is bytes:
        return value.decode("latin1")
    return value if type(value) is str else None


def _flag(value):
    return type(value) in (bool, int) and value in (0, 1)


def _non_negative(size):
    if size < 0:
        raise pickle.UnpicklingError(f"negative byte count {size}")
    return size


def _container(target, kind, doing):
    if type(target) is not kind:
        raise _Refused(f"refused to {doing} a value of type {type(target).__name__} (only a "
                       f"{kind.__name__})")
    return target


def _key(key):
    """A dict key or set item: a string, bytes, number or None, or a flat tuple of them
    (hashing a tuple nested a million deep crashes Python)."""
    if type(key) in _KEYS or isinstance(key, numpy.generic) or (
            type(key) is tuple and all(type(k) in _KEYS for k in key)):
        return key
    raise _Refused(f"refused a dict key or set item of type {type(key).__name__}")


def _size_of_key(key):
    if type(key) in (str, bytes):
        return len(key)
    return 8 * (len(key) + 1) if type(key) is tuple else 8


def load(file, source=None, encoding="latin1"):
    """The next pickled object of the open binary ``file``, read by ``RestrictedUnpickler``.

    ``encoding`` is latin1 by default: the tutorials' pickles were written by Python 2, whose
    ``str`` (the raw bytes of an array) Python 3 can only read that way. What the file holds
    beyond plain data and numeric arrays, or beyond what its size allows, is one
    ``UnsafePickleError`` naming the file; a damaged pickle is a ``pickle.UnpicklingError``
    (or the ``EOFError``/``OSError`` of a file that ends early or fails to read).
    """
    source = str(source or getattr(file, "name", "the pickle"))
    try:
        return RestrictedUnpickler(file, source=source, encoding=encoding).load()
    except _Refused as refused:
        raise UnsafePickleError(f"{source}: {refused}: {_HOLDS}") from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, struct.error,
            OverflowError) as error:  # a pickle that breaks its own opcodes
        raise pickle.UnpicklingError(f"{type(error).__name__}: {error}") from None
