"""The one way dltut reads a pickle: a restricted unpickler that builds data and runs nothing.

A pickle is a small program: its ``GLOBAL``/``STACK_GLOBAL`` opcodes import any callable a file
names (``os.system``, ``subprocess.Popen``) and ``REDUCE`` calls it. The tutorials' files
(``mnist.pkl.gz``, ``imdb.pkl``, the ATIS folds) hold only tuples, lists, dicts, strings, numbers and NumPy
arrays: the containers and scalars need no import at all, and an array needs only the few NumPy
names below, under their NumPy 1 (``numpy.core``) and NumPy 2 (``numpy._core``) spellings, and
``_codecs.encode``, by which Python 3 writes ``bytes`` (an array's data) at protocol 2 (it only
encodes a string with a text codec). Any other name is refused before it is imported, so nothing
in the file runs.
"""

import pickle

# (module, name) pairs a NumPy array or scalar pickle imports; nothing else is allowed
ALLOWED = frozenset(
    [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")]
    + [(f"numpy.{core}.{module}", name)
       for core in ("core", "_core")
       for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"),
                            ("numeric", "_frombuffer"))]
)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names something other than plain data (a callable it would run)."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the names in ``ALLOWED``; ``source`` names the file
    in the error."""

    def __init__(self, file, source="the pickle", **kwargs):
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            if module.startswith("numpy.core."):  # Python 2's NumPy: numpy._core in NumPy 2
                try:
                    return super().find_class(module.replace("numpy.core.", "numpy._core.", 1),
                                              name)
                except ImportError:  # NumPy 1 (the theano engine's)
                    pass
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.source}: refused to load {module}.{name}: a dltut data file holds only lists, "
            "tuples, dicts, strings, numbers and NumPy arrays (nothing was run; use the data file "
            "the tutorial names, or rebuild it)"
        )


def load(file, source=None, encoding="latin1"):
    """The next pickled object of the open binary ``file``, read by ``RestrictedUnpickler``.

    ``encoding`` is latin1 by default: the tutorials' pickles were written by Python 2, whose
    ``str`` (the raw bytes of an array) Python 3 can only read that way.
    """
    source = source or getattr(file, "name", "the pickle")
    return RestrictedUnpickler(file, source=str(source), encoding=encoding).load()
