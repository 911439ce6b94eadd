"""Classifiers of padded sequences (the LSTM's reviews, time first, a mask of their words),
trained and evaluated faster with the same numbers: what a tutorial's ``pred_error`` computes,
counted on reviews sorted by length (``ErrorCounter``), and in JAX mode the programs of an
epoch's minibatch shapes compiled ahead, beside the training (``input_shapes``,
``CompilesAhead``: the functions ``engine.function(..., pad_time=True)`` makes).
"""

import logging

import numpy

from dltut import engine, random

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
    ``predictor`` (the LSTM's ``build_predictor``) draws nothing, and the streams' state ``dropout_state``
    is moved on by as many steps as those draws take (``random.skip_ahead``).
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
