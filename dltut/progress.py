"""Progress on a terminal with tqdm: a run's bar, fed by the trainer's callbacks, and the console
log lines kept whole around it.

``ProgressBar`` is a trainer callback: it is called with each ``Validation`` and redraws one tqdm
line on stderr: the epoch, a bar of how far ``iter`` is towards the update where the run will stop
(patience, or the last update of the last epoch if that comes first; the bar jumps back when a new
best extends patience), the validation error, ``iter`` against that stop with whether this
validation extended patience, and the best error so far::

    epoch 12/1000 [######------], valid 8.58 % | iter 995/1990 patience extended | best 8.58 %

It draws only when its stream is a terminal (``isatty()``); into a file, a pipe or a notebook it
writes nothing. The tutorial's log lines go to stdout through ``logging``; on a terminal both end on
the same screen, so while the bar is shown the console handlers of the root and ``dltut`` loggers
write through ``tqdm.write`` (``redirect_console_logs``, tqdm's ``logging_redirect_tqdm``), which
lifts the bar off the line, writes the record and draws the bar again: the log lines stay whole.
``close()`` clears the line and gives the handlers back; a ``with`` block makes sure it runs::

    with ProgressBar(n_epochs, n_train_batches) as bar:
        result = dltut.sgd_optimization_mnist(n_epochs=n_epochs, callbacks=[bar])

A sweep (``dltut.sweep``) draws one bar over its runs the same way.
"""

import contextlib
import logging
import math
import numbers
import shutil
import sys

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

BAR_WIDTH = 12  # characters of the bar itself
BAR_FORMAT = "{desc} [{bar:%d}]{postfix}" % BAR_WIDTH  # tqdm writes ", " before the postfix


class _Bar:
    """A tqdm bar, once made, and the console handlers redirected while it is shown; closing
    erases the line and gives the handlers back (safe more than once; ``with`` closes it)."""

    def __init__(self):
        self._bar = None
        self._logs = contextlib.ExitStack()

    def _make(self, **kwargs):
        self._logs.enter_context(redirect_console_logs())
        self._bar = tqdm(leave=False, **kwargs)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._logs.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class ProgressBar(_Bar):
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
        super().__init__()
        self.n_epochs = int(n_epochs)
        self.n_train_batches = None if n_train_batches is None else int(n_train_batches)
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _isatty(self.stream)
        self.best = math.inf  # the bar is made at the first validation drawn

    def __call__(self, validation):
        """Take the ``Validation`` just made and redraw the line (on a terminal only)."""
        self.best = min(self.best, validation.validation_loss)
        if self.n_train_batches is None and validation.epoch > 1:
            v = validation  # iter = (epoch - 1) * n_train_batches + minibatch - 1
            self.n_train_batches = (v.iter + 1 - v.minibatch) // (v.epoch - 1)
        if not self.enabled:
            return
        horizon, limit = self.horizon(validation)
        shown = dict(total=horizon + 1, ncols=terminal_width(),
                     desc=f"epoch {validation.epoch}/{self.n_epochs}",
                     postfix=self.status(validation, horizon, limit))
        if self._bar is None:  # drawn as it is made
            self._make(initial=validation.iter + 1, file=self.stream, bar_format=BAR_FORMAT,
                       ascii="-#", **shown)
            return
        bar = self._bar
        bar.n, bar.total, bar.ncols = validation.iter + 1, shown["total"], shown["ncols"]
        bar.set_description_str(shown["desc"], refresh=False)
        bar.set_postfix_str(shown["postfix"], refresh=False)
        bar.refresh()

    def horizon(self, v):
        """``(update, why)``: the last update of the run as ``v`` leaves it, ``"patience"`` or
        ``"n_epochs"``."""
        if self.n_train_batches is None:  # not known yet
            last = math.inf
        else:  # the last update of the last epoch
            last = self.n_epochs * self.n_train_batches - 1
        # The trainer stops after update iter once patience <= iter, or after update ``last``.
        return (v.patience, "patience") if v.patience < last else (last, "n_epochs")

    def status(self, v, horizon, limit):
        """The text after the bar for validation ``v``; the least needed part last."""
        note = " extended" if v.extended else " not extended" if v.new_best else ""
        return (f"valid {v.validation_loss * 100:.2f} % | iter {v.iter}/{horizon} {limit}{note}"
                f" | best {self.best * 100:.2f} %")

    def line(self, v):
        """The whole line shown for validation ``v`` (as long as the terminal allows)."""
        horizon, limit = self.horizon(v)
        return tqdm.format_meter(v.iter + 1, horizon + 1, 0, ncols=terminal_width(),
                                 prefix=f"epoch {v.epoch}/{self.n_epochs}", ascii="-#",
                                 bar_format=BAR_FORMAT, postfix=self.status(v, horizon, limit))


class SweepBar(_Bar):
    """One bar over a sweep's runs (``dltut.sweep``), on a terminal only, with the console log
    lines kept whole around it like ``ProgressBar``'s.

    ``finished(record)`` moves it one run on and shows that run's settings and errors after it;
    ``watch(run_id)`` is a trainer callback showing a run's last validation meanwhile (runs in
    this process: the serial backend). ``done`` runs were finished before.
    """

    def __init__(self, total, done, tutorial, enabled=True, stream=None):
        super().__init__()
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and _isatty(self.stream)
        if self.enabled:
            self._make(total=total, initial=done, desc=f"sweep {tutorial}", unit="run",
                       file=self.stream, ncols=terminal_width())

    def watch(self, run_id):
        def show(validation):
            self._show(f"{run_id}: epoch {validation.epoch}, valid "
                       f"{validation.validation_loss * 100:.2f} %")
        return show

    def finished(self, record):
        if self._bar is not None:
            self._bar.update(1)
        self._show(f"{record['run']}: valid {record['best_validation_loss'] * 100:.2f} %, test "
                   f"{record['test_score'] * 100:.2f} %, {record['stop_reason']}")

    def _show(self, text):
        if self._bar is not None:
            self._bar.set_postfix_str(text)


class SuiteBar(_Bar):
    """One bar over ``dltut suite``'s tutorials, on a terminal only; ``finished(name, verdict)``
    moves it one tutorial on and shows the verdict after it."""

    def __init__(self, total, done, stream=None):
        super().__init__()
        self.stream = sys.stderr if stream is None else stream
        if _isatty(self.stream):
            self._make(total=total, initial=done, desc="suite", unit="tutorial",
                       file=self.stream, ncols=terminal_width())

    def finished(self, name, verdict):
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(f"{name}: {verdict}")


def terminal_width():
    """Columns a line may take without wrapping."""
    return shutil.get_terminal_size(fallback=(80, 24)).columns - 1


def redirect_console_logs():
    """A context in which the console handlers (stdout or stderr) of the root and ``dltut``
    loggers write through ``tqdm.write``, so that the records do not cut a bar's line; only
    loggers that have such a handler are touched (tqdm would give the others one)."""
    loggers = [logger for logger in (logging.getLogger(), logging.getLogger("dltut"))
               if any(_is_console(handler) for handler in logger.handlers)]
    return logging_redirect_tqdm(loggers=loggers, tqdm_class=tqdm)


def _is_console(handler):
    return isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout,
                                                                            sys.stderr)


def _isatty(stream):
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
