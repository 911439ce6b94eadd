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

``train`` returns a ``TrainResult`` holding the best model's numbers and the whole history of
validations and patience, so the stop can be explained after the fact.
"""

import dataclasses
import logging
import math
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


@dataclasses.dataclass
class TrainResult:
    """What a run found: the best model's numbers, how it stopped and the history that led there."""

    best_validation_loss: float  # inf when no validation ran
    best_iter: int  # update at which the best model was reached (the tutorial prints best_iter + 1)
    test_score: float  # test error of the best model (0.0 when no validation ran, as in the tutorial)
    epochs: int  # epochs started (the last may be partial)
    iterations: int  # minibatch updates done
    stop_reason: str  # "patience" (patience <= iter) or "n_epochs"
    patience: int  # patience at the end
    validation_frequency: int
    n_train_batches: int
    history: list  # one Validation per validation point
    costs: numpy.ndarray  # training cost of each minibatch update, in order
    elapsed: float  # seconds spent in the loop
    best_params: list | None = None  # parameter values of the best model

    @property
    def epochs_per_second(self):
        return self.epochs / self.elapsed if self.elapsed > 0 else math.inf


def train(model, n_train_batches, stopping=EarlyStopping(), callbacks=(), log_every=None):
    """Run minibatch SGD with early stopping.

    ``model`` is a compiled model (``dltut.compiled.CompiledModel`` or anything alike) offering:

    * ``train_minibatches(first, count)``: update on minibatches ``first .. first + count - 1`` of
      the epoch, in order; return their costs. The trainer asks for the longest span that ends at
      the next event (validation, patience stop or end of epoch), so a model may fuse a span into
      one compiled call; the result must equal ``count`` single updates.
    * ``validation_loss()`` and ``test_score()``: mean zero-one loss over that split's minibatches.
    * ``get_params()``: copies of the parameter values.

    ``callbacks`` are called with each ``Validation`` as it happens. ``log_every`` logs
    ``training @ iter = %i`` before every that-many-th update, as the LeNet tutorial prints.
    """
    _require_int("n_train_batches", n_train_batches, 1)
    frequency = stopping.frequency(n_train_batches)
    patience = stopping.patience
    best_validation_loss, best_iter, test_score, best_params = math.inf, 0, 0.0, None
    history, costs = [], []
    epoch, iteration, done = 0, -1, False
    start_time = timeit.default_timer()
    while epoch < stopping.n_epochs and not done:
        epoch += 1
        minibatch_index = 0
        while minibatch_index < n_train_batches:
            first = (epoch - 1) * n_train_batches + minibatch_index
            next_validation = first + (frequency - 1 - first % frequency)
            epoch_end = epoch * n_train_batches - 1
            last = min(next_validation, max(patience, first), epoch_end)
            count = last - first + 1
            if log_every:
                for i in range(first, last + 1):
                    if i % log_every == 0:
                        log.info("training @ iter = %i", i)
            costs.append(numpy.asarray(model.train_minibatches(minibatch_index, count)))
            minibatch_index += count
            iteration = last

            if (iteration + 1) % frequency == 0:
                loss = float(model.validation_loss())
                log.info(
                    "epoch %i, minibatch %i/%i, validation error %f %%",
                    epoch, minibatch_index, n_train_batches, loss * 100.0,
                )
                record = Validation(iteration, epoch, minibatch_index, loss, patience, False, False)
                if loss < best_validation_loss:
                    record.new_best = True
                    if loss < best_validation_loss * stopping.improvement_threshold:
                        patience = max(patience, iteration * stopping.patience_increase)
                        record.extended = True
                        record.patience = patience
                    best_validation_loss, best_iter = loss, iteration
                    test_score = float(model.test_score())
                    record.test_score = test_score
                    best_params = model.get_params()
                    log.info(
                        "     epoch %i, minibatch %i/%i, test error of best model %f %%",
                        epoch, minibatch_index, n_train_batches, test_score * 100.0,
                    )
                history.append(record)
                for callback in callbacks:
                    callback(record)

            if patience <= iteration:
                done = True
                break
    elapsed = timeit.default_timer() - start_time
    return TrainResult(
        best_validation_loss=best_validation_loss,
        best_iter=best_iter,
        test_score=test_score,
        epochs=epoch,
        iterations=iteration + 1,
        stop_reason="patience" if done else "n_epochs",
        patience=patience,
        validation_frequency=frequency,
        n_train_batches=n_train_batches,
        history=history,
        costs=numpy.concatenate(costs) if costs else numpy.zeros(0),
        elapsed=elapsed,
        best_params=best_params,
    )
