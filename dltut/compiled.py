"""The tutorials' ``train_model``, ``validate_model`` and ``test_model``, compiled once for any
model (``CompiledModel``), and the training function of a cost without labels (``CompiledCost``).

The data sets live in shared variables and each compiled function takes a minibatch index, so
minibatches are cut inside the compiled graph, as in the tutorials. The tutorials' cut,
``data[index * batch_size:(index + 1) * batch_size]``, has a length JAX cannot know when it
compiles, so the same rows are taken with a static shape: in JAX mode by gathering the rows
``index * batch_size + arange(batch_size)``, elsewhere as a view,
``data[:n_batches * batch_size].reshape((n_batches, batch_size, ...))[index]`` (JAX runs that view
too, but copies the whole reshaped split at every call; docs/speed.md, "JAX mode"). As in the
tutorials, the last ``n % batch_size`` examples of each split are never used.

The zero-one loss is counted, not averaged, in the graph: each minibatch returns its number of
errors, an integer, and ``validation_loss`` / ``test_score`` divide by the batch size on the host
in float64 before taking the mean over minibatches. That is what the tutorials computed (Theano's
mean of an integer vector is a float64), and it keeps the printed errors the same in every mode
and floatX: JAX with float32 has no 64-bit types, and its float32 means printed ``9.230001 %``
where the original prints ``9.230000 %``.
"""

import copy

import numpy

from dltut import engine, random
from dltut.backend.loops import JaxLoop, VmappedLoops
from dltut.engine import T
from dltut.updates import sgd

SPLITS = ("training", "validation", "test")  # as error messages name them


def n_batches(shared_data, batch_size, split):
    """Whole minibatches in a split; an error if there is none."""
    n_examples = shared_data.get_value(borrow=True).shape[0]
    if batch_size > n_examples:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {split} set ({n_examples} examples): "
            f"use a batch size of at most {n_examples}"
        )
    return n_examples // batch_size


def batch_counts(datasets, batch_size):
    """``{split: whole minibatches}`` of ``[(train_x, train_y), (valid_x, valid_y), (test_x,
    test_y)]``; an error naming the first split with none."""
    return {split: n_batches(data_x, batch_size, split)
            for split, (data_x, _) in zip(SPLITS, datasets)}


def minibatch(shared_data, index, batch_size, n_batch):
    """Symbolic minibatch ``index`` of a shared data set (rows ``index * batch_size`` onwards)."""
    if engine.mode() == "jax":
        return shared_data[index * batch_size + T.arange(batch_size)]
    rows = shared_data[: n_batch * batch_size]
    shape = (n_batch, batch_size) + tuple(shared_data.get_value(borrow=True).shape[1:])
    return rows.reshape(shape)[index]


