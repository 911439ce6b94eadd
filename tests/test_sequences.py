"""sequences: the shapes compiled ahead and the compiles dropped at a training's end (the
ErrorCounter against pred_error, and Training through whole runs, are tested in test_lstm.py)."""

import logging

from dltut import sequences


def test_input_shapes_are_prepare_datas():
    data = ([[1, 2, 3], [4], [5, 6]], [0, 1, 0])
    minibatches = [(0, [0, 1]), (1, [2])]
    assert list(sequences.input_shapes(data, minibatches)) == [((3, 2), (3, 2)),
                                                               ((2, 1), (2, 1))]
    assert list(sequences.input_shapes(data, minibatches, labels=True))[1] == (
        (2, 1), (2, 1), (1,))


class _Padded:
    def __init__(self, compiled, seconds):
        self.compiled, self.compile_seconds, self.cancelled = compiled, seconds, False

    def cancel(self):
        self.cancelled = True


def test_compiles_ahead_are_dropped_at_the_end_and_reported(caplog):
    padded = [_Padded({(1,), (2,)}, 1.5), _Padded({(3,)}, 0.25)]
    with caplog.at_level(logging.INFO, logger="dltut"):
        with sequences.CompilesAhead(padded[0], print, padded[1]) as ahead:
            pass
        ahead.report()
    assert all(function.cancelled for function in padded)
    assert caplog.messages == ["(JAX mode: 3 minibatch shapes compiled, in a thread beside the "
                               "training; their first calls took 1.8s of it)"]
    caplog.clear()
    with sequences.CompilesAhead(print) as ahead:  # the other modes: nothing to say
        pass
    ahead.report()
    assert caplog.messages == []
