"""The tutorials' minibatch SGD with early stopping, written once and used by every tutorial.

The rules, exactly as in the tutorials (``iter`` counts minibatch updates from 0):

* Training visits the minibatches of each epoch in order, for at most ``n_epochs`` epochs.
* After update ``iter``, when ``(iter + 1) % validation_frequency == 0``, the model is validated
  (``validation_frequency = min(n_train_batches, patience // 2)`` unless given: once per epoch, or
  more often when patience is short).
* A validation error below the best so far is a new best: its test error is computed and its
  parameters kept. If it is also below ``best * improvement_threshold`` (a significant gain), patience
  grows to ``max(patience, iter * patience_increase)``. The very first validation always counts as
  significant.
* Training stops after update ``iter`` as soon as ``patience <= iter`` ("patience" stop), or when the
  epochs run out ("n_epochs" stop).

The LSTM tutorial stops by another rule, ``ValidationPatience`` (its ``patience`` counts
validations, not updates):

* After update ``iter``, when ``(iter + 1) % validation_frequency == 0``, the model is validated,
  its training, validation and test errors all computed.
* A validation error at or below every one so far (ties count) is a new best: its parameters are
  kept and the count of stale validations goes back to 0.
* A validation is stale when more than ``patience`` validations have run and its error is at or
  above the lowest of all but the last ``patience``: the count goes up by one, and training stops
  ("validation_patience" stop) when the count exceeds ``patience``; or when the epochs run out.

The segmentation tutorials stop by a third rule, ``EpochPatience`` (their ``max_patience``
counts epochs):

* After each epoch the model is validated: its mean training cost and accuracy over the epoch,
  its validation cost, accuracy and Jaccard index per class, and their mean (or, given
  ``early_stop_class``, that class's index, which then stands for the mean below).
* The first epoch's mean Jaccard index is the best so far, without keeping the model; from the
  third epoch on, a mean Jaccard index above the best is a new best (its parameters kept, the
  count of epochs without one back to 0); any other epoch, the second included, adds one to it.
  Training stops when the count reaches ``max_patience``, or when the epochs run out.

``train`` returns a ``TrainResult`` holding the best model's numbers and the whole history of
validations and patience, so the stop can be explained after the fact. ``train_lockstep`` trains
several runs fed the same minibatches (``dltut.batched``), each by the same rules: ``Run`` holds
them for one run, and both loops use it. A rule is asked, never its type: ``frequency``,
``validate``, ``stopped`` (with its ``reason``) and ``stop_bound`` (how far a span may run
without a validation), and whether it runs in lockstep.
"""

import dataclasses
import logging
import math
import signal
import threading
import timeit

