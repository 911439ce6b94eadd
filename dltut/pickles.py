"""Reading the tutorials' pickled data files without running code from them.

``pickle.load`` calls whatever function a file names, so a pickle from elsewhere could run any
code. The tutorials' data files (the ATIS folds, written by Python 2's cPickle) hold only
containers, strings, numbers and NumPy arrays; ``load`` rebuilds those and refuses any other
global the file names, with an error that says which.
"""

import pickle

# (module, name) the data files may name: NumPy's array rebuilding, and the bytes constructor
# Python 3 writes into protocol-2 pickles. Each builds data, none runs other code.
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),  # arrays in protocol 5
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global that is not data."""


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise UnsafePickleError(
                f"the pickle names {module}.{name}, which is not a container, a number, a string "
                f"or a NumPy array: dltut does not load it (loading it could run code)")
        if module.startswith("numpy.core."):  # Python 2's NumPy: numpy._core in NumPy 2
            try:
                return super().find_class(module.replace("numpy.core.", "numpy._core.", 1), name)
            except ImportError:
                pass
        return super().find_class(module, name)


def load(file, encoding="latin1"):
    """The object pickled in the open binary ``file``, rebuilt from data globals only.

    ``encoding`` reads Python 2's byte strings (``latin1``: NumPy's array data comes back
    intact). Raises ``UnsafePickleError`` for any other global.
    """
    return _DataUnpickler(file, encoding=encoding).load()
