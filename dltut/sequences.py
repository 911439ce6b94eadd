"""Classifiers of padded sequences (the LSTM's reviews, time first, a mask of their words),
trained by the trainer and evaluated faster with the same numbers: ``Training`` holds what the
trainer asks of a run besides its minibatch step (each epoch's shuffle, the errors of a
validation, the best parameters, the checkpoint's NumPy state and the resume); the errors that a
tutorial's ``pred_error`` computes are counted on reviews sorted by length (``ErrorCounter``);
in JAX mode the programs of an epoch's minibatch shapes are compiled ahead, beside the training
(``input_shapes``, ``CompilesAhead``: the functions ``engine.function(..., pad_time=True)``
makes).
"""

import logging
from collections import OrderedDict

import numpy

from dltut import engine, random, saving

log = logging.getLogger(__name__)


class ErrorCounter:
    """``pred_error`` as the training computes it, faster: the same fraction, and the dropout
    streams left where the tutorial's ``f_pred`` calls leave them.

    The tutorial classifies the reviews in the iterator's minibatches (16 or 64 reviews in
    random order, each padded to its longest). Each review's class does not depend on the
    others in its minibatch, so here they are classified sorted by length, ``BATCH`` at a time
    (far fewer padded steps, and longer products): the count of errors is the same. But each of
    the tutorial's ``f_pred`` calls also draws a dropout mask of its minibatch's size (unused at
    ``use_noise`` 0), which moves the streams on that the next training minibatch draws from;
    ``predictor`` (the LSTM's ``build_predictor``) draws nothing, and the streams' state
    ``dropout_state`` is moved on by as many steps as those draws take (``random.skip_ahead``).
    """

    BATCH = 128

    def __init__(self, predictor, prepare_data, dropout_state, dim_proj):
        self.predictor, self.prepare_data = predictor, prepare_data
        self.dropout_state, self.dim_proj = dropout_state, dim_proj

    def batches(self, data, iterator):
        """The reviews of ``iterator``'s minibatches sorted by length, ``BATCH`` at a time (the
        last filled up with copies of the last review), and each batch's count of reviews."""
        order = sorted((t for _, index in iterator for t in index), key=lambda t: len(data[0][t]))
        for start in range(0, len(order), self.BATCH):
            index = order[start:start + self.BATCH]
            yield index + index[-1:] * (self.BATCH - len(index)), len(index)

    def prepare(self, data, iterator):
        """JAX mode: have the programs of the predictor's calls on ``data`` compiled ahead."""
        if hasattr(self.predictor, "prepare"):
            self.predictor.prepare(input_shapes(
                data, enumerate(index for index, _ in self.batches(data, iterator))))

    def __call__(self, data, iterator):
        labels = numpy.asarray(data[1])
        right = 0
        for index, count in self.batches(data, iterator):
            x, mask, _ = self.prepare_data([data[0][t] for t in index], labels[index],
                                           maxlen=None)
            right += (self.predictor(x, mask)[:count] == labels[index[:count]]).sum()
        if self.dropout_state is not None:
            self.skip_draws([len(index) for _, index in iterator])
        return 1.0 - numpy.asarray(right, dtype=engine.floatX()) / len(data[0])

    def skip_draws(self, sizes):
        """Step the dropout streams as draws for minibatches of ``sizes`` reviews do."""
        state = numpy.asarray(self.dropout_state.get_value())
        steps = sum(random.draw_steps(size * self.dim_proj, len(state)) for size in sizes)
        self.dropout_state.set_value(random.skip_ahead(state, steps))


def input_shapes(data, minibatches, labels=False):
    """The shapes of ``x``, ``mask`` (and ``y``) that ``prepare_data`` makes of each minibatch."""
    for _, index in minibatches:
        steps = max(len(data[0][t]) for t in index)
        matrix = (steps, len(index))
        yield (matrix, matrix, (len(index),)) if labels else (matrix, matrix)


class CompilesAhead:
    """``with CompilesAhead(*functions) as compiles:`` around a training: its background
    compiles not started yet are dropped at the end (a run cut short waits for none);
    ``compiles.report()`` then logs how many shapes the padded functions among ``functions``
    compiled and how long their first calls took (JAX mode; nothing in the other modes)."""

    def __init__(self, *functions):
        self.padded = [f for f in functions if hasattr(f, "compile_seconds")]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for function in self.padded:
            function.cancel()
        self.compiled = (sum(len(f.compiled) for f in self.padded),
                         sum(f.compile_seconds for f in self.padded))

    def report(self):
        if self.padded:
            log.info("(JAX mode: %d minibatch shapes compiled, in a thread beside the training; "
                     "their first calls took %.1fs of it)", *self.compiled)


