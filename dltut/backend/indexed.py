"""What the engine's ``function`` makes in JAX mode of a function of one minibatch index, as the
tutorials compile ``train_model``, ``validate_model`` and ``test_model``.

The tutorials cut each minibatch out of a shared data set in ``givens``,
``data[index * batch_size:(index + 1) * batch_size]``. JAX compiles for static shapes, and that
cut's length is not one, so ``static_minibatches`` takes the same rows as
``data[index * batch_size + arange(batch_size)]``, of shape ``(batch_size, ...)``. The data sets
so read are placed on JAX's device once (``modes.place_data``).

Theano computes the mean of an integer vector (the zero-one loss, ``mean(neq(y_pred, y))``) in
float64. JAX without 64-bit types (floatX float32) would compute it in float32, and the printed
errors would differ in the last digit (``9.230001 %`` for ``9.230000 %``); so such a mean is
returned as its integer sum and its length, and divided on the host in float64, as Theano does.

``IndexedFunction`` is called with an index as the tutorial's function is; ``over(first, count)``
runs ``count`` consecutive indices as one compiled loop (``loops.JaxLoop``: the parameters
carried from step to step, the same arithmetic as ``count`` calls), which the trainer uses where
it exists.
"""

import numpy

from dltut.backend import modes
from dltut.backend.loops import JaxLoop


def is_index(variable):
    """Whether ``variable`` is a symbolic integer scalar: a minibatch index."""
    return variable.ndim == 0 and variable.dtype.startswith(("int", "uint"))


def _affine(variable, index):
    """``(a, b)`` with ``variable == a * index + b`` for integer constants ``a``, ``b``; None
    where the graph is anything else (read through casts and ``ScalarFromTensor``)."""
    if variable is index:
        return 1, 0
    constant = getattr(variable, "data", None)
    if variable.owner is None:
        if constant is not None and numpy.ndim(constant) == 0 \
                and numpy.asarray(constant).dtype.kind in "iu":
            return 0, int(constant)
        return None
    op, inputs = variable.owner.op, variable.owner.inputs
    kind = type(getattr(op, "scalar_op", op)).__name__
    terms = [_affine(term, index) for term in inputs]
    if None in terms:
        return None
    if kind in ("ScalarFromTensor", "TensorFromScalar", "Cast", "Identity") and len(terms) == 1:
        return terms[0]
    if kind == "Add":
        return sum(a for a, _ in terms), sum(b for _, b in terms)
    if kind == "Sub" and len(terms) == 2:
        return terms[0][0] - terms[1][0], terms[0][1] - terms[1][1]
    if kind == "Mul" and len(terms) == 2 and 0 in (terms[0][0], terms[1][0]):
        (a1, b1), (a2, b2) = terms
        return a1 * b2 + a2 * b1, b1 * b2
    return None


def minibatch_cut(value, index):
    """``(shared data, batch_size)`` where ``value`` is ``data[index * batch_size:(index + 1) *
    batch_size]`` of a shared variable (any affine start whose stop is a batch further); None
    otherwise."""
    owner = value.owner
    if owner is None or type(owner.op).__name__ != "Subtensor":
        return None
    data, *bounds = owner.inputs
    slices = owner.op.idx_list
    if not hasattr(data, "get_value") or len(slices) != 1 or len(bounds) != 2 \
            or not isinstance(slices[0], slice) or slices[0].step is not None:
        return None
    start, stop = (_affine(bound, index) for bound in bounds)
    if start is None or stop is None or start[0] != stop[0] or start[0] < 1 \
            or stop[1] - start[1] != start[0]:
        return None
    return data, start[0]


def static_minibatches(givens, index):
    """``givens`` with each minibatch cut of a shared data set by ``index`` taken as rows of a
    static shape; the shared data sets so read."""
    if not givens:
        return givens, []
    T = modes.backend().tensor
    rewritten, data_sets = {}, []
    pairs = givens.items() if isinstance(givens, dict) else givens
    for variable, value in pairs:
        cut = minibatch_cut(value, index)
        if cut is not None:
            data, batch_size = cut
            start = value.owner.inputs[1]
            if type(getattr(start.owner, "op", None)).__name__ == "ScalarFromTensor":
                start = start.owner.inputs[0]
            rows = data[start + T.arange(batch_size)]
            trailing = data.get_value(borrow=True).shape[1:]
            value = T.specify_shape(rows, (batch_size, *trailing))
            data_sets.append(data)
        rewritten[variable] = value
    return rewritten, data_sets


def _integer_mean(output):
    """``(sum, length)`` where ``output`` is PyTensor's mean of an integer tensor; else None."""
    owner = output.owner
    if owner is None or output.ndim != 0 or output.name != "mean" \
            or type(getattr(owner.op, "scalar_op", None)).__name__ != "TrueDiv":
        return None
    total, length = owner.inputs
    if total.dtype.startswith(("int", "uint")):
        return total, length
    return None


class IndexedFunction:
    """A compiled JAX-mode function of one minibatch index (see the module's docstring).

    ``compiled`` is the PyTensor function; ``places`` lists, per output the caller asked for, its
    position among ``compiled``'s outputs, or the positions of its integer mean's sum and length.
    """

    def __init__(self, compiled, places, single):
        self.compiled, self.places, self.single = compiled, places, single
        self.name = compiled.name
        self._loops = {}

    def _finish(self, outputs):
        finished = [outputs[place] if isinstance(place, int)
                     else numpy.asarray(outputs[place[0]], dtype=numpy.float64)
                     / numpy.asarray(outputs[place[1]], dtype=numpy.float64)
                     for place in self.places]
        return finished[0] if self.single else finished

    def __call__(self, index):
        return self._finish(self.compiled(index))

    def loop(self, count):
        """The ``JaxLoop`` of ``count`` calls (compiled at its first use)."""
        if count not in self._loops:
            n_outputs = len(self.compiled.maker.fgraph.outputs) - len(
                self.compiled.maker.fgraph.update_mapping)
            self._loops[count] = JaxLoop(self.compiled, count, n_outputs=n_outputs)
        return self._loops[count]

    def over(self, first, count):
        """The outputs of indices ``first .. first + count - 1``, each stacked, as one call."""
        loop = self.loop(count)
        stacked = loop(first)
        return self._finish(stacked if loop.n_outputs > 1 else [stacked])

    def compile_ahead(self, counts=()):
        """Have XLA compile the function, or its loops of ``counts`` calls, without running."""
        if not counts:
            modes.compile_ahead(self.compiled)
        for count in counts:
            self.loop(count).compile_ahead()


def function(index, outputs, updates=None, givens=None, name=None):
    """The engine's ``function([index], outputs, ...)`` in JAX mode, as an ``IndexedFunction``."""
    single = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single else list(outputs)
    givens, data_sets = static_minibatches(givens, index)
    modes.place_data(data_sets)
    compiled_outputs, places = [], []
    for output in outputs:
        parts = _integer_mean(output)
        if parts is None:
            places.append(len(compiled_outputs))
            compiled_outputs.append(output)
        else:
            places.append((len(compiled_outputs), len(compiled_outputs) + 1))
            compiled_outputs += list(parts)
    compiled = modes.backend().function(
        [index], compiled_outputs, updates=updates, givens=givens, mode=modes.compile_mode(),
        name=name, on_unused_input="ignore")
    return IndexedFunction(compiled, places, single)