class _Training:
    """Minibatch updates, one ``train_model`` call each or fused into spans (one loop a span).

    A subclass sets ``cost``, ``updates``, ``fused``, ``train_model`` (unfused) or
    ``_train_spans = {}`` (fused), and ``_train_givens(index)``: the training minibatch
    ``index`` for the graph's inputs.

    A fused span in JAX mode is a ``JaxLoop`` of the one-update function: PyTensor builds one
    update, and JAX loops it (a new span length then costs XLA's compile only). Elsewhere it is
    a PyTensor ``scan`` of the update.
    """

    _step_function = None  # the compiled function of one update, once _step() has built it

    def _step_updates(self):
        """The parameters' updates, and those of the random streams the cost and the updates draw
        from (each step draws anew, as each call of train_model does; the RBM's Gibbs chain
        draws in the gradient only)."""
        updated = {variable for variable, _ in self.updates}
        return self.updates + [
            (variable, value) for variable, value in
            random.default_updates([self.cost] + [value for _, value in self.updates])
            if variable not in updated]

    def _compile_span(self, count):
        """One call that does ``count`` updates from minibatch ``first`` and returns their costs."""
        if engine.mode() == "jax":
            return JaxLoop(self._step(), count, **self._loop_options(count))
        first = T.lscalar("first")
        updates = self._step_updates()
        shared_vars = [variable for variable, _ in updates]

        def step(index, *per_step):
            cost, *new_values = engine.clone_replace(
                [self.cost] + [value for _, value in updates], self._step_givens(index, *per_step)
            )
            return cost, dict(zip(shared_vars, new_values))

        costs, updates = engine.scan(step, sequences=[first + T.arange(count)])
        return engine.function([first], costs, updates=updates, name=f"train_{count}_minibatches")

    def _step(self):
        """The compiled function of one update: minibatch ``index`` (and the per-step inputs of
        ``_step_inputs``) in, its cost out; built at the first span."""
        if self._step_function is None:
            index, per_step = T.lscalar("index"), self._step_inputs()
            self._step_function = engine.function(
                [index, *per_step], self.cost, updates=self._step_updates(),
                givens=self._step_givens(index, *per_step), name="train_step")
        return self._step_function

    def _step_inputs(self):
        """The symbolic inputs of one update besides the minibatch index (a subclass's)."""
        return []

    def _loop_options(self, count):
        """``JaxLoop``'s options for a span of ``count`` updates (a subclass's)."""
        return {}

    def _step_givens(self, index):
        """The graph's inputs at one update: the training minibatch ``index``."""
        return self._train_givens(index)

    def train_minibatches(self, first, count):
        """One update per minibatch ``first .. first + count - 1``; their costs."""
        if not self.fused:
            return numpy.array([self.train_model(i) for i in range(first, first + count)])
        return numpy.asarray(self._span(count)(first))

    def _span(self, count):
        """The compiled span of ``count`` minibatches, compiled at the first use of that length."""
        if count not in self._train_spans:
            self._train_spans[count] = self._compile_span(count)
        return self._train_spans[count]

    def prepare(self, span_lengths=()):
        """Compile now what a run will call, so that the run's clock times training only.

        The fused spans of ``span_lengths`` not met before are built. In JAX mode XLA compiles a
        function at its first call; here each function (those spans or ``train_model``, and
        ``_evaluation_functions()``) is compiled ahead of time instead, once, without running it
        (no parameter changes). Elsewhere nothing more is done: the C mode compiles as it
        builds, and numba at the first call (PyTensor keeps numba's code on disk between runs).
        """
        functions = ([self._span(count) for count in span_lengths] if self.fused
                     else [self.train_model])
        if engine.mode() != "jax":
            return
        for function in functions + self._evaluation_functions():
            if function not in self._prepared:
                if isinstance(function, JaxLoop):
                    function.compile_ahead()
                else:
                    engine.compile_ahead(function)
                self._prepared.add(function)

    def _evaluation_functions(self):
        """What else a run calls besides training (none for a cost without labels)."""
        return []