class Training:
    """A classifier of padded sequences as the trainer drives it, but for its minibatch step
    (``train_minibatches``, the tutorial's: the LSTM's ``_Training``): the training, validation
    and test sets ``splits``, each epoch's minibatches ``kf`` shuffled from the NumPy ``rng`` by
    ``minibatches(n, batch_size, shuffle=True, rng=rng)`` (the tutorial's
    ``get_minibatches_idx``; the validation and test sets in order, of ``valid_batch_size``),
    where the run is (``eidx``, ``uidx``, ``n_samples``), the errors of a validation counted by
    ``counter`` (an ``ErrorCounter``) with ``use_noise`` 0, and the best parameters of the
    trainer's ``state``."""

    fused = False

    def __init__(self, f_grad_shared, counter, tparams, use_noise, splits, batch_size,
                 valid_batch_size, rng, minibatches):
        self.f_grad_shared, self.counter, self.tparams = f_grad_shared, counter, tparams
        self.use_noise, self.rng, self.minibatches = use_noise, rng, minibatches
        self.train, self.valid, self.test = splits
        self.batch_size = batch_size
        self.kf_valid = minibatches(len(self.valid[0]), valid_batch_size)
        self.kf_test = minibatches(len(self.test[0]), valid_batch_size)
        self.n_train_batches = len(minibatches(len(self.train[0]), batch_size))
        self.kf, self.epoch_rng_state = None, None  # this epoch's minibatches, the state before
        self.uidx, self.eidx, self.n_samples = 0, -1, 0
        self.state = None  # the trainer's TrainState (the best parameters to save)

    def start_epoch(self):
        """The epoch's shuffle (the NumPy state before it kept for the checkpoint) and, in JAX
        mode, the programs of its calls compiled ahead."""
        self.epoch_rng_state = self.rng.get_state()
        self.kf = self.minibatches(len(self.train[0]), self.batch_size, shuffle=True,
                                   rng=self.rng)
        self.eidx, self.n_samples = self.eidx + 1, 0
        if hasattr(self.f_grad_shared, "prepare"):
            self.f_grad_shared.prepare(input_shapes(self.train, self.kf, labels=True))
        for data, minibatches in ((self.train, self.kf), (self.valid, self.kf_valid),
                                  (self.test, self.kf_test)):
            self.counter.prepare(data, minibatches)

    def checkpoint_writer(self, path, name, settings, values):
        """``write(state)`` of the run's checkpoint (``saving.save_run``: ``values``, the best
        parameters, the NumPy state before the epoch's shuffle); a failed write is a warning."""
        return saving.CheckpointWriter(path, lambda state: saving.save_run(
            path, name, settings, values, self.tparams, state,
            self.epoch_rng_state or self.rng.get_state()))

    def restore(self, saved, values):
        """Set ``values`` and the NumPy state from the checkpoint ``saved`` (``saving.read_run``)
        and go on after its iteration: the epoch's shuffle again, and where the run is in the
        epoch; the trainer's ``TrainState``."""
        self.state = saved.restore(values, self.tparams, self.rng)
        if self.state.iteration >= 0:
            self.eidx = self.state.iteration // self.n_train_batches - 1
            self.start_epoch()
            done = self.state.iteration % self.n_train_batches + 1
            self.n_samples = sum(len(index) for _, index in self.kf[:done])
        self.uidx = self.state.iteration + 1
        return self.state

    def best_params(self):
        """The trainer's best parameters (``{name: array}``), or the current ones before any."""
        if self.state is not None and self.state.best_params is not None:
            return OrderedDict(zip(self.tparams, self.state.best_params))
        return OrderedDict((kk, numpy.asarray(vv.get_value())) for kk, vv in self.tparams.items())

    def error(self, data, iterator):
        """``pred_error`` of ``data`` in ``iterator``'s minibatches, ``use_noise`` 0."""
        self.use_noise.set_value(numpy.asarray(0.0, dtype=engine.floatX()))
        return self.counter(data, iterator)

    def train_loss(self):
        return self.error(self.train, self.kf)

    def validation_loss(self):
        return self.error(self.valid, self.kf_valid)

    def test_score(self):
        return self.error(self.test, self.kf_test)

    def get_params(self):
        return [numpy.asarray(p.get_value()) for p in self.tparams.values()]
