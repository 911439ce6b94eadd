"""The Theano API as dltut's tutorials use it: ``T``, ``shared``, ``function`` (with ``givens``
and ``updates``), ``grad``, ``scan``, on the engine and in the compile mode chosen for the process.

>>> from dltut.engine import T, shared, function, floatX

Which engine (PyTensor 3.x or theano-pymc 1.1.2), which compile mode (``c``, ``numba``, ``jax``:
the default), floatX and device are the process's settings, kept by ``dltut.backend.modes`` and
re-exported here (``set_mode``, ``set_floatX``, ``mode``, ``floatX``, ...). How a compiled function
runs fast in a mode is the back end's (``dltut.backend``), never the tutorials'.
"""

import importlib
import sys
import warnings

import numpy

from dltut.backend import modes as _state
from dltut.backend.modes import (  # noqa: F401  the process's settings, re-exported
    BLAS_THREADS, DEFAULT_FLOATX, DEVICES, ENGINES, FLOATX, MODES, XLA_CPU_FLAGS, NotIn, backend,
    blas_threads, cache_dir, compile_ahead, compile_mode, default_mode, floatX, floatX_is_default,
    floatX_reason, floatX_unless_chosen, jax_platform, limit_blas_threads, mode, mode_is_default,
    mode_reason, mode_unless_chosen, modes, name, place_data, set_device, set_floatX, set_mode,
    set_xla_flags, use, version,
)

# ----------------------------------------------------------------------------------------------
# The Theano API, resolved on first use.


def In(variable, value):
    """``theano.In(variable, value=value)``: an input of ``function`` with a default ``value``,
    taken where a call does not give it (``fn(index, lr=0.01)``). PyTensor's ``In`` has no
    defaults any more: the back end holds them (``dltut.backend.settings``), on either engine."""
    from dltut.backend import settings

    return settings.In(variable, value)


def function(inputs, outputs, updates=None, givens=None, name=None, shapes_at_run_time=False,
             pad_time=False):
    """``theano.function`` in the current compile mode.

    A function of a minibatch index and scalar settings with defaults (``In(lr, value=0.1)``, as
    the SdA's and DBN's pretraining functions) is made by ``dltut.backend.settings``: the back
    end holds the settings in shared scalars, so one compiled function of the index serves every
    value, and runs spans of indices where a function of the index does.

    In JAX mode a function of one minibatch index whose ``givens`` cut minibatches out of shared
    data sets (``data[index * batch_size:(index + 1) * batch_size]``, as the tutorials do) is made
    by ``dltut.backend.indexed``: the same values, and a span of indices can run as one call.

    ``shapes_at_run_time``: in JAX mode, the inputs' shapes may be left unknown (``None`` in their
    types): JAX then compiles a program for each shape the function is called with
    (``dltut.backend.jax_shapes``). Other modes take any shape as they are.

    ``pad_time``: the matrix inputs are time-major, and zero steps added at their end change no
    output (the LSTM's masked scan). In JAX mode the function then pads them to a few lengths and
    compiles those ahead, in the background, where asked (``dltut.backend.padded``)."""
    from dltut.backend import settings

    if any(isinstance(variable, settings.In) for variable in inputs):
        def compile_index_function(inputs, outputs, updates, givens, name):
            return function(inputs, outputs, updates=updates, givens=givens, name=name)

        return settings.SettingsFunction(inputs, outputs, updates, givens, name,
                                         compile_index_function)
    if pad_time and mode() == "jax" and _state.name() == "pytensor":
        from dltut.backend import padded

        return padded.PaddedFunction(inputs, outputs, updates or (), name=name)
    if mode() == "jax" and _state.name() == "pytensor" and not shapes_at_run_time \
            and len(inputs) == 1:
        from dltut.backend import indexed

        if indexed.is_index(inputs[0]) and indexed.static_minibatches(givens, inputs[0])[1]:
            return indexed.function(inputs[0], outputs, updates, givens, name)
    if shapes_at_run_time and mode() == "jax":
        from dltut.backend import jax_shapes

        chosen = jax_shapes.mode()
    else:
        chosen = compile_mode()
    return backend().function(
        inputs, outputs, updates=updates, givens=givens, mode=chosen, name=name,
        on_unused_input="ignore",
    )


