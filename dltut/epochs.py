"""Unsupervised training by epochs, with checkpoints: test_dA's two runs, the SdA's layer-wise
pretraining.

These tutorials train a cost without labels for a fixed number of epochs and log the mean cost of
each (``Training epoch %d, cost ...``, ``Pre-training layer %i, epoch %d, cost %f``); there is no
validation and no early stopping. A run is made of named *stages* (``"corruption 0"``,
``"layer 2"``), each a number of epochs of one training function (a ``trainer.Minibatches``).

``Epochs`` runs them. With ``checkpoint`` it writes, after every ``checkpoint_every`` epochs and
at each stage's end, every value the run changes (the parameters and the random streams'
states) with the costs logged so far; ``resume`` sets them back, skips the finished stages and
epochs (returning their logged costs) and goes on: the rest of the run is the unbroken run's.
SIGINT/SIGTERM (``trainer.StopRequest``) stop it at the next minibatch (the next span when
fused); the checkpoint then holds the run up to the last whole epoch it wrote.
"""

import dataclasses
import logging
import os
import timeit

import numpy

from dltut import saving
from dltut.trainer import StopRequest

log = logging.getLogger(__name__)

MAX_SPAN = 10_000  # fused: most minibatches per compiled call (a stop waits for one call at most)
_STATE = "rstate/"  # arrays of the random streams' states in a checkpoint


class Interrupted(Exception):
    """SIGINT/SIGTERM stopped the run between minibatches; ``stage`` and ``epoch`` say where."""

    def __init__(self, stage, epoch, checkpoint):
        kept = f"; checkpoint in {checkpoint}" if checkpoint and os.path.exists(checkpoint) else ""
        super().__init__(f"interrupted in {stage}, epoch {epoch}{kept}")
        self.stage, self.epoch = stage, epoch


@dataclasses.dataclass
class Epochs:
    """The epochs of a run's stages, with checkpoints and resume (see the module's docstring).

    ``kind`` names the run (``"dA"``, ``"SdA"``) and ``settings`` its hyperparameters: a
    checkpoint resumes only a run of the same kind and settings. ``params`` are the shared
    variables the stages train and ``streams`` the ``RandomStreams`` they draw from.
    """

    kind: str
    settings: dict
    params: list
    streams: list = dataclasses.field(default_factory=list)
    checkpoint: str | None = None
    checkpoint_every: int = 1
    resume: str | None = None
    finished: dict = dataclasses.field(default_factory=dict)  # stage -> its epochs' mean costs
    elapsed: float = 0.0  # seconds spent training in this process (compiling excluded)

    def __post_init__(self):
        # a checkpoint that cannot be written is a warning: the run goes on (saving's)
        self._write_checkpoint = saving.CheckpointWriter(self.checkpoint, self._save)
        if self.resume is not None:
            self._load(self.resume)

    def run(self, stage, train, n_epochs, message, *args):
        """Train ``n_epochs`` epochs of ``train`` (a ``trainer.Minibatches``) as ``stage``; logs
        ``message % (*args, epoch, cost)`` after each and returns the mean costs of all epochs
        (those of a resumed checkpoint first). Raises ``Interrupted`` on SIGINT/SIGTERM."""
        costs = self.finished.setdefault(stage, [])
        n = train.n_train_batches
        span = min(n, MAX_SPAN) if train.fused else 1
        train.prepare(sorted({span, n % span} - {0}))  # compiled before the clock starts
        start_time = timeit.default_timer()
        try:
            self._epochs(stage, costs, train, n_epochs, span, message, args)
        finally:
            self.elapsed += timeit.default_timer() - start_time
        return list(costs)

    def _epochs(self, stage, costs, train, n_epochs, span, message, args):
        n = train.n_train_batches
        with StopRequest() as stop:
            for epoch in range(len(costs), n_epochs):
                epoch_costs = []
                for first in range(0, n, span):
                    epoch_costs.extend(train.train_minibatches(first, min(span, n - first)))
                    if stop():
                        raise Interrupted(stage, epoch, self.checkpoint)
                costs.append(float(numpy.mean(epoch_costs, dtype="float64")))
                log.info(message, *args, epoch, costs[-1])
                if self.checkpoint and ((epoch + 1) % self.checkpoint_every == 0
                                        or epoch + 1 == n_epochs):
                    self._write_checkpoint(self.checkpoint)

    def _values(self):
        values = {param.name: param.get_value() for param in self.params}
        for streams in self.streams:
            values.update({_STATE + f"{streams.name}/{key}": value
                           for key, value in streams.state().items()})
        return values

    def _save(self, path):
        meta = {"epochs": {"kind": self.kind, "settings": self.settings,
                           "finished": self.finished}}
        saving.save_model(path, {"model": self.kind}, self._values(), extra=({}, meta))

    def _load(self, path):
        saved = saving.load_model(path)
        if "epochs" not in saved.meta:
            raise saving.ModelFileError(f"{path}: not a checkpoint of {self.kind}'s epochs; "
                                        "resume needs the file that --checkpoint wrote")
        epochs = _check_epochs_meta(path, saved.meta["epochs"])
        saving.check_same_run(path, {"kind": epochs["kind"], **epochs["settings"]},
                              {"kind": self.kind, **self.settings})
        expected = set(self._values())
        if set(saved.params) != expected:
            raise saving.ModelFileError(f"{path}: holds {sorted(saved.params)}, this run has "
                                        f"{sorted(expected)} (a checkpoint of another model?)")
        for param in self.params:
            value, current = saved.params[param.name], param.get_value(borrow=True)
            if value.shape != current.shape:
                raise saving.ModelFileError(f"{path}: {param.name} has shape {value.shape}, this "
                                            f"run's {current.shape} (a checkpoint of another "
                                            "model?)")
            param.set_value(numpy.asarray(value, dtype=current.dtype))
        for streams in self.streams:
            prefix = _STATE + f"{streams.name}/"
            try:
                streams.set_state({key[len(prefix):]: value for key, value
                                   in saved.params.items() if key.startswith(prefix)})
            except ValueError as error:
                raise saving.ModelFileError(f"{path}: {error}") from None
        self.finished = {stage: list(costs) for stage, costs in epochs["finished"].items()}
        done = ", ".join(f"{stage}: {len(costs)} epochs" for stage, costs in self.finished.items())
        log.info("... resuming from %s (%s)", path, done)


def _check_epochs_meta(path, epochs):
    """A checkpoint's ``epochs`` entry as ``_save`` writes it: its kind, settings and the mean
    costs of the finished epochs of each stage; a ``ModelFileError`` naming the file otherwise."""
    def bad(problem):
        return saving.ModelFileError(f"{path}: {problem}; not a checkpoint dltut wrote (or a "
                                     "damaged one): start the run again")

    if not isinstance(epochs, dict) or sorted(epochs) != ["finished", "kind", "settings"]:
        raise bad(f"epochs entry {str(epochs)[:80]} is not an object of kind, settings and "
                  "finished")
    if not isinstance(epochs["kind"], str) or not isinstance(epochs["settings"], dict):
        raise bad(f"epochs kind {epochs['kind']!r} or settings {str(epochs['settings'])[:80]} "
                  "is not a string and an object")
    finished = epochs["finished"]
    if not isinstance(finished, dict):
        raise bad(f"epochs finished {str(finished)[:80]} is not an object of stages")
    for stage, costs in finished.items():
        if not isinstance(costs, list) or not all(
                isinstance(cost, (int, float)) and not isinstance(cost, bool) for cost in costs):
            raise bad(f"stage {stage!r}: costs {str(costs)[:80]} are not a list of numbers")
    return epochs
