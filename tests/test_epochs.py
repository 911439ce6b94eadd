"""Unsupervised epochs (dltut.epochs): a run resumed from its checkpoint goes on as the unbroken
run; the checkpoint of another run, or a damaged one, is refused before anything is set."""

import json

import numpy
import pytest

from dltut import engine, saving
from dltut.engine import T
from dltut.epochs import Epochs
from dltut.random import RandomStreams
from dltut.trainer import Minibatches

LINE = "%s, epoch %d, cost %f"


def _tiny(**options):
    """``(epochs, train, W)`` of a tiny run: a weight pulled towards four rows of data scaled by
    noise drawn anew at each minibatch (so a resume must restore the weight and the stream)."""
    W = engine.shared(numpy.zeros(3, dtype=engine.floatX()), "W")
    X = engine.shared(numpy.arange(12.0).reshape(4, 3).astype(engine.floatX()), "X")
    streams = RandomStreams(1234, name="noise")
    index = T.lscalar("index")
    cost = T.mean((W - X[index] * streams.uniform((3,))) ** 2)
    train = engine.function([index], cost, updates=[(W, W - 0.1 * engine.grad(cost, W))])
    epochs = Epochs("tiny", {"learning_rate": 0.1}, [W], [streams], **options)
    return epochs, Minibatches(train, None, None, 4, 0, 0, [W]), W


def _stopped(path):
    """The checkpoint ``path`` of a run stopped after two epochs of its first stage."""
    epochs, train, _ = _tiny(checkpoint=str(path))
    epochs.run("a", train, 2, LINE, "a")
    return path


def test_a_resumed_run_goes_on_as_the_unbroken_run(tmp_path):
    epochs, train, W = _tiny()
    unbroken = [epochs.run(stage, train, 3, LINE, stage) for stage in ("a", "b")]
    expected = W.get_value()
    path = str(_stopped(tmp_path / "ck.npz"))
    epochs, train, W = _tiny(checkpoint=path, resume=path)
    assert epochs.finished == {"a": unbroken[0][:2]}
    assert [epochs.run(stage, train, 3, LINE, stage) for stage in ("a", "b")] == unbroken
    numpy.testing.assert_array_equal(W.get_value(), expected)


def _spoil(path, change=None, **arrays):
    """Rewrite the checkpoint ``path``: its run's JSON passed through ``change``, ``arrays``
    (``{name in the file: array}``) replaced."""
    with numpy.load(path, allow_pickle=False) as data:
        contents = {key: data[key] for key in data.files}
    meta = json.loads(str(contents["meta"]))
    if change is not None:
        change(meta["tiny_checkpoint"])
    contents.update(meta=numpy.array(json.dumps(meta)), **arrays)
    numpy.savez(path, **contents)


@pytest.mark.parametrize("change, arrays, message", [
    (lambda run: run["finished"].update(a=["x"]), {},
     "finished is {'a': ['x']}, not the mean costs of each stage's finished epochs"),
    (lambda run: run.update(finished=[1.0]), {}, "finished is [1.0], not the mean costs"),
    (lambda run: run.pop("finished"), {}, "not the dict of finished, settings"),
    (lambda run: run["settings"].update(learning_rate=0.5),
     {}, "checkpoint of another run (saved, here: {'learning_rate': (0.5, 0.1)})"),
    (None, {"param/value/W": numpy.zeros(4)}, "value/W is float64 (4,), this run's is"),
    (None, {"param/array/noise/rstate": numpy.zeros(6, "int64")}, "array/noise/rstate is int64"),
])
def test_a_spoilt_checkpoint_is_refused(tmp_path, change, arrays, message):
    path = _stopped(tmp_path / "ck.npz")
    _spoil(path, change, **arrays)
    with pytest.raises(ValueError) as error:
        _tiny(resume=str(path))
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_the_checkpoint_of_another_kind_is_refused(tmp_path):
    path = _stopped(tmp_path / "ck.npz")
    W = engine.shared(numpy.zeros(3, dtype=engine.floatX()), "W")
    with pytest.raises(saving.ModelFileError, match="ck.npz: not a checkpoint of dA"):
        Epochs("dA", {"learning_rate": 0.1}, [W], resume=str(path))