class CompiledModel(_Training):
    """Compiled functions of one model over the three shared data sets.

    ``x`` and ``y`` are the symbolic minibatch the model was built on; ``cost`` is minimised by
    ``updates`` (e.g. ``dltut.updates.sgd``), ``y_pred`` is the model's predicted labels (the
    errors are counted where ``y_pred != y``), ``params`` the parameters whose values are kept for
    the best model. ``datasets`` is
    ``[(train_x, train_y), (valid_x, valid_y), (test_x, test_y)]`` of shared variables.

    ``fused=False`` compiles the tutorial's functions, one call per minibatch. ``fused=True``
    compiles a span of minibatch updates, or a whole split's errors, into one call: a loop over
    minibatch indices that carries the parameters as state (in JAX mode a ``JaxLoop`` of the
    one-minibatch function, elsewhere a ``scan``). Each span length gets its own compiled
    function (JAX needs static lengths); the trainer asks for few distinct lengths. Fusing pays
    off in JAX mode (the default there); in the C and Numba modes the per-minibatch calls are
    faster (see benchmarks/).

    In JAX mode the data sets are placed on JAX's device once, for the whole run.
    """

    def __init__(self, x, y, cost, y_pred, params, updates, datasets, batch_size, fused=None):
        if fused is None:
            fused = engine.mode() == "jax"
        engine.place_data([variable for pair in datasets for variable in pair])
        # misclassified examples of the minibatch, an integer (one per run for a group's
        # stacked predictions)
        errors = T.sum(T.neq(y_pred, y), axis=y_pred.ndim - 1)
        self.x, self.y, self.cost, self.errors = x, y, cost, errors
        self.params, self.updates, self.batch_size, self.fused = params, updates, batch_size, fused
        counts = batch_counts(datasets, batch_size)
        self.splits = {split: (data_x, data_y, counts[split])
                       for split, (data_x, data_y) in zip(SPLITS, datasets)}
        self.n_train_batches = self.splits["training"][2]
        self.n_valid_batches = self.splits["validation"][2]
        self.n_test_batches = self.splits["test"][2]
        index = T.lscalar("index")
        self._prepared = set()  # the functions prepare() compiled
        if fused:
            self._train_spans = {}
            self._all_errors = {split: self._compile_errors(split)
                                for split in ("validation", "test")}
        else:
            self.train_model = engine.function([index], cost, updates=updates,
                                               givens=self._givens("training", index),
                                               name="train_model")
            self.validate_model = engine.function([index], errors,
                                                  givens=self._givens("validation", index),
                                                  name="validate_model")
            self.test_model = engine.function([index], errors, givens=self._givens("test", index),
                                              name="test_model")

    def _givens(self, split, index):
        """``{x: minibatch index of split's x, y: ... of its y}``."""
        data_x, data_y, n_batch = self.splits[split]
        return {
            self.x: minibatch(data_x, index, self.batch_size, n_batch),
            self.y: minibatch(data_y, index, self.batch_size, n_batch),
        }

    def _train_givens(self, index):
        return self._givens("training", index)

    def _compile_errors(self, split):
        """One call that returns the zero-one loss of every minibatch of ``split``."""
        n_batch = self.splits[split][2]
        if engine.mode() == "jax":
            index = T.lscalar("index")
            return JaxLoop(engine.function([index], self.errors, givens=self._givens(split, index),
                                           name=f"{split}_errors_of_one"), n_batch)

        def step(index):
            return engine.clone_replace(self.errors, self._givens(split, index))

        errors, _ = engine.scan(step, sequences=[T.arange(n_batch)])
        return engine.function([], errors, name=f"{split}_errors")

    def validation_loss(self):
        """Mean of the per-minibatch zero-one losses over the validation set."""
        return self._mean_error("validation")

    def test_score(self):
        """Mean of the per-minibatch zero-one losses over the test set."""
        return self._mean_error("test")

    def _mean_error(self, split):
        """The tutorial's ``numpy.mean([model(i) for i in range(n_batches)])`` over ``split``,
        each minibatch's zero-one loss its error count over the batch size, in float64."""
        if self.fused:
            counts = self._all_errors[split]()
        else:
            model = self.validate_model if split == "validation" else self.test_model
            counts = [model(i) for i in range(self.splits[split][2])]
        return numpy.mean(numpy.asarray(counts, dtype=numpy.float64) / self.batch_size)

    def _evaluation_functions(self):
        """The error counts of the validation and test sets, for ``prepare``."""
        if self.fused:
            return list(self._all_errors.values())
        return [self.validate_model, self.test_model]

    def get_params(self):
        return [param.get_value(borrow=False) for param in self.params]

    def set_params(self, values):
        for param, value in zip(self.params, values):
            param.set_value(value)


