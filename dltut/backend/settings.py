"""What the engine's ``function`` makes of a function of a minibatch index and scalar settings
with defaults, as the SdA's and the DBN's pretraining functions are compiled:
``function([index, In(corruption, value=0.2), In(lr, value=0.1)], cost, ...)``.

Theano compiles each setting as an input of the function. Here the back end holds each one in a
shared scalar of its own instead, read by the graph in the setting's place, so that what is
compiled is a function of the index alone: one compiled function for every value of the
settings, and in JAX mode an ``IndexedFunction`` whose ``over(first, count)`` runs a span of
indices as one call (``dltut.backend.indexed``). ``fn(index, lr=0.01)`` is called as Theano's
function is: each setting it is not given takes its default.

``with_precomputed(variable)`` is the same function with a part of its graph computed once for
the whole data set instead of once per call: a stacked network's layer is pretrained on the
codes of the layers below, which do not change while it trains.
"""

import numpy

from dltut.backend import indexed, modes


class In:
    """An input with a default value: ``theano.In(variable, value=value)``."""

    def __init__(self, variable, value):
        self.variable, self.value = variable, value

    def __repr__(self):
        return f"In({self.variable}, value={self.value!r})"


class SettingsFunction:
    """``fn(index, **settings)``: a compiled function of a minibatch index whose scalar settings
    (``In`` inputs with defaults) are shared scalars, set at each call.

    ``compile(inputs, outputs, updates, givens, name)`` is the engine's ``function``, which
    compiles the function of the index alone (``compiled``). ``over`` exists where that runs
    spans.
    """

    def __init__(self, inputs, outputs, updates, givens, name, compile):
        self._compiled = None
        index, *settings = inputs
        if not indexed.is_index(index) or not all(isinstance(s, In) for s in settings):
            raise TypeError(f"function {name!r}: settings with defaults (In(variable, value=...))"
                            " need a minibatch index as the first input and only such settings "
                            f"after it, got {inputs!r}")
        shared = modes.backend().shared
        self.index, self.defaults, self.values = index, {}, {}
        for setting in settings:
            variable = setting.variable
            self.defaults[variable.name] = setting.value
            self.values[variable.name] = shared(numpy.asarray(setting.value, dtype=variable.dtype),
                                                name=f"{variable.name}_setting")
        self.symbols = {setting.variable.name: setting.variable for setting in settings}
        self.outputs, self.name, self._compile = outputs, name, compile
        # pairs, as Theano wants them, also of a dict (a scan-built cost's: the RBM's)
        self.updates = list(updates.items()) if isinstance(updates, dict) else list(updates or ())
        self.givens = list(givens.items()) if isinstance(givens, dict) else list(givens or ())

    @property
    def compiled(self):
        """The compiled function of the index alone, compiled at its first use: a stacked
        network's run calls only the function ``with_precomputed`` its input."""
        if self._compiled is None:
            self._compiled = self._compile(
                [self.index], self.outputs, self.updates,
                self.givens + [(self.symbols[name], self.values[name]) for name in self.symbols],
                self.name)
        return self._compiled

    def __getattr__(self, name):
        if name == "over" and hasattr(self.compiled, "over"):  # where it runs spans
            return self._over
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def set(self, **settings):
        """Set ``settings`` (by name) and the others to their defaults, for the next calls."""
        unknown = set(settings) - set(self.defaults)
        if unknown:
            raise TypeError(f"function {self.name!r}: no setting {sorted(unknown)}; it takes "
                            f"{sorted(self.defaults)}")
        for name, default in self.defaults.items():
            value = settings.get(name, default)
            self.values[name].set_value(numpy.asarray(value, dtype=self.symbols[name].dtype))

    def __call__(self, index, **settings):
        self.set(**settings)
        return self.compiled(index)

    def _over(self, first, count, **settings):
        """The outputs of indices ``first .. first + count - 1``, each stacked, as one call."""
        self.set(**settings)
        return self.compiled.over(first, count)

    def compile_ahead(self, counts=()):
        """Have XLA compile the function, or its spans of ``counts`` indices (JAX mode)."""
        if hasattr(self.compiled, "compile_ahead"):
            self.compiled.compile_ahead(counts)

    def with_precomputed(self, variable):
        """This function with ``variable`` computed once, now, over the whole data set that a
        given cuts its minibatches from, and cut from those values instead: the same function as
        long as what ``variable`` reads does not change (the caller's knowledge: a stacked
        network's layers below the one it pretrains), with less work per call. The values,
        computed for the whole set by one product per layer, may differ from a minibatch's in
        the last bit. ``variable`` must be computed from that minibatch and from shared
        variables that this function does not update, without random draws."""
        for given, value in self.givens:
            if given is variable:
                return self
            cut = indexed.minibatch_cut(value, self.index)
            if cut is not None and _reads_only(variable, given, self.updates):
                break
        else:
            raise ValueError(f"function {self.name!r}: {variable} is not computed from a "
                             "minibatch of its givens and values it leaves unchanged alone")
        data, batch_size = cut
        encode = self._compile([], variable, None, {given: data}, f"{variable}_over_{data}")
        codes = modes.backend().shared(numpy.asarray(encode()), name=f"{variable}_codes",
                                       borrow=True)
        rows = codes[self.index * batch_size: (self.index + 1) * batch_size]
        inputs = [self.index] + [In(self.symbols[name], value=default)
                                 for name, default in self.defaults.items()]
        function = SettingsFunction(inputs, self.outputs, self.updates,
                                    self.givens + [(variable, rows)], self.name, self._compile)
        function.set(**{name: value.get_value() for name, value in self.values.items()})
        return function


def _reads_only(variable, given, updates):
    """Whether ``variable`` depends on ``given`` and on no shared variable that ``updates``
    (pairs) change, and draws nothing at random."""
    graph = modes.backend().graph
    ancestors = list(getattr(graph, "traversal", graph.basic).ancestors([variable]))
    updated = {id(shared) for shared, _ in updates}
    return (any(a is given for a in ancestors) and not any(id(a) in updated for a in ancestors)
            and not modes.default_updates([variable]))
