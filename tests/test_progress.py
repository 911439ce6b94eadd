"""dltut.progress: silent off a terminal; on one, tqdm's \\r-lines that leave the log lines
whole; the sweep's bar over its runs."""

import io
import logging
import sys

import pytest

from conftest import ScriptedModel

from dltut import progress
from dltut.progress import ProgressBar, SweepBar
from dltut.trainer import EarlyStopping, Validation, train


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def screen(text):
    """What a terminal shows after ``text``: ``\\r`` returns to column 0, characters overwrite."""
    rows, row, col = [[]], 0, 0
    for char in text:
        if char == "\n":
            row, col = row + 1, 0
            if row == len(rows):
                rows.append([])
        elif char == "\r":
            col = 0
        else:
            line = rows[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = char
            col += 1
    return ["".join(line).rstrip() for line in rows]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setattr(progress.shutil, "get_terminal_size",
                        lambda fallback=None: __import__("os").terminal_size((200, 50)))


FIRST = Validation(9, 1, 10, 0.30, 50, True, True, 0.31)
SECOND = Validation(19, 2, 10, 0.35, 50, False, False)


def test_writes_nothing_to_a_stream_that_is_not_a_terminal():
    stream = io.StringIO()
    with ProgressBar(5, 10, stream=stream) as bar:
        bar(FIRST)
        bar(SECOND)
    assert not bar.enabled
    assert stream.getvalue() == ""


def test_draws_carriage_return_lines_on_a_terminal_and_clears_at_close():
    stream = FakeTTY()
    bar = ProgressBar(5, 10, stream=stream)
    bar(FIRST)
    first = stream.getvalue()
    assert first.startswith("\r") and "\n" not in first
    assert first[1:] == bar.line(FIRST)
    # patience 50 outlasts the last update, iter 49: the bar runs to n_epochs
    assert first[1:] == ("epoch 1/5 [##----------], valid 30.00 % | iter 9/49 n_epochs "
                         "extended | best 30.00 %")
    bar(SECOND)
    second = stream.getvalue()[len(first):]
    assert second.startswith("\r") and "\n" not in second
    assert "epoch 2/5" in second and "valid 35.00 %" in second and "best 30.00 %" in second
    bar.close()
    assert stream.getvalue().endswith("\r")
    assert screen(stream.getvalue()) == [""]  # nothing left on the line
    assert "\n" not in stream.getvalue()


def test_bar_fills_towards_patience_and_jumps_back_when_it_grows():
    bar = ProgressBar(1000, 10, stream=FakeTTY())

    def show(validation):
        bar(validation)
        return bar.line(validation)

    line = show(Validation(49, 5, 10, 0.2, 99, True, False, 0.2))
    assert "iter 49/99 patience not extended" in line
    assert "[" + "#" * 6 + "-" * 6 + "]" in line  # 50 of the 100 updates up to iter 99
    line = show(Validation(59, 6, 10, 0.1, 119, True, True, 0.1))
    assert "[" + "#" * 6 + "-" * 6 + "]" in line and "iter 59/119 patience extended" in line
    line = show(Validation(69, 7, 10, 0.3, 119, False, False))
    assert line.endswith("iter 69/119 patience | best 10.00 %")


def test_minibatches_per_epoch_learnt_from_the_second_epoch():
    bar = ProgressBar(3, stream=FakeTTY())
    bar(Validation(4, 1, 5, 0.3, 1000, True, True, 0.3))
    assert bar.n_train_batches is None
    assert "iter 4/1000 patience" in bar.line(Validation(4, 1, 5, 0.3, 1000, True, True, 0.3))
    second = Validation(9, 2, 3, 0.2, 1000, True, True, 0.2)  # every 5 updates, 7 per epoch
    bar(second)
    assert bar.n_train_batches == 7
    assert "iter 9/20 n_epochs" in bar.line(second)  # the last update: 3 * 7 - 1


def test_line_never_wider_than_the_terminal(monkeypatch):
    monkeypatch.setattr(progress.shutil, "get_terminal_size",
                        lambda fallback=None: __import__("os").terminal_size((40, 24)))
    stream = FakeTTY()
    with ProgressBar(5, 10, stream=stream) as bar:
        bar(FIRST)
        assert len(stream.getvalue()) == 1 + 39


def test_log_lines_on_the_same_terminal_stay_whole(monkeypatch):
    """The trainer logs to a console handler while the bar draws on the same terminal."""
    terminal = FakeTTY()
    monkeypatch.setattr(sys, "stdout", terminal)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    losses = iter([0.5, 0.4, 0.45])

    try:
        with ProgressBar(3, 4, stream=terminal) as bar:
            train(ScriptedModel(losses), 4, EarlyStopping(n_epochs=3, patience=1000), callbacks=[bar])
            assert handler not in root.handlers  # tqdm's writes its records meanwhile
        assert handler in root.handlers
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert "\r" in terminal.getvalue()  # the bar was drawn
    assert screen(terminal.getvalue()) == [
        "epoch 1, minibatch 4/4, validation error 50.000000 %",
        "     epoch 1, minibatch 4/4, test error of best model 25.000000 %",
        "epoch 2, minibatch 4/4, validation error 40.000000 %",
        "     epoch 2, minibatch 4/4, test error of best model 25.000000 %",
        "epoch 3, minibatch 4/4, validation error 45.000000 %",
        "",
    ]


def test_close_twice_and_without_drawing():
    stream = FakeTTY()
    bar = ProgressBar(5, 10, stream=stream)
    bar.close()
    bar.close()
    assert stream.getvalue() == ""


def test_a_closed_or_odd_stream_is_not_a_terminal():
    closed = io.StringIO()
    closed.close()
    assert not ProgressBar(1, 1, stream=closed).enabled
    assert not ProgressBar(1, 1, stream=object()).enabled


@pytest.mark.parametrize("n_epochs, n_train_batches",
                         [(0, 10), (5, 0), (True, 3), (2.5, 3), (None, 3)])
def test_bad_sizes_are_named(n_epochs, n_train_batches):
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        ProgressBar(n_epochs, n_train_batches, stream=io.StringIO())


def test_the_sweep_bar_counts_runs_and_shows_the_last(monkeypatch):
    stream = FakeTTY()
    record = {"run": "batch_size=300", "best_validation_loss": 0.075, "test_score": 0.0749,
              "stop_reason": "patience"}
    with SweepBar(4, 1, "logreg", stream=stream) as bar:
        bar.watch("batch_size=600")(SECOND)
        assert "sweep logreg" in stream.getvalue() and "1/4" in stream.getvalue()
        assert "batch_size=600: epoch 2, valid 35.00 %" in screen(stream.getvalue())[0]
        bar.finished(record)
        assert "2/4" in screen(stream.getvalue())[0]
        assert "batch_size=300: valid 7.50 %, test 7.49 %, patience" in \
            screen(stream.getvalue())[0]
    assert screen(stream.getvalue()) == [""]
    quiet = io.StringIO()
    with SweepBar(4, 0, "logreg", stream=quiet) as bar:
        bar.finished(record)
    assert quiet.getvalue() == ""
    with SweepBar(4, 0, "logreg", enabled=False, stream=FakeTTY()) as bar:
        assert not bar.enabled