class CompiledCost(_Training):
    """The training function of an unsupervised cost (the autoencoders'): a cost of ``x`` alone.

    ``cost`` of the symbolic minibatch ``x`` is minimised by ``updates`` over the shared
    ``train_x``, one call per minibatch (``fused=False``, the tutorials' ``train_da``) or a span
    of minibatches per call (``fused=True``, the default in JAX mode; an epoch is
    ``train_minibatches(0, n_train_batches)``). The random streams the cost draws from advance
    at each minibatch either way.

    In JAX mode ``train_x`` is placed on JAX's device, and each minibatch has the static shape
    ``(batch_size, n_in)``, so that a draw of size ``x.shape`` (the corruption) has a size known
    when XLA compiles, as JAX needs.
    """

    def __init__(self, x, cost, updates, train_x, batch_size, fused=None):
        self.fused = engine.mode() == "jax" if fused is None else fused
        engine.place_data([train_x])
        self.x, self.cost, self.batch_size = x, cost, batch_size
        # pairs, or a dict as scan-built costs give them (the RBM's)
        self.updates = list(updates.items()) if isinstance(updates, dict) else list(updates)
        self.train_x = train_x
        self.n_train_batches = n_batches(train_x, batch_size, "training")
        self._prepared = set()  # the functions prepare() compiled
        if self.fused:
            self._train_spans = {}
        else:
            index = T.lscalar("index")
            self.train_model = engine.function([index], cost, updates=updates,
                                               givens=self._train_givens(index),
                                               name="train_model")

    def _train_givens(self, index):
        rows = minibatch(self.train_x, index, self.batch_size, self.n_train_batches)
        if engine.mode() == "jax":
            n_in = self.train_x.get_value(borrow=True).shape[1]
            rows = T.specify_shape(rows, (self.batch_size, n_in))
        return {self.x: rows}


class CompiledGroup:
    """Several models of the same shapes, trained in lockstep on the same minibatches: one
    compiled call per span advances all of them (``dltut.trainer.train_lockstep``).

    Each run's ``costs[i]``, ``y_preds[i]`` and ``run_params[i]`` are those of a model built, as
    for ``CompiledModel``, on the same symbolic minibatch ``x``, ``y``, and minimised by SGD
    (``dltut.updates.sgd``) with ``learning_rates[i]``. Always fused (JAX mode).

    The runs are trained in loops of ``runs_per_loop`` consecutive runs (default: all in one),
    each a ``_GroupLoop``: one compiled program that holds its runs' own copies of the model, so
    that each run's arithmetic is its solo run's, operation for operation. A span runs the loops
    one after the other over the same minibatches, and skips a loop whose runs are all inactive
    in it. Why loops: on the CPU an update of 8 MLPs in one loop cost twice what it costs in
    loops of 2, as if their weights no longer fit the caches (``dltut.batched.runs_per_loop``,
    which picks the loops' size). A loop
    whose graph is an earlier loop's but for its runs' parameters (the same model and
    regularization: learning rates and seeds may differ) runs that loop's compiled programs on
    its own parameters: the group is built and compiled about once.

    ``vmap=True`` (a GPU's way) builds a loop per run and runs the loops of one graph as one
    ``VmappedLoops`` program: the model is built and compiled once, not once per run, and all
    runs advance in each step's batched products; the numbers equal the solo runs' up to
    rounding.
    """

    def __init__(self, x, y, costs, y_preds, run_params, learning_rates, datasets, batch_size,
                 span_length=None, runs_per_loop=None, vmap=False):
        if engine.mode() != "jax":
            raise ValueError(f"a group of runs trains in JAX mode only, not {engine.mode()!r}")
        self.n_runs = len(costs)
        per_loop = 1 if vmap else runs_per_loop or self.n_runs
        self.loop_runs = [range(first, min(first + per_loop, self.n_runs))
                          for first in range(0, self.n_runs, per_loop)]
        self.loops = []
        for runs in self.loop_runs:
            self.loops.append(_GroupLoop(
                x, y, *[values[runs.start:runs.stop] for values in
                        (costs, y_preds, run_params, learning_rates)],
                datasets, batch_size, span_length,
                templates=[loop for loop in self.loops if loop.like is None]))
        # what a span runs: (the runs' indices, a _GroupLoop or _VmappedRuns)
        if vmap:
            families = {}  # template loop -> the runs of the loops like it
            for runs, loop in zip(self.loop_runs, self.loops):
                families.setdefault(loop.like or loop, []).append((runs.start, loop))
            self.units = [([index for index, _ in family],
                           _VmappedRuns([loop for _, loop in family]))
                          for family in families.values()]
        else:
            self.units = [(list(runs), loop) for runs, loop in zip(self.loop_runs, self.loops)]

    def train_minibatches(self, first, count, active=None):
        """Update the runs whose ``active`` entry is true (default: all) on minibatches ``first ..
        first + count - 1``; their costs, a ``(count, n_runs)`` array (NaN for a run whose loop
        did not run)."""
        active = numpy.ones(self.n_runs, bool) if active is None else numpy.asarray(active, bool)
        costs = numpy.full((count, self.n_runs), numpy.nan, dtype=engine.floatX())
        for runs, unit in self.units:
            if active[runs].any():
                costs[:, runs] = unit.train_minibatches(first, count, active[runs])
        return costs

    def prepare(self, span_lengths=()):
        """Compile every loop's span and evaluations (``span_lengths`` need no other)."""
        for _, unit in self.units:
            unit.prepare()

    def _mean_errors(self, split):
        losses = [None] * self.n_runs
        for runs, unit in self.units:
            for index, loss in zip(runs, unit.mean_errors(split)):
                losses[index] = loss
        return losses

    def validation_losses(self):
        return self._mean_errors("validation")

    def test_scores(self):
        return self._mean_errors("test")

    def _run(self, index):
        """The loop holding run ``index``, and the run's index in it."""
        for runs, loop in zip(self.loop_runs, self.loops):
            if index in runs:
                return loop, index - runs.start
        raise IndexError(f"run {index} of a group of {self.n_runs} runs")

    def get_run_params(self, index):
        loop, index = self._run(index)
        return [param.get_value(borrow=False) for param in loop.run_params[index]]

    def set_run_params(self, index, values):
        loop, index = self._run(index)
        for param, value in zip(loop.run_params[index], values):
            param.set_value(value)


