"""What the engine's ``function(..., pad_time=True)`` makes in JAX mode: a function whose
matrix inputs are time-major and may be padded with zero steps without changing its outputs (a
scan whose mask stops the state at a zero step, as the LSTM's), compiled for a few padded lengths,
ahead of their calls in a background thread.
"""

import concurrent.futures
import logging
import threading
import timeit

import numpy

from dltut.backend import jax_shapes, modes

log = logging.getLogger(__name__)


def padded_length(n):
    """The number of steps a minibatch of reviews at most ``n`` words long is padded to in JAX
    mode: ``n`` rounded up to a quarter octave (16, 20, 24, 28, 32, 40, 48, 56, 64, 80, ...), so
    that a few compiled shapes serve every length, for at most a quarter more steps."""
    if n <= 16:
        return 16
    step = 1 << (n.bit_length() - 3)  # a quarter of the power of two at or below n
    return -(-n // step) * step


class PaddedFunction:
    """A function in JAX mode whose matrices (time first) are padded with zeros on the time axis to
    ``padded_length``, which is left unknown in the compiled graph (the LSTM's: ``x`` and
    ``mask``).

    JAX compiles constant shapes only, and each minibatch is as long as its longest review. The
    graph is built once per shape of the other axes (``jax_shapes.mode()``:
    the scan's length and the sizes computed from it are evaluated when JAX traces; an axis of
    length 1, a minibatch of one review, is left unknown too, see ``_time_unknown``), and JAX
    compiles it for each padded length it meets; padding keeps those few. A padded step has mask
    0, which keeps the states as they were, and adds 0 to the mean pooling: every value is the
    unpadded minibatch's.

    ``prepare(shapes)`` has the programs of shapes to come compiled by a background thread while
    training goes on (the epoch's minibatches are known when it starts); a first call of such a
    shape waits for its compile, if it is not done. ``updated`` lists the shared variables a
    call changes (the explicit updates, then the random streams), as a compiled function's
    inputs say it; ``compiled`` the input shapes called so far, and ``compile_seconds`` the time
    of their first calls (building the graph where it is new, compiling or waiting for the
    compile, then one run)."""

    def __init__(self, inputs, outputs, updates=(), name=None):
        self.inputs, self.outputs, self.name = inputs, outputs, name
        self.updates = list(updates)
        explicit = [variable for variable, _ in self.updates]
        outputs = outputs if isinstance(outputs, list) else [outputs]
        self.updated = explicit + [state for state, _ in
                                   modes.default_updates(outputs + [new for _, new in self.updates])
                                   if state not in explicit]
        self.built = {}  # the inputs' shapes, the time axis None -> the compiled function
        self.compiled = set()  # the inputs' shapes called so far
        self.pending = {}  # the inputs' shapes -> the background compile's future
        self.compile_seconds = 0.0

    def __call__(self, *values):
        # a Python number or list takes its input's dtype, as the compiled function takes it
        values = [value if isinstance(value, numpy.ndarray) else
                  numpy.asarray(value, dtype=variable.dtype)
                  for variable, value in zip(self.inputs, values)]
        values = [_pad_time(value) if value.ndim == 2 else value for value in values]
        shapes = tuple(value.shape for value in values)
        if shapes in self.compiled:
            return self.built[_time_unknown(shapes)](*values)
        start = timeit.default_timer()
        pending = self.pending.pop(shapes, None)
        error = None if pending is None or pending.cancelled() else pending.exception()  # waits
        if error is not None:  # the call below compiles again and raises it in this thread
            log.debug("%s: the background compile of %s failed: %s", self.name, shapes, error)
        result = self._function(_time_unknown(shapes))(*values)  # JAX compiles if not yet
        seconds = timeit.default_timer() - start
        self.compiled.add(shapes)
        self.compile_seconds += seconds
        log.debug("%s: the shapes %s compiled in %.1f s", self.name, shapes, seconds)
        return result

    def prepare(self, calls):
        """Compile, in the background, the programs of ``calls`` (each the inputs' unpadded
        shapes; in the order they will be called) not compiled yet."""
        for shapes in calls:
            shapes = tuple((padded_length(shape[0]), *shape[1:]) if len(shape) == 2 else shape
                           for shape in shapes)
            if shapes not in self.compiled and shapes not in self.pending:
                self.pending[shapes] = _compiler().submit(self._compile, shapes)

    def cancel(self):
        """Drop the background compiles not started yet."""
        for future in self.pending.values():
            future.cancel()

    def _compile(self, shapes):
        modes.compile_ahead(self._function(_time_unknown(shapes)), shapes)

    def _function(self, shapes):
        with _BUILDING:  # one PyTensor build at a time, in either thread
            if shapes not in self.built:
                tensor = modes.backend().tensor
                typed = [tensor.tensor(dtype=variable.dtype, shape=shape, name=variable.name)
                         for variable, shape in zip(self.inputs, shapes)]
                self.built[shapes] = modes.backend().function(
                    typed, self.outputs, updates=self.updates,
                    givens=list(zip(self.inputs, typed)), name=self.name,
                    mode=jax_shapes.mode(), on_unused_input="ignore")
            return self.built[shapes]


_BUILDING = threading.Lock()


_COMPILER = None


def _compiler():
    """The one background thread that compiles padded programs ahead of their calls."""
    global _COMPILER
    if _COMPILER is None:
        _COMPILER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dltut-compile")
    return _COMPILER


def _time_unknown(shapes):
    """The inputs' types' shapes: the time axis unknown, and so is an axis of length 1. A length
    1 in a type makes the axis broadcastable, where the graph was built for any length: the
    scan's mask and inputs of a minibatch of one review would no longer match its states (a
    broadcast TypeError); left unknown, JAX still traces the length 1 when called
    (``dltut.backend.jax_shapes`` computes what is sized from it, the dropout streams' count, while
    tracing)."""
    return tuple(tuple(None if size == 1 or (axis == 0 and len(shape) == 2) else size
                       for axis, size in enumerate(shape))
                 for shape in shapes)


def _pad_time(matrix):
    steps = padded_length(matrix.shape[0])
    if steps == matrix.shape[0]:
        return matrix
    return numpy.pad(matrix, ((0, steps - matrix.shape[0]), (0, 0)))
