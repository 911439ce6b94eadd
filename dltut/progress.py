"""A one-line progress bar for a terminal, fed by the trainer's callbacks.

``ProgressBar`` is a trainer callback: it is called with each ``Validation`` and redraws one line on
stderr, with ``\\r``: the epoch, a bar of how far ``iter`` is towards the update where the run will
stop (patience, or the last update of the last epoch if that comes first; the bar jumps back when a
new best extends patience), the validation error, ``iter`` against that stop with whether this
validation extended patience, and the best error so far::

    epoch 12/1000 [######------] valid 8.58 % | iter 995/1990 patience extended | best 8.58 %

It draws only when its stream is a terminal (``isatty()``); into a file, a pipe or a notebook it
writes nothing. The tutorial's log lines go to stdout through ``logging``; on a terminal both end on
the same screen, so while the bar is shown it clears itself before any log record is written by a
terminal handler of the root or ``dltut`` logger (a handler filter), and the log lines stay whole.
``close()`` clears the line and removes those filters; a ``with`` block makes sure it runs::

    with ProgressBar(n_epochs, n_train_batches) as bar:
        result = dltut.sgd_optimization_mnist(n_epochs=n_epochs, callbacks=[bar])
"""

import logging
import math
import numbers
import shutil
import sys

BAR_WIDTH = 12  # characters of the bar itself


class ProgressBar:
    """Trainer callback drawing epoch progress, validation error and patience on a terminal.

    ``n_train_batches`` is the number of minibatches per epoch (``n_train // batch_size``); ``None``
    learns it from the validations of the second epoch on (``iter`` and ``minibatch`` give it),
    until then the bar runs to patience. ``stream`` defaults to ``sys.stderr`` at construction.
    """

    def __init__(self, n_epochs, n_train_batches=None, stream=None):
        for name, value in (("n_epochs", n_epochs), ("n_train_batches", n_train_batches)):
            if value is None and name == "n_train_batches":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.n_epochs = int(n_epochs)
        self.n_train_batches = None if n_train_batches is None else int(n_train_batches)
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _isatty(self.stream)
        self.best = math.inf
        self._shown = 0  # length of the line on screen, 0 when none
        self._filter = _ClearBeforeLog(self)
        self._filtered = []  # handlers carrying the filter

    def __call__(self, validation):
        """Take the ``Validation`` just made and redraw the line (on a terminal only)."""
        self.best = min(self.best, validation.validation_loss)
        if self.n_train_batches is None and validation.epoch > 1:
            v = validation  # iter = (epoch - 1) * n_train_batches + minibatch - 1
            self.n_train_batches = (v.iter + 1 - v.minibatch) // (v.epoch - 1)
        if not self.enabled:
            return
        self._watch_log_handlers()
        self._draw(self.line(validation))

    def line(self, v):
        """The text shown for validation ``v``, without ``\\r``; the least needed part last."""
        if self.n_train_batches is None:  # not known yet
            last = math.inf
        else:  # the last update of the last epoch
            last = self.n_epochs * self.n_train_batches - 1
        # The trainer stops after update iter once patience <= iter, or after update ``last``.
        horizon, limit = (v.patience, "patience") if v.patience < last else (last, "n_epochs")
        filled = min(BAR_WIDTH, BAR_WIDTH * (v.iter + 1) // (horizon + 1))
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        note = " extended" if v.extended else " not extended" if v.new_best else ""
        return (f"epoch {v.epoch}/{self.n_epochs} [{bar}] valid {v.validation_loss * 100:.2f} %"
                f" | iter {v.iter}/{horizon} {limit}{note} | best {self.best * 100:.2f} %")

    def _draw(self, text):
        width = shutil.get_terminal_size(fallback=(80, 24)).columns - 1  # never wrap
        text = text[:width]
        pad = " " * max(0, self._shown - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._shown = len(text)

    def clear(self):
        """Erase the line if one is shown; the next validation draws it again."""
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0

    def close(self):
        """Erase the line and stop watching the log handlers. Safe to call more than once."""
        self.clear()
        for handler in self._filtered:
            handler.removeFilter(self._filter)
        self._filtered = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _watch_log_handlers(self):
        for handler in logging.getLogger().handlers + logging.getLogger("dltut").handlers:
            if handler not in self._filtered and _isatty(getattr(handler, "stream", None)):
                handler.addFilter(self._filter)
                self._filtered.append(handler)


class _ClearBeforeLog(logging.Filter):
    """A handler filter that erases the bar before the handler writes a record; it drops nothing."""

    def __init__(self, bar):
        super().__init__()
        self.bar = bar

    def filter(self, record):
        self.bar.clear()
        return True


def _isatty(stream):
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