def _train_in_spans(span, span_length, learning_rates, first, count, active):
    """``count`` updates from minibatch ``first`` by calls of ``span(first, rates)``, a compiled
    span of ``span_length`` steps whose step ``t`` has the learning rates ``rates[t]`` (one per
    run, 0 for a run not active); the updates' costs, a ``(count, n_runs)`` array."""
    rates = numpy.where(numpy.asarray(active, dtype=bool), learning_rates, 0)
    costs = []
    for start in range(0, count, span_length):
        steps = min(span_length, count - start)
        span_rates = numpy.zeros((span_length, len(learning_rates)), dtype=engine.floatX())
        span_rates[:steps] = rates
        costs.append(numpy.asarray(span(first + start, span_rates))[:steps])
    return numpy.concatenate(costs)


def _mean_errors(counts, batch_size):
    """Each run's mean zero-one loss from its column of error counts, as ``CompiledModel``
    computes one run's."""
    counts = numpy.asarray(counts, dtype=numpy.float64)
    return [numpy.mean(numpy.ascontiguousarray(counts[:, index]) / batch_size)
            for index in range(counts.shape[1])]


class _VmappedRuns:
    """Loops of one run each and of one graph (the first loop's, the others rebound to it),
    trained and evaluated as one vmapped program each (``VmappedLoops``)."""

    def __init__(self, loops):
        self.loops, self.n_runs = loops, len(loops)
        self.learning_rates = [loop.learning_rates[0] for loop in loops]
        self.span_length, self.batch_size = loops[0].span_length, loops[0].batch_size
        self._programs = {}

    def _program(self, name):
        """The vmapped span ("training") or errors of a split."""
        if name not in self._programs:
            self._programs[name] = VmappedLoops([
                loop._span(loop.span_length) if name == "training" else loop._all_errors[name]
                for loop in self.loops])
        return self._programs[name]

    def train_minibatches(self, first, count, active):
        def span(first, rates):  # (steps, runs) rates in, (steps, runs) costs out
            return numpy.asarray(self._program("training")(first, rates.T[:, :, None]))[:, :, 0].T

        return _train_in_spans(span, self.span_length, self.learning_rates, first, count, active)

    def mean_errors(self, split):
        return _mean_errors(numpy.asarray(self._program(split)())[:, :, 0].T, self.batch_size)

    def prepare(self):
        for name in ("training", "validation", "test"):
            self._program(name).compile_ahead()