import numpy

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """The early-stopping hyperparameters of the tutorials."""

    n_epochs: int = 1000  # most passes over the training set
    patience: int = 5000  # look at this many minibatches regardless
    patience_increase: int = 2  # a significant new best extends patience to iter * this
    improvement_threshold: float = 0.995  # relative gain that extends patience
    validation_frequency: int | None = None  # minibatches between validations; None: see below

    def __post_init__(self):
        _require_int("n_epochs", self.n_epochs, 1)
        _require_int("patience", self.patience, 1)
        _require_int("patience_increase", self.patience_increase, 1)
        if not 0 < self.improvement_threshold <= 1:
            raise ValueError(
                f"improvement_threshold must be in (0, 1], got {self.improvement_threshold!r} "
                "(0.995 asks for a 0.5 % relative gain)"
            )
        if self.validation_frequency is not None:
            _require_int("validation_frequency", self.validation_frequency, 1)

    def frequency(self, n_train_batches):
        """Minibatches between two validations: ``min(n_train_batches, patience // 2)``."""
        if self.validation_frequency is not None:
            return self.validation_frequency
        frequency = min(n_train_batches, self.patience // 2)
        if frequency < 1:
            raise ValueError(
                f"patience {self.patience} gives a validation frequency of 0 (patience // 2): use "
                "patience >= 2 or set validation_frequency"
            )
        return frequency

    # The stopping interface the trainer calls (``ValidationPatience`` has the same):
    reason = "patience"  # the stop_reason of a run this rule stops
    lockstep = True  # train_lockstep can run it beside other runs

    def stopped(self, state):
        """Whether the run in ``state`` stops after its update ``state.iteration``."""
        return 0 <= state.iteration and state.patience <= state.iteration

    def stop_bound(self, state):
        """The update past which the run may stop without a validation: its patience."""
        return state.patience

    def validate(self, model, state, epoch, minibatch, n_train_batches, callbacks, logger):
        """Validate after update ``state.iteration`` (``_validate``)."""
        _validate(model, state, self, epoch, minibatch, n_train_batches, callbacks, logger)


@dataclasses.dataclass(frozen=True)
class ValidationPatience:
    """The LSTM tutorial's early stopping: patience is a count of stale validations."""

    n_epochs: int = 5000  # most passes over the training set (max_epochs)
    patience: int = 10  # stale validations tolerated (see the module's docstring)
    validation_frequency: int = 370  # minibatches between validations (validFreq)

    def __post_init__(self):
        _require_int("n_epochs", self.n_epochs, 1)
        _require_int("patience", self.patience, 1)
        _require_int("validation_frequency", self.validation_frequency, 1)

    def frequency(self, n_train_batches):
        return self.validation_frequency

    reason = "validation_patience"
    lockstep = False  # its validations compute each run's training error: one run at a time

    def stopped(self, state):
        return state.bad_counter > self.patience

    def stop_bound(self, state):
        return math.inf  # it stops only at a validation

    def validate(self, model, state, epoch, minibatch, n_train_batches, callbacks, logger):
        """Validate after update ``state.iteration`` (``_validate_counting``)."""
        _validate_counting(model, state, self, epoch, minibatch, callbacks)


@dataclasses.dataclass(frozen=True)
class EpochPatience:
    """The segmentation tutorials' early stopping: a validation per epoch, the best mean Jaccard
    index kept, patience counted in epochs (see the module's docstring)."""

    n_epochs: int = 500  # most passes over the training set (num_epochs)
    max_patience: int = 25  # epochs without a new best before training stops
    early_stop_class: int | None = None  # the class whose Jaccard index counts; None: the mean

    def __post_init__(self):
        _require_int("n_epochs", self.n_epochs, 1)
        _require_int("max_patience", self.max_patience, 1)
        if self.early_stop_class is not None:
            _require_int("early_stop_class", self.early_stop_class, 0)

    @property
    def patience(self):  # what a new TrainState starts with
        return self.max_patience

    def frequency(self, n_train_batches):
        return n_train_batches  # once per epoch

    reason = "max_patience"
    lockstep = False

    def stopped(self, state):
        return state.bad_counter >= self.max_patience

    def stop_bound(self, state):
        return math.inf  # it stops only at a validation

    def validate(self, model, state, epoch, minibatch, n_train_batches, callbacks, logger):
        """Validate after update ``state.iteration`` (``_validate_jaccard``)."""
        _validate_jaccard(model, state, epoch, minibatch, n_train_batches, callbacks,
                          self.early_stop_class)


def _require_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclasses.dataclass
class Validation:
    """One validation point of a run."""

    iter: int  # the update just done, counted from 0
    epoch: int  # counted from 1
    minibatch: int  # the minibatch just trained, counted from 1 as in the log lines
    validation_loss: float  # mean zero-one loss over the validation minibatches
    patience: int  # patience after this validation
    new_best: bool  # below the best validation loss so far
    extended: bool  # a significant gain: patience was set to max(patience, iter * patience_increase)
    test_score: float | None = None  # test error of this model, computed for a new best only
    train_loss: float | None = None  # ValidationPatience: the training error, at each validation
    bad_counter: int | None = None  # ValidationPatience: the count of stale validations after it
    scores: dict | None = None  # EpochPatience: the epoch's costs, accuracies and Jaccard indices


@dataclasses.dataclass
class TrainState:
    """Everything a run needs to go on from where it is: a checkpoint holds this and the params."""

    patience: int  # current patience (in minibatch updates)
    iteration: int = -1  # last update done, counted from 0
    best_validation_loss: float = math.inf
    best_iter: int = 0
    test_score: float = 0.0  # test error of the best model
    best_params: list | None = None  # parameter values of the best model
    history: list = dataclasses.field(default_factory=list)  # one Validation per validation
    costs: list = dataclasses.field(default_factory=list)  # training cost of each update
    bad_counter: int = 0  # ValidationPatience, EpochPatience: validations since the last new best
    best_score: float | None = None  # EpochPatience: the best mean Jaccard index so far

    def to_dict(self):
        """The counters and history as plain JSON-able values (params and costs excluded)."""
        fields = dataclasses.asdict(self)
        del fields["best_params"], fields["costs"]
        return fields

    @classmethod
    def from_dict(cls, fields, best_params, costs):
        """The state ``to_dict`` wrote, with its best parameters and costs (what a checkpoint
        holds); a ``ValueError`` naming the first value a run cannot have written."""
        _check_state(fields, best_params, costs)
        fields = dict(fields)
        fields["history"] = [Validation(**v) for v in fields["history"]]
        return cls(best_params=best_params, costs=list(costs), **fields)


# a checkpoint's state: what each field holds (int, an error rate in [0, 1], a bool, or one of
# these or None), and the least int where there is one
_STATE_FIELDS = {"patience": ("int", 1), "iteration": ("int", -1), "bad_counter": ("int", 0),
                 "best_validation_loss": ("rate or inf", None), "best_iter": ("int", 0),
                 "test_score": ("rate", None), "history": ("list", None),
                 "best_score": ("number or None", None)}
_VALIDATION_FIELDS = {"iter": ("int", 0), "epoch": ("int", 1), "minibatch": ("int", 1),
                      "validation_loss": ("rate", None), "patience": ("int", 1),
                      "new_best": ("bool", None), "extended": ("bool", None),
                      "test_score": ("rate or None", None), "train_loss": ("rate or None", None),
                      "bad_counter": ("int or None", 0), "scores": ("scores or None", None)}
_OPTIONAL_VALIDATION_FIELDS = ("test_score", "train_loss", "bad_counter", "scores")
_MOST_COST_COLUMNS = 8  # a training function's outputs per update (the cost, an accuracy...)
_MOST_SCORE_NUMBERS = 1024  # numbers in one validation's scores (one per class at most)


def _check_state(fields, best_params, costs):
    """What ``TrainState.from_dict`` is given is a state a run can be in: the fields of
    ``to_dict`` and no other, each of its kind and range, one cost per update done (so the
    counters are bounded by the file that holds the costs), a history in order, and best
    parameters exactly when a best validation loss was recorded."""
    _check_fields("state", fields, _STATE_FIELDS, ())
    costs = numpy.asarray(costs)
    if costs.ndim not in (1, 2) or costs.dtype.kind not in "fiu" \
            or (costs.ndim == 2 and not 1 <= costs.shape[1] <= _MOST_COST_COLUMNS):
        raise ValueError(f"costs must be a list of numbers (or of rows of at most "
                         f"{_MOST_COST_COLUMNS}), got an array of shape {costs.shape} and dtype "
                         f"{costs.dtype}")
    iteration = fields["iteration"]
    if len(costs) != iteration + 1:
        raise ValueError(f"state: iteration {iteration} but {len(costs)} costs recorded (one per "
                         "update: iteration + 1)")
    if len(costs) > 1 and not numpy.isfinite(costs[:-1] if costs.ndim == 1
                                             else costs[:-1, 0]).all():
        raise ValueError("costs: a NaN or infinite cost before the last (a run stops at the first)")
    if fields["best_iter"] > max(iteration, 0):
        raise ValueError(f"state: best_iter {fields['best_iter']} is after iteration {iteration}")
    history = fields["history"]
    if len(history) > iteration + 1:
        raise ValueError(f"state: {len(history)} validations in {iteration + 1} updates")
    last = -1
    for index, record in enumerate(history):
        _check_fields(f"history[{index}]", record, _VALIDATION_FIELDS,
                      _OPTIONAL_VALIDATION_FIELDS)
        if not last < record["iter"] <= iteration:
            raise ValueError(f"history[{index}]: iter {record['iter']} is not after the previous "
                             f"validation's ({last}) and at most iteration {iteration}")
        last = record["iter"]
    if (best_params is None) != math.isinf(fields["best_validation_loss"]):
        raise ValueError(f"state: best_validation_loss {fields['best_validation_loss']} "
                         f"{'without' if best_params is None else 'with'} best parameters")


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _check_fields(where, fields, kinds, optional):
    if not isinstance(fields, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(fields).__name__} {fields!r}")
    missing = sorted(set(kinds) - set(optional) - set(fields))
    unknown = sorted(map(str, set(fields) - set(kinds)))
    if missing or unknown:
        raise ValueError(f"{where}: " + "; ".join(
            text for text in (missing and f"missing {', '.join(missing)}",
                              unknown and f"unknown {', '.join(unknown)}") if text))
    for name, value in fields.items():
        kind, least = kinds[name]
        if value is None and kind.endswith(" or None"):
            continue
        kind = kind.removesuffix(" or None")
        if kind == "int":
            good = (not isinstance(value, bool) and isinstance(value, int)
                    and (least is None or value >= least))
            wanted = f"an integer >= {least}"
        elif kind == "bool":
            good, wanted = isinstance(value, bool), "true or false"
        elif kind == "list":
            good, wanted = isinstance(value, list), "a list"
        elif kind == "number":
            good, wanted = _is_number(value), "a number"
        elif kind == "scores":
            good = isinstance(value, dict) and all(
                isinstance(key, str) and (_is_number(number) or (
                    isinstance(number, list) and len(number) <= _MOST_SCORE_NUMBERS
                    and all(map(_is_number, number)))) for key, number in value.items())
            good = good and len(value) <= _MOST_SCORE_NUMBERS
            wanted = "an object of numbers and lists of numbers"
        else:  # an error rate: a mean zero-one loss ("or inf": none yet; NaN: a pixel error
            # over no labelled pixel)
            good = (_is_number(value) and (0 <= value <= 1 or math.isnan(value)
                                           or (kind == "rate or inf" and value == math.inf)))
            wanted = "an error rate in [0, 1]" + (" or Infinity" if kind == "rate or inf" else "")
        if not good:
            raise ValueError(f"{where}: {name} must be {wanted}, got {value!r}")


@dataclasses.dataclass
class TrainResult:
    """What a run found: the best model's numbers, how it stopped and the history that led there."""

    best_validation_loss: float  # inf when no validation ran
    best_iter: int  # update at which the best model was reached (the tutorial prints best_iter + 1)
    test_score: float  # test error of the best model (0.0 when no validation ran, as in the tutorial)
    epochs: int  # epochs started (the last may be partial)
    iterations: int  # minibatch updates done
    stop_reason: str  # "patience", "validation_patience", "n_epochs" or "interrupted"
    patience: int  # patience at the end
    validation_frequency: int
    n_train_batches: int
    history: list  # one Validation per validation point
    costs: numpy.ndarray  # training cost of each minibatch update, in order
    elapsed: float  # seconds spent in the loop (this process only, when resumed)
    best_params: list | None = None  # parameter values of the best model
    state: TrainState | None = None  # the state the run ended in (what a checkpoint holds)

    @property
    def epochs_per_second(self):
        return self.epochs / self.elapsed if self.elapsed > 0 else math.inf


class Diverged(FloatingPointError):
    """The training cost became NaN or infinite; ``result`` is the run up to there."""

    def __init__(self, iteration, cost, result):
        super().__init__(f"training diverged at iteration {iteration}: cost {cost}")
        self.iteration, self.cost, self.result = iteration, cost, result


class StopRequest:
    """Turns SIGINT (Ctrl-C) and SIGTERM into a request to stop at the next minibatch boundary.

    Use as a context manager around ``train(..., stop_requested=request)``; the previous handlers
    come back on exit. ``signal_number`` tells which signal asked (None if none did).
    """

    def __init__(self, signals=(signal.SIGINT, signal.SIGTERM)):
        self.signals, self.signal_number, self._previous = signals, None, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # only it may set handlers
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        self.signal_number = signum
        log.warning("%s received: stopping after this minibatch", signal.Signals(signum).name)

    def __call__(self):
        return self.signal_number is not None


class Minibatches:
    """A tutorial's compiled ``train_model``, ``validate_model`` and ``test_model`` (each a function
    of a minibatch index) as ``train`` calls them, with their splits' minibatch counts and the
    model's ``params``.

    ``validation_loss`` is the tutorials' ``numpy.mean([validate_model(i) for i in
    range(n_valid_batches)])``. Where the engine's functions can run a span of indices as one call
    (``over``, in JAX mode), the training spans between validations and the validation and test
    sweeps are such calls (``fused``; None: wherever they can), with the same numbers. A cost
    without labels (the autoencoders') has no ``validate_model`` or ``test_model``: None.
    """

    def __init__(self, train_model, validate_model, test_model, n_train_batches, n_valid_batches,
                 n_test_batches, params, fused=None):
        functions = {"training": train_model, "validation": validate_model, "test": test_model}
        self.functions = {split: f for split, f in functions.items() if f is not None}
        self.counts = {"training": n_train_batches, "validation": n_valid_batches,
                       "test": n_test_batches}
        self.n_train_batches, self.params = n_train_batches, params
        can_fuse = all(hasattr(function, "over") for function in self.functions.values())
        self.fused = can_fuse if fused is None else bool(fused) and can_fuse

    def train_minibatches(self, first, count):
        """One update per minibatch ``first .. first + count - 1``; their costs, one row each
        (a row of outputs where ``train_model`` returns several)."""
        train_model = self.functions["training"]
        if not self.fused:
            return numpy.array([train_model(i) for i in range(first, first + count)])
        costs = train_model.over(first, count)
        return numpy.stack(costs, axis=-1) if isinstance(costs, list) else numpy.asarray(costs)

    def _mean(self, split):
        function, count = self.functions[split], self.counts[split]
        if self.fused:
            losses = function.over(0, count)
        else:
            losses = [function(i) for i in range(count)]
        return numpy.mean(numpy.asarray(losses, dtype=numpy.float64))

    def validation_loss(self):
        return self._mean("validation")

    def test_score(self):
        return self._mean("test")

    def get_params(self):
        return [param.get_value(borrow=False) for param in self.params]

    def set_params(self, values):
        for param, value in zip(self.params, values):
            param.set_value(value)

    def prepare(self, span_lengths=()):
        """Compile ahead (JAX mode) what the run will call: the spans of ``span_lengths`` or
        ``train_model``, and the validation and test sweeps."""
        functions = self.functions
        if not hasattr(functions["training"], "compile_ahead"):
            return
        functions["training"].compile_ahead(span_lengths if self.fused else ())
        for split in set(functions) - {"training"}:
            functions[split].compile_ahead([self.counts[split]] if self.fused else ())


class Batches:
    """A segmentation tutorial's compiled ``train_fn(X, L)`` (its cost and pixel accuracy, after
    an update) and ``valid_fn(X, L)`` (cost, accuracy and the ``(2, n_classes)`` Jaccard
    numerators and denominators) as ``train`` calls them, fed by the tutorial's batch iterators
    (``next()`` gives a dict with ``data`` and ``labels``; the labels are flattened, as the
    tutorials do), and the ``params`` a best model and a checkpoint hold.

    ``at_epoch_start()``, if given, is called before an epoch's first update (the tutorials decay
    their learning rate there). ``validation_scores`` adds the validation batches' numbers up in
    order and divides, as the tutorials do. ``resume(state)`` moves the iterators to where the
    run in ``state`` left them, so a resumed run sees the batches an unbroken one would.
    """

    fused = False

    def __init__(self, train_fn, valid_fn, train_iter, valid_iter, params, at_epoch_start=None):
        self.train_fn, self.valid_fn = train_fn, valid_fn
        self.train_iter, self.valid_iter = train_iter, valid_iter
        self.n_train_batches, self.n_valid_batches = train_iter.nbatches, valid_iter.nbatches
        self.params, self.at_epoch_start = params, at_epoch_start

    def train_minibatches(self, first, count):
        rows = []
        for minibatch in range(first, first + count):
            if minibatch == 0 and self.at_epoch_start is not None:
                self.at_epoch_start()
            rows.append([float(value) for value in self.train_fn(*_batch(self.train_iter))])
        return numpy.array(rows)

    def validation_scores(self):
        return batch_scores(self.valid_fn, self.valid_iter, self.n_valid_batches)

    def get_params(self):
        return [param.get_value(borrow=False) for param in self.params]

    def set_params(self, values):
        for param, value in zip(self.params, values):
            param.set_value(value)

    def resume(self, state):
        """Draw the batches the run in ``state`` drew, in its order: each update's, and after
        the update it followed each validation's (U-Net's iterators augment from one
        generator, whose numbers then go to the same batches)."""
        validated = [record.iter for record in state.history]
        for iteration in range(state.iteration + 1):
            self.train_iter.next()
            for _ in range(validated.count(iteration) * self.n_valid_batches):
                self.valid_iter.next()


def _batch(iterator):
    """The next batch of a segmentation tutorial's iterator: its data and its labels flattened."""
    batch = iterator.next()
    labels = numpy.asarray(batch["labels"])
    return batch["data"], labels.reshape(labels.size)


def batch_scores(fn, iterator, n_batches):
    """The cost, the pixel accuracy and the Jaccard index per class of ``fn(X, L)`` over
    ``n_batches`` batches of ``iterator``, each added up in order and divided as the
    segmentation tutorials do (the Jaccard index's numerators and denominators, then one
    division: NaN for a class seen nowhere)."""
    cost = accuracy = 0
    jaccard = None
    for _ in range(n_batches):
        batch_cost, batch_accuracy, batch_jaccard = fn(*_batch(iterator))
        cost += batch_cost
        accuracy += batch_accuracy
        if jaccard is None:
            jaccard = numpy.zeros(numpy.shape(batch_jaccard))  # float64, as the tutorials
        jaccard += batch_jaccard
    with numpy.errstate(invalid="ignore", divide="ignore"):
        per_class = jaccard[0, :] / jaccard[1, :]
    return {"cost": cost / n_batches, "accuracy": accuracy / n_batches, "jaccard": per_class}


def train(model, n_train_batches, stopping=EarlyStopping(), callbacks=(), log_every=None,
          state=None, checkpoint=None, checkpoint_every=None, stop_requested=None):
    """Run minibatch SGD with early stopping.

    ``model`` holds the compiled functions (``Minibatches`` of a tutorial's ``train_model``,
    ``validate_model`` and ``test_model``, or ``dltut.compiled.CompiledModel``), offering:

    * ``train_minibatches(first, count)``: update on minibatches ``first .. first + count - 1`` of
      the epoch, in order; return their costs. A model with ``fused = True`` is asked for the
      longest span that ends at the next event (validation, patience stop or end of epoch) and may
      run it as one compiled call; the result must equal ``count`` single updates. Others are
      asked for one minibatch at a time.
    * ``validation_loss()`` and ``test_score()``: mean zero-one loss over that split's minibatches.
    * ``get_params()``: copies of the parameter values.
    * optionally ``prepare(span_lengths)``: compile what the run will call, before the clock
      starts (``TrainResult.elapsed`` times training, as the tutorials' "The code ran for"). It
      is asked again, off the clock, for a span length the run meets that was not foreseen (a
      span that a raised patience cuts short), and must compile only what is new.

    ``callbacks`` are called with each ``Validation`` as it happens. ``log_every`` logs
    ``training @ iter = %i`` before every that-many-th update, as the LeNet tutorial prints.

    ``state`` (a ``TrainState``, e.g. from a checkpoint, with the model's parameters already set)
    resumes a run: the rest of it is the same as in an unbroken run. ``checkpoint(state)`` is
    called every ``checkpoint_every`` epochs and when the run ends, however it ends.
    ``stop_requested()`` is asked after every minibatch (every span when fused); when it says yes
    the run ends with ``stop_reason == "interrupted"`` (see ``StopRequest``).

    A NaN or infinite training cost raises ``Diverged`` after the checkpoint is written.
    """
    _require_int("n_train_batches", n_train_batches, 1)
    state = state if state is not None else TrainState(patience=stopping.patience)
    run = Run(state, stopping, n_train_batches, callbacks)
    fused = getattr(model, "fused", False)
    prepared = _prepare(model, [run] if fused and run.stop_reason is None else [])
    start_time = timeit.default_timer()
    compiling = 0.0  # seconds of the loop spent compiling, not training
    while run.stop_reason is None:
        first = state.iteration + 1
        if run.out_of_epochs(first):
            break
        last = run.span_end(first) if fused else first
        if fused and last - first + 1 not in prepared:
            compiling += _prepare_spans(model, [last - first + 1])
            prepared.add(last - first + 1)
        _log_iterations([run], log_every, first, last)
        run.record(model, first, last, model.train_minibatches(first % n_train_batches,
                                                               last - first + 1))
        if run.stop_reason is None:
            if stop_requested is not None and stop_requested():
                run.stop_reason = "interrupted"
            elif checkpoint is not None and _checkpoint_due(last, n_train_batches,
                                                            checkpoint_every):
                checkpoint(state)
    if checkpoint is not None:
        checkpoint(state)
    result = run.result(timeit.default_timer() - start_time - compiling)
    if compiling:
        log.debug("compiled during training (not timed as training) in %.3fs", compiling)
    log.debug("trained for %.3fs: %i updates, %i validations", result.elapsed,
              len(state.costs), len(state.history))
    if run.diverged is not None:
        raise Diverged(*run.diverged, result)
    return result


def train_lockstep(group, n_train_batches, stoppings, callbacks=None, loggers=None, log_every=None,
                   stop_requested=None, states=None, checkpoints=None, checkpoint_every=None):
    """Train several runs in lockstep, each by ``train``'s rules; a ``TrainResult`` per run.

    ``group`` holds the runs' models, all fed the same minibatches (``dltut.compiled.
    CompiledGroup`` or anything alike), offering:

    * ``train_minibatches(first, count, active)``: update the runs whose ``active`` entry is true
      on minibatches ``first .. first + count - 1`` of the epoch, leaving the others' parameters
      as they are; return the costs as a ``(count, n_runs)`` array (the inactive runs' ignored).
    * ``validation_losses()`` and ``test_scores()``: each run's mean zero-one loss over that split.
    * ``get_run_params(index)``: copies of that run's parameter values.
    * optionally ``prepare(span_lengths)``, as in ``train``.

    ``stoppings`` (one ``EarlyStopping`` per run), ``callbacks`` and ``loggers`` (one sequence of
    callbacks and one logger per run; by default none and this module's logger) may differ
    between runs. The active runs are always at the same update: each span ends at the earliest
    event (validation, patience stop, epoch end) of any active run, so every run validates, tests,
    keeps its best and stops exactly where its solo run does. A stopped run is left out of later
    spans. A run whose cost becomes NaN or infinite stops with ``stop_reason == "diverged"`` (no
    ``Diverged`` is raised: the other runs go on); when ``stop_requested()`` says yes after a span
    every active run stops with ``"interrupted"``. ``elapsed`` is each run's time until its stop.

    ``states`` (a ``TrainState`` or None per run, the run's parameters already set in ``group``)
    resume runs, as ``train``'s ``state``; ``checkpoints`` (a ``checkpoint(state)`` or None per
    run) are called for each run training at the end of every ``checkpoint_every`` epochs, and
    for every run when all have ended. Resumed runs need not be at the same update: the runs
    behind train, the others waiting (frozen), until they are; then all go on together.
    """
    _require_int("n_train_batches", n_train_batches, 1)
    if not all(stopping.lockstep for stopping in stoppings):
        raise ValueError("train_lockstep runs the tutorials' EarlyStopping only, not "
                         "ValidationPatience (the LSTM's rule): train such runs one by one")
    n_runs = len(stoppings)
    callbacks = callbacks if callbacks is not None else [()] * n_runs
    loggers = loggers if loggers is not None else [log] * n_runs
    states = states if states is not None else [None] * n_runs
    checkpoints = checkpoints if checkpoints is not None else [None] * n_runs
    runs = [Run(state if state is not None else TrainState(patience=stopping.patience), stopping,
                n_train_batches, run_callbacks, logger)
            for state, stopping, run_callbacks, logger in zip(states, stoppings, callbacks, loggers)]
    _prepare(group, [run for run in runs if run.stop_reason is None])
    start_time = timeit.default_timer()
    elapsed = [None] * n_runs

    def clock_stopped_runs():
        for index, run in enumerate(runs):
            if run.stop_reason is not None and elapsed[index] is None:
                elapsed[index] = timeit.default_timer() - start_time

    while True:
        for run in runs:
            if run.stop_reason is None:
                run.out_of_epochs(run.state.iteration + 1)
        clock_stopped_runs()
        going = [run for run in runs if run.stop_reason is None]
        if not going:
            break
        first = min(run.state.iteration + 1 for run in going)
        active = [run.stop_reason is None and run.state.iteration + 1 == first for run in runs]
        # a span ends at the first event of a run training, or where a waiting run joins
        last = min([run.span_end(first) for run, on in zip(runs, active) if on]
                   + [run.state.iteration for run, on in zip(runs, active) if not on
                      and run.stop_reason is None])
        _log_iterations([run for run, on in zip(runs, active) if on], log_every, first, last)
        costs = numpy.asarray(group.train_minibatches(first % n_train_batches, last - first + 1,
                                                      numpy.array(active)))
        scores = _GroupScores(group)
        for index, run in enumerate(runs):
            if active[index]:
                run.record(_RunInGroup(group, index, scores), first, last, costs[:, index])
                if run.stop_reason is None and checkpoints[index] is not None \
                        and _checkpoint_due(last, n_train_batches, checkpoint_every):
                    checkpoints[index](run.state)
        if stop_requested is not None and stop_requested():
            for run in runs:
                if run.stop_reason is None:
                    run.stop_reason = "interrupted"
        clock_stopped_runs()
    for run, checkpoint in zip(runs, checkpoints):
        if checkpoint is not None:
            checkpoint(run.state)
    return [run.result(seconds) for run, seconds in zip(runs, elapsed)]


class Run:
    """One run's rules, shared by ``train`` and ``train_lockstep``: where its next span ends,
    when its epochs run out, and what happens after a span of updates (divergence, validation,
    patience stop). ``stop_reason`` is None until the run stops."""

    def __init__(self, state, stopping, n_train_batches, callbacks=(), logger=log):
        self.state, self.stopping, self.n_train_batches = state, stopping, n_train_batches
        self.frequency = stopping.frequency(n_train_batches)
        self.callbacks, self.log = callbacks, logger
        self.stop_reason, self.diverged = None, None
        # a run resumed from the checkpoint written at its end ends there again
        if state.costs and not math.isfinite(_cost(state.costs[-1])):
            self.diverged, self.stop_reason = (state.iteration, _cost(state.costs[-1])), "diverged"
        elif stopping.stopped(state):
            self.stop_reason = stopping.reason

    def out_of_epochs(self, first):
        """Whether update ``first`` would start an epoch past ``n_epochs`` (the run then stops)."""
        if first // self.n_train_batches + 1 > self.stopping.n_epochs:
            self.stop_reason = "n_epochs"
        return self.stop_reason == "n_epochs"

    def span_end(self, first):
        """The last update of the longest span from ``first`` without an event of this run."""
        return _span_end(first, self.frequency, self.stopping.stop_bound(self.state),
                         self.n_train_batches)

    def record(self, model, first, last, costs):
        """Take the costs of updates ``first .. last``; validate and stop as the rules say."""
        state, n_train_batches = self.state, self.n_train_batches
        costs = numpy.asarray(costs)
        # the cost is the first of a row of outputs (a segmentation tutorial's cost, accuracy)
        bad = numpy.flatnonzero(~numpy.isfinite(costs if costs.ndim == 1 else costs[:, 0]))
        if bad.size:  # keep the costs up to the first bad one, the iteration that diverged
            state.costs.extend(costs[: bad[0] + 1].tolist())
            state.iteration = first + int(bad[0])
            self.diverged = (state.iteration, _cost(costs[bad[0]]))
            self.stop_reason = "diverged"
            return
        state.costs.extend(costs.tolist())
        state.iteration = last
        if (last + 1) % self.frequency == 0:
            self.stopping.validate(model, state, last // n_train_batches + 1,
                                   last % n_train_batches + 1, n_train_batches, self.callbacks,
                                   self.log)
        if self.stopping.stopped(state):
            self.stop_reason = self.stopping.reason

    def result(self, elapsed):
        return _result(self.state, self.stop_reason, self.frequency, self.n_train_batches, elapsed)


def _cost(row):
    """The training cost of an update's outputs: the number, or the first of a row."""
    return float(row if numpy.ndim(row) == 0 else row[0])


class _GroupScores:
    """Every run's validation and test losses after a span, each computed at most once (one
    compiled call for all runs) and only if some run asks."""

    def __init__(self, group):
        self.group, self.losses = group, {}

    def get(self, split):
        if split not in self.losses:
            self.losses[split] = (self.group.validation_losses() if split == "validation"
                                  else self.group.test_scores())
        return self.losses[split]


class _RunInGroup:
    """One run of a group, seen as the single model ``Run.record`` validates."""

    def __init__(self, group, index, scores):
        self.group, self.index, self.scores = group, index, scores

    def validation_loss(self):
        return self.scores.get("validation")[self.index]

    def test_score(self):
        return self.scores.get("test")[self.index]

    def get_params(self):
        return self.group.get_run_params(self.index)


def _prepare(model, runs):
    """Compile, before the clock starts, what the runs will call (``prepare`` of the model);
    the set of span lengths compiled."""
    lengths = _epoch_spans(runs) if runs else []
    if hasattr(model, "prepare"):
        log.debug("compiled before training in %.3fs", _prepare_spans(model, lengths))
    return set(lengths)


def _prepare_spans(model, span_lengths):
    """Seconds spent having ``model`` compile what it calls, with its spans of ``span_lengths``
    updates (its ``prepare`` compiles only what it has not): also asked during a run, for the
    last span, which a raised patience may cut to a length not foreseen."""
    if not hasattr(model, "prepare"):
        return 0.0
    start_time = timeit.default_timer()
    model.prepare(span_lengths)
    return timeit.default_timer() - start_time


def _log_iterations(runs, log_every, first, last):
    """``training @ iter = %i`` before every ``log_every``-th update of ``first .. last``."""
    if log_every:
        for i in range(first, last + 1):
            if i % log_every == 0:
                for run in runs:
                    run.log.info("training @ iter = %i", i)


def _checkpoint_due(last, n_train_batches, checkpoint_every):
    """Whether update ``last`` ends an epoch after which a checkpoint is written."""
    return bool(checkpoint_every) and (last + 1) % n_train_batches == 0 \
        and ((last + 1) // n_train_batches) % checkpoint_every == 0


def _span_end(first, frequency, patience, n_train_batches):
    """The last update of a fused span from ``first``: the next validation, the patience stop or
    the epoch's end, whichever comes first."""
    next_validation = first + (frequency - 1 - first % frequency)
    epoch_end = (first // n_train_batches + 1) * n_train_batches - 1
    return min(next_validation, max(patience, first), epoch_end)


def _epoch_spans(runs):
    """The lengths of the fused spans of ``runs`` in lockstep (one run: alone) from where they
    are to the end of that epoch, as their current patience cuts them (the spans of later epochs
    are mostly the same lengths)."""
    first, lengths = runs[0].state.iteration + 1, set()
    n_train_batches = runs[0].n_train_batches
    while True:  # _span_end stops every span at the epoch's end at the latest
        last = min(run.span_end(first) for run in runs)
        lengths.add(last - first + 1)
        if all(run.state.patience <= last for run in runs) or (last + 1) % n_train_batches == 0:
            return sorted(lengths)
        first = last + 1


def _validate(model, state, stopping, epoch, minibatch, n_train_batches, callbacks, logger=log):
    """Validate after update ``state.iteration``; on a new best, test it and keep its parameters."""
    loss = float(model.validation_loss())
    logger.info("epoch %i, minibatch %i/%i, validation error %f %%",
                epoch, minibatch, n_train_batches, loss * 100.0)
    new_best = loss < state.best_validation_loss
    extended = new_best and loss < state.best_validation_loss * stopping.improvement_threshold
    if extended:
        state.patience = max(state.patience, state.iteration * stopping.patience_increase)
    test_score = None
    if new_best:
        state.best_validation_loss, state.best_iter = loss, state.iteration
        state.test_score = test_score = float(model.test_score())
        state.best_params = model.get_params()
        logger.info("     epoch %i, minibatch %i/%i, test error of best model %f %%",
                    epoch, minibatch, n_train_batches, test_score * 100.0)
    record = Validation(state.iteration, epoch, minibatch, loss, state.patience, new_best, extended,
                        test_score)
    state.history.append(record)
    for callback in callbacks:
        callback(record)


def _validate_counting(model, state, stopping, epoch, minibatch, callbacks):
    """Validate after update ``state.iteration`` by ``ValidationPatience``'s rule (the model's
    ``train_loss()``, ``validation_loss()`` and ``test_score()``): a new best resets
    ``state.bad_counter``, a stale validation adds one (``stopping.stopped`` then says)."""
    train_loss = float(model.train_loss())
    loss = float(model.validation_loss())
    test_score = float(model.test_score())
    losses = [record.validation_loss for record in state.history] + [loss]
    new_best = state.best_params is None or loss <= min(losses)
    if new_best:
        state.best_validation_loss, state.best_iter = loss, state.iteration
        state.test_score = test_score
        state.best_params = model.get_params()
        state.bad_counter = 0
    stale = len(losses) > stopping.patience and loss >= min(losses[:-stopping.patience])
    if stale:
        state.bad_counter += 1
    record = Validation(state.iteration, epoch, minibatch, loss, stopping.patience, new_best,
                        False, test_score, train_loss, state.bad_counter)
    state.history.append(record)
    for callback in callbacks:
        callback(record)


def _validate_jaccard(model, state, epoch, minibatch, n_train_batches, callbacks,
                      early_stop_class=None):
    """Validate after epoch ``epoch``'s last update by ``EpochPatience``'s rule.

    The training means are those of the epoch's updates (``state.costs``: rows of the cost and,
    where the tutorial's training function gives it, the accuracy), added up in order then
    divided, as the tutorials do; ``model.validation_scores()``
    gives the validation's ``cost``, ``accuracy`` and ``jaccard`` per class. The record's
    ``validation_loss`` is the pixel error, 1 - accuracy; ``scores`` holds every number.
    """
    train_means = [sum(column) / n_train_batches
                   for column in zip(*state.costs[-n_train_batches:])]
    valid = model.validation_scores()
    per_class = [float(value) for value in valid["jaccard"]]
    jaccard = float(numpy.mean(per_class) if early_stop_class is None
                    else per_class[early_stop_class])
    scores = {"train_cost": train_means[0], "valid_cost": float(valid["cost"]),
              "valid_accuracy": float(valid["accuracy"]), "valid_jaccard_per_class": per_class,
              "valid_jaccard": jaccard}
    if len(train_means) > 1:  # a training function that also gives its accuracy
        scores["train_accuracy"] = train_means[1]
    loss = 1.0 - scores["valid_accuracy"]
    new_best = False
    if epoch == 1:  # the first epoch sets the mark, its model not kept (the tutorials' epoch 0)
        state.best_score = jaccard
    elif epoch > 2 and jaccard > state.best_score:  # the second epoch never counts as a best
        new_best = True
        state.best_score, state.best_validation_loss, state.best_iter = jaccard, loss, \
            state.iteration
        state.best_params = model.get_params()
        state.bad_counter = 0
    else:
        state.bad_counter += 1
    record = Validation(state.iteration, epoch, minibatch, loss, state.patience, new_best, False,
                        bad_counter=state.bad_counter, scores=scores)
    state.history.append(record)
    for callback in callbacks:
        callback(record)


def _result(state, stop_reason, frequency, n_train_batches, elapsed):
    return TrainResult(
        best_validation_loss=state.best_validation_loss,
        best_iter=state.best_iter,
        test_score=state.test_score,
        epochs=max(state.iteration, 0) // n_train_batches + 1,
        iterations=state.iteration + 1,
        stop_reason=stop_reason,
        patience=state.patience,
        validation_frequency=frequency,
        n_train_batches=n_train_batches,
        history=list(state.history),
        costs=numpy.asarray(state.costs, dtype=float),
        elapsed=elapsed,
        best_params=state.best_params,
        state=state,
    )
