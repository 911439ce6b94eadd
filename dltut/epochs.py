"""Unsupervised training by epochs, with checkpoints: test_dA's two runs, the SdA's layer-wise
pretraining.

These tutorials train a cost without labels for a fixed number of epochs and log the mean cost of
each (``Training epoch %d, cost ...``, ``Pre-training layer %i, epoch %d, cost %f``); there is no
validation and no early stopping. A run is made of named *stages* (``"corruption 0"``,
``"layer 2"``), each a number of epochs of one training function (a ``trainer.Minibatches``).

``Epochs`` runs them. With ``checkpoint`` it writes, after every ``checkpoint_every`` epochs and
at each stage's end, every value the run changes (the parameters and the random streams'
states) with the costs logged so far (``saving.save_run``); ``resume`` sets them back, skips
the finished stages and epochs (returning their logged costs) and goes on: the rest of the run
is the unbroken run's.
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
        return saving.by_name(self.params)

    def _states(self):
        """The random streams' states: ``{"<streams>/<call site>": array}``."""
        return {f"{streams.name}/{key}": value for streams in self.streams
                for key, value in streams.state().items()}

    def _save(self, path):
        saving.save_run(path, self.kind, self.settings, self._values(),
                        counters={"finished": self.finished}, arrays=self._states())

    def _load(self, path):
        """Set the run's values from the checkpoint ``path`` (``saving.read_run``: this run's
        settings, each stage's costs a list of numbers, every array this run's, all checked
        before anything is set) and keep its finished epochs' costs."""
        finished = (lambda finished: isinstance(finished, dict) and all(
            isinstance(costs, list) and all(map(saving.is_number, costs))
            for costs in finished.values()), "the mean costs of each stage's finished epochs")
        saved = saving.read_run(path, self.kind, self.settings, {"finished": finished},
                                state=False)
        saved.restore(self._values(), arrays=self._states())
        for streams in self.streams:
            streams.set_state({key: saved.other[f"{streams.name}/{key}"]
                               for key in streams.state()})
        self.finished = saved.run["finished"]
        done = ", ".join(f"{stage}: {len(costs)} epochs" for stage, costs in self.finished.items())
        log.info("... resuming from %s (%s)", path, done)