def updated_variables(*functions):
    """``{name: shared variable}`` of every value the compiled ``functions`` update: the
    parameters, an optimizer's running averages, the random streams' states (what a checkpoint
    holds, ``saving.save_run``); two values of one name are a ValueError."""
    found = {}
    for compiled in functions:
        updated = (compiled.updated if hasattr(compiled, "updated") else
                   [entry.variable for entry in compiled.maker.inputs
                    if getattr(entry, "update", None) is not None])
        for variable in updated:
            if variable.name in found and found[variable.name] is not variable:
                raise ValueError(f"two values are named {variable.name}: a checkpoint cannot "
                                 "tell them apart")
            found[variable.name] = variable
    return found


def shared(value, name, borrow=True, static_shape=False):
    """A named shared variable holding ``value`` (already cast by the caller).

    ``static_shape`` fixes the value's shape in the variable's type (on PyTensor; Theano's types
    have none), so that shapes computed from it are constants when the graph is compiled: JAX mode
    needs that where a random draw's size is such a shape (the RBM's samples). Its value can then
    only be set to arrays of that shape.
    """
    module = backend()
    if static_shape and _state.name() == "pytensor":
        return module.shared(value, name=name, borrow=borrow, shape=numpy.shape(value))
    return module.shared(value, name=name, borrow=borrow)


def matrix(name, shape=(None, None)):
    """A symbolic floatX matrix named ``name``; where ``shape`` gives a length (None: any), that
    length is fixed in the variable's type (on PyTensor; Theano's types have none), so that the
    graph's rewrites see it (the RNN-RBM's frames: knowing the 88 notes, PyTensor moves a weight
    gradient's outer products out of the gradient's scan, as one product after it)."""
    tensor = backend().tensor
    if _state.name() == "pytensor":
        return tensor.matrix(name, dtype=floatX(), shape=shape)
    return tensor.matrix(name, dtype=floatX())


def shared_zeros(shape, name):
    """A named shared variable of zeros in floatX (the layers' biases, the logistic layer's W)."""
    return shared(numpy.zeros(shape, dtype=floatX()), name)


def grad(cost, wrt):
    """``theano.grad``. It recurses (in Theano's and PyTensor's own code) once per node along
    the graph's longest path, so it runs here with room for deep graphs: on Theano, U-Net's 23
    convolutions, each a few nodes of im2col, exceed Python's default 1000 frames."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _GRAD_RECURSION_LIMIT))
    try:
        return backend().grad(cost, wrt)
    finally:
        sys.setrecursionlimit(limit)


_GRAD_RECURSION_LIMIT = 20000


def scan(*args, **kwargs):
    """Theano's ``scan``: ``(outputs, updates)``, the signature the tutorials are written in.
    PyTensor's deprecates returning the updates (a warning for PyTensor's developers) but the
    tutorials' random draws inside a scan need them, so that warning is silenced here, with the
    one PyTensor's own scan raises by setting ``default_update``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Scan return signature will change",
                                DeprecationWarning)
        warnings.filterwarnings("ignore", "Setting default_update is deprecated",
                                DeprecationWarning)
        return backend().scan(*args, **kwargs)


def equal_computations(xs, ys, in_xs, in_ys):
    """Whether the graphs ``xs`` and ``ys`` compute the same, ``in_xs[i]`` read as ``in_ys[i]``."""
    if _state.name() == "pytensor":
        from pytensor.graph.basic import equal_computations as _equal
    else:
        from theano.graph.basic import equal_computations as _equal
    return _equal(xs, ys, in_xs, in_ys)


def clone_replace(outputs, replace):
    """Copies of ``outputs`` with the variables of ``replace`` substituted."""
    if _state.name() == "pytensor":
        from pytensor.graph.replace import clone_replace as _clone_replace
    else:
        _clone_replace = getattr(backend(), "clone_replace", None) or backend().clone
    return _clone_replace(outputs, replace=replace)


def softmax(x):
    """Row-wise softmax of a matrix (over the class axis)."""
    if _state.name() == "pytensor":
        from pytensor.tensor.special import softmax as _softmax

        return _softmax(x, axis=-1)
    return backend().tensor.nnet.softmax(x)


class _TensorModule:
    """``T``: the engine's ``tensor`` module, loaded on first attribute access."""

    def __getattr__(self, attr):
        return getattr(importlib.import_module(f"{name()}.tensor"), attr)


T = _TensorModule()