class _GroupLoop(CompiledModel):
    """Some runs of a ``CompiledGroup`` in one compiled program: a graph holding every run's own
    copy of the model; the validation and test errors of all its runs are one compiled call per
    split.

    Each minibatch step of a span has a ``rates`` row, one learning rate per run, 0 for a run
    not active in that step: ``param - rate * gradient`` is the solo update bit for bit (the
    same product with the same value), or for 0 the parameter unchanged (the inactive run's
    cost is still computed, and ignored; a ``switch`` between the new and old values, measured
    too, adds a pass over every parameter at every step). The rates are an input, not
    constants, so that loops of other learning rates can share the compiled programs: ``like``
    is the first of ``templates`` (earlier loops) whose graph equals this one's but for the
    runs' parameters, whose programs this loop runs on its own parameters (None: none). A loop
    compiles one span, of ``span_length`` steps (default: an epoch), because compiling the whole
    group is what takes long: a shorter span runs the compiled one with its last steps inactive
    for every run, a longer one as several calls. So a group's spans, which its runs'
    validations and stops cut into many lengths, cost one compile.
    """

    def __init__(self, x, y, costs, y_preds, run_params, learning_rates, datasets, batch_size,
                 span_length=None, templates=()):
        self.n_runs, self.learning_rates = len(costs), learning_rates
        self.rates = T.vector("rates")  # a step's learning rate of each run, 0: not active
        updates = [pair for index, (cost, params) in enumerate(zip(costs, run_params))
                   for pair in sgd(cost, params, self.rates[index])]
        self.run_params = [list(params) for params in run_params]
        params = [param for params in self.run_params for param in params]
        self.graph = [T.stack(costs), T.stack(y_preds)] + [value for _, value in updates]
        self.like = next((loop for loop in templates if self._same_graph(loop, params)), None)
        self.storages = {} if self.like is None else {
            id(theirs.container.storage): mine.container.storage
            for theirs, mine in zip(self.like.params, params)}
        super().__init__(x, y, self.graph[0], self.graph[1], params, updates, datasets,
                         batch_size, fused=True)
        self.span_length = span_length or self.n_train_batches

    def _same_graph(self, loop, params):
        """Whether ``loop``'s graph is this one's, its parameters and rates read as ours
        (``params``, in the order of ``loop.params``)."""
        return len(loop.graph) == len(self.graph) and engine.equal_computations(
            loop.graph, self.graph, loop.params + [loop.rates], params + [self.rates])

    def _compile_span(self, count):
        if self.like is None:
            return super()._compile_span(count)
        return self.like._span(count).rebound(self.storages)

    def _compile_errors(self, split):
        if self.like is None:
            return super()._compile_errors(split)
        return self.like._all_errors[split].rebound(self.storages)

    def _step_inputs(self):
        return [self.rates.type("rates_row")]

    def _step_givens(self, index, rates):
        return {**self._train_givens(index), self.rates: rates}

    def _loop_options(self, count):
        """Step ``t`` of a span trains minibatch ``first + t`` (an inactive step past the epoch
        its last one) with the learning rates of row ``t`` of the span's rates."""
        return {"last_index": self.n_train_batches - 1,
                "examples": [numpy.ones((count, self.n_runs), dtype=engine.floatX())]}

    def train_minibatches(self, first, count, active):
        """Update the runs whose ``active`` entry is true on minibatches ``first .. first + count
        - 1``; their costs, a ``(count, n_runs)`` array."""
        return _train_in_spans(self._span(self.span_length), self.span_length,
                               self.learning_rates, first, count, active)

    def prepare(self, span_lengths=()):
        """Compile the loop's one span and its evaluations."""
        super().prepare([self.span_length])

    def mean_errors(self, split):
        """Each run's mean zero-one loss over ``split``."""
        return _mean_errors(self._all_errors[split](), self.batch_size)
