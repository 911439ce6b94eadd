"""rnnslu: the context windows, the shuffles, the initial draw, one training step against NumPy
and finite differences, reading folds (and refusing pickles that are not data), and main on made
folds against what the original rnnslu.py printed on theano-pymc.

How the original was run (``ORIGINAL_*`` below): code/rnnslu.py and code/conlleval.pl of
lisa-lab/DeepLearningTutorials copied into a folder, with one patch to rnnslu.py: its four
``[map(lambda x: ..., y) for y in ...]`` lists of the valid and test labels and words became
lists of ``list(map(...))`` (on Python 3 each map is an iterator that the first epoch's
conlleval uses up, so every later epoch would score empty files: F1 0). A driver set
``sys.modules["theano.scan.scan_perform_ext"] = None`` before importing theano (the Cython scan
does not build on Python 3.11; dltut.engine does the same), pickled
``toy_fold(n_train, n_valid, n_test, seed)`` (dltut's made fold, written by the .venv-theano's
NumPy 1.23) as ``data/atis.fold3.pkl.gz`` with protocol 2, set ``PREFIX`` (the tutorial's
``ATISDATA``) to that folder, wrapped ``RNNSLU.train`` to note the learning rate of each call
and the model it trained last, and called ``rnnslu.main(param)`` with the tutorial's param dict
updated by the settings below. theano-pymc 1.1.2 in .venv-theano, C mode,
``THEANO_FLAGS=floatX=float64,blas__ldflags=-lopenblas``, ``OPENBLAS_NUM_THREADS=1``; F1 from
conlleval.pl run by perl 5.36, as the tutorial does. Recorded: its ``NEW BEST`` lines, the
learning rates it trained with, the sum and the sum of absolute values of each parameter of the
last model trained, and the sha256 of its ``best.test.txt`` and ``best.valid.txt``.
"""

import gzip
import hashlib
import logging
import os
import pickle
import re

import numpy
import pytest

from conftest import available_modes, engine_settings_kept, in_mode
from dltut import catalogue, engine
from dltut.backend import modes
from dltut.data import DataError
from dltut.tutorials import rnnslu
from dltut.tutorials.rnnslu import RNNSLU, contextwin, toy_fold

SMALL = {"nhidden": 10, "emb_dimension": 8, "win": 3}

# toy_fold(300, 60, 60, seed=0), param SMALL with nepochs=6 (the tutorial's lr 0.0970806646812754):
# dltut suite --quick's reference (param data "toy": that fold), its NEW BEST lines the catalogue's
QUICK = catalogue.get("rnnslu").quick
ORIGINAL_SHORT = {
    "fold": (300, 60, 60, 0),
    "param": dict(SMALL, nepochs=6),
    "new_best": list(QUICK.lines),
    "best_result": "BEST RESULT: epoch 4 valid F1 68.85 best test F1 72.57",
    "learning_rates": [(0.0970806646812754, 6)],  # (rate, epochs trained with it)
    # per parameter: (sum, sum of absolute values) of the last model trained
    "final": {"embeddings": (5.336612028336695, 80.68344490565406),
              "wx": (10.294534141897703, 87.81801563367925),
              "wh": (-0.26943169848065107, 19.96616314458853),
              "w": (-1.228041224437393, 50.39653142206723),
              "bh": (-0.4683259085948984, 2.56303517463131),
              "b": (None, 4.826412855463364),  # its sum is 0 up to rounding (-6.7e-16)
              "h0": (-0.8834791046959678, 1.6359961744551668)},
    "sha256": {"best.test.txt": "6022e5a0400db57ec4cc0d771150e883a2ac48552e1336051f5b7aef51ce5d79",
               "best.valid.txt":
                   "47b06a5d25d2e02b76342b3201b061928bb12b74f8bf0faad1bb7e4297b5b491"},
}
# toy_fold(40, 20, 20, seed=1), param SMALL with lr=0.5 and nepochs=60: the best model is that of
# epoch 16; from epoch 26 the rate halves every epoch (the model set back to epoch 16's once),
# and after epoch 41 it falls below 1e-5, which stops the run
ORIGINAL_DECAY = {
    "fold": (40, 20, 20, 1),
    "param": dict(SMALL, nepochs=60, lr=0.5),
    "new_best": ["NEW BEST: epoch 0 valid F1 0.0 best test F1 0.0",
                 "NEW BEST: epoch 1 valid F1 20.0 best test F1 16.44",
                 "NEW BEST: epoch 2 valid F1 29.85 best test F1 27.16",
                 "NEW BEST: epoch 4 valid F1 44.44 best test F1 37.36",
                 "NEW BEST: epoch 5 valid F1 61.54 best test F1 58.54",
                 "NEW BEST: epoch 6 valid F1 65.67 best test F1 62.79",
                 "NEW BEST: epoch 7 valid F1 68.57 best test F1 60.0",
                 "NEW BEST: epoch 8 valid F1 69.57 best test F1 60.0",
                 "NEW BEST: epoch 11 valid F1 71.43 best test F1 64.52",
                 "NEW BEST: epoch 12 valid F1 74.29 best test F1 64.52",
                 "NEW BEST: epoch 16 valid F1 100.0 best test F1 88.37"],
    "best_result": "BEST RESULT: epoch 16 valid F1 100.0 best test F1 88.37",
    "learning_rates": [(0.5, 27)] + [(0.5 / 2 ** k, 1) for k in range(1, 16)],
    "final": {"embeddings": (9.078475031193765, 79.52909035913709),
              "wx": (12.748016918854809, 101.13888978562457),
              "wh": (-1.0782173446024188, 25.204235216458656),
              "w": (-1.228041224437383, 64.80847404290316),
              "bh": (-0.614502012397037, 2.9570012717681227),
              "b": (None, 8.237988300036186),  # sum 2.6e-15
              "h0": (-0.9741731687301076, 1.852921922278405)},
    "sha256": {"best.test.txt": "3868ae7c941b55e7982bb13a568f158809371c5a0f8ffef88e0bf581a1546534",
               "best.valid.txt":
                   "c77727c592b9ff518d6e39cfe66268d222123e3fc4871f704d13d13cfc5b38fe"},
}


# ----------------------------------------------------------------------------------------------
# The data


def test_contextwin_as_the_tutorial_shows():
    assert contextwin([0, 1, 2, 3, 4], 3) == [[-1, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4],
                                              [3, 4, -1]]
    assert contextwin(numpy.arange(5, dtype="int32"), 7) == [
        [-1, -1, -1, 0, 1, 2, 3], [-1, -1, 0, 1, 2, 3, 4], [-1, 0, 1, 2, 3, 4, -1],
        [0, 1, 2, 3, 4, -1, -1], [1, 2, 3, 4, -1, -1, -1]]
    assert contextwin([5], 1) == [[5]]
    for win in (0, 2, -1, 3.0, True):
        with pytest.raises(ValueError, match=f"win must be an odd positive integer.*{win!r}"):
            contextwin([1, 2], win)


def test_shuffle_puts_every_list_in_the_same_order():
    import random

    lists = [list(range(10)), list("abcdefghij"), [i * 10 for i in range(10)]]
    rnnslu.shuffle(lists, 345)
    random.seed(345)
    expected = list(range(10))
    random.shuffle(expected)
    assert lists[0] == expected
    assert lists[1] == ["abcdefghij"[i] for i in expected]
    assert lists[2] == [i * 10 for i in expected]


def _write_pickle(path, obj, protocol=2):
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def test_atisfold_reads_the_folds_format(tmp_path, monkeypatch):
    fold = toy_fold(5, 3, 2, seed=3)
    _write_pickle(tmp_path / "atis.fold2.pkl.gz", fold)
    monkeypatch.setenv("ATISDATA", str(tmp_path))
    train, valid, test, dicts = rnnslu.atisfold(2)
    assert [len(s[0]) for s in (train, valid, test)] == [5, 3, 2]
    for got, made in zip((train, valid, test), fold[:3]):
        for got_part, made_part in zip(got, made):
            assert all(g.dtype == numpy.int32 and (g == m).all()
                       for g, m in zip(got_part, made_part))
    assert dicts == fold[3]
    # protocol 0, as Python 2's cPickle wrote by default, and int64 arrays
    fold64 = tuple(tuple([a.astype("int64") for a in part] for part in s) for s in fold[:3])
    _write_pickle(tmp_path / "atis.fold0.pkl.gz", (*fold64, fold[3]), protocol=0)
    assert rnnslu.atisfold(0, tmp_path)[0][2][1].dtype == numpy.int32


def test_atisfold_says_where_the_data_came_from(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path}/atis.fold3.pkl.gz: no such file; the "
                       "tutorial's ATIS folds came from http://lisaweb.iro.umontreal.ca/"
                       ".*atis.fold3.pkl.gz .*set ATISDATA"):
        rnnslu.atisfold(3, tmp_path)
    for fold in (5, -1, "3", True):
        with pytest.raises(ValueError, match=f"fold must be one of 0-4.*got {fold!r}"):
            rnnslu.atisfold(fold, tmp_path)


class _RunsCode:
    """Unpickled by a plain pickle.load, this would create the file ``path``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_fold_that_names_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    _write_pickle(tmp_path / "atis.fold1.pkl.gz", (_RunsCode(str(marker)),))
    with pytest.raises(DataError, match="refused to load io.open: .*nothing was run"):
        rnnslu.atisfold(1, tmp_path)
    assert not marker.exists()
    (tmp_path / "atis.fold4.pkl.gz").write_bytes(gzip.compress(b"\x80\x02(K\x01"))
    with pytest.raises(DataError, match="truncated or corrupt pickle"):
        rnnslu.atisfold(4, tmp_path)


def test_check_fold_names_what_is_wrong():
    train, valid, test, dicts = toy_fold(4, 2, 2)
    with pytest.raises(DataError, match="expected \\(train_set, valid_set, test_set, dicts\\)"):
        rnnslu.check_fold((train, valid, test))
    bad_y = [y.copy() for y in valid[2]]
    bad_y[1][0] = 7
    with pytest.raises(DataError, match="valid sentence 1: label 7 is not in labels2idx \\(0-6\\)"):
        rnnslu.check_fold((train, (valid[0], valid[1], bad_y), test, dicts))
    with pytest.raises(DataError, match="test sentence 0 has .* words and .* labels"):
        rnnslu.check_fold((train, valid, (test[0], test[1], [y[:-1] for y in test[2]]), dicts))
    with pytest.raises(DataError, match="labels2idx has the index 7; its 7 indexes must be "
                                        "integers in 0-6"):
        rnnslu.check_fold((train, valid, test, {**dicts, "labels2idx": {
            **dicts["labels2idx"], "O": 7}}))
    with pytest.raises(DataError, match="must be a dict of the dicts words2idx"):
        rnnslu.check_fold((train, valid, test, {"words2idx": {}}))
    with pytest.raises(DataError, match="train lex 0: expected a 1-d array of int indexes"):
        rnnslu.check_fold(((numpy.ones((1, 3)),) + train[1:], valid, test, dicts))


# ----------------------------------------------------------------------------------------------
# The model


def test_initial_parameters_are_the_tutorial_draw(floatX64):
    rnn = RNNSLU(nh=4, nc=3, ne=6, de=2, cs=3)
    rng = numpy.random.RandomState(345)  # the tutorial's numpy.random.seed(345)
    for param, shape in zip(rnn.params[:4], [(7, 2), (6, 4), (4, 4), (4, 3)]):
        numpy.testing.assert_array_equal(param.get_value(),
                                         0.2 * rng.uniform(-1.0, 1.0, shape))
    assert [p.name for p in rnn.params] == ["embeddings", "wx", "wh", "w", "bh", "b", "h0"]
    assert all(not p.get_value().any() for p in rnn.params[4:])


def _numpy_nll(values, idxs, y):
    """The Elman network's mean negative log-likelihood of one sentence, in NumPy."""
    x = values["embeddings"][idxs].reshape(len(idxs), -1)
    h = values["h0"]
    nll = 0.0
    for t in range(len(idxs)):
        h = 1.0 / (1.0 + numpy.exp(-(x[t] @ values["wx"] + h @ values["wh"] + values["bh"])))
        a = h @ values["w"] + values["b"]
        p = numpy.exp(a - a.max())
        nll -= numpy.log(p[y[t]] / p.sum())
    return nll / len(idxs)


def _finite_differences(values, idxs, y, eps=1e-6):
    grads = {}
    for name, value in values.items():
        grad = numpy.zeros_like(value)
        for i in numpy.ndindex(value.shape):
            plus = {**values, name: value.copy()}
            plus[name][i] += eps
            minus = {**values, name: value.copy()}
            minus[name][i] -= eps
            grad[i] = (_numpy_nll(plus, idxs, y) - _numpy_nll(minus, idxs, y)) / (2 * eps)
        grads[name] = grad
    return grads


@pytest.mark.parametrize("mode", ["c", pytest.param("numba", marks=pytest.mark.slow)])
def test_one_sentence_step_against_numpy(floatX64, mode):
    """sentence_train returns the NumPy NLL and moves each parameter by -lr times its finite-
    difference gradient; the embeddings are then scaled to unit rows; classify is the argmax."""
    if mode not in available_modes():
        pytest.skip(f"mode {mode} is not available on this engine")
    with in_mode(mode):
        rnn = RNNSLU(nh=4, nc=3, ne=5, de=2, cs=3, rng=numpy.random.RandomState(0))
        rng = numpy.random.RandomState(1)
        for p in rnn.params[4:]:  # nonzero biases and initial state
            p.set_value(rng.uniform(-0.5, 0.5, p.get_value().shape))
        words, labels = [0, 3, 1, 4], numpy.array([2, 0, 0, 1], dtype="int32")
        idxs = numpy.asarray(contextwin(words, 3), dtype="int32")
        before = rnn.get_values()
        lr = 0.3
        nll = rnn.train(words, labels, 3, lr)
        assert nll == pytest.approx(_numpy_nll(before, idxs, labels), rel=1e-12)
        grads = _finite_differences(before, idxs, labels)
        after = rnn.get_values()
        for name in ("wx", "wh", "w", "bh", "b", "h0"):
            numpy.testing.assert_allclose(after[name], before[name] - lr * grads[name],
                                          rtol=1e-7, atol=1e-9, err_msg=name)
        stepped = before["embeddings"] - lr * grads["embeddings"]
        numpy.testing.assert_allclose(
            after["embeddings"], stepped / numpy.sqrt((stepped ** 2).sum(axis=1))[:, None],
            rtol=1e-7, atol=1e-9)
        predicted = rnn.predict(words, 3)
        x = after["embeddings"][idxs].reshape(4, -1)
        h, expected = after["h0"], []
        for t in range(4):
            h = 1.0 / (1.0 + numpy.exp(-(x[t] @ after["wx"] + h @ after["wh"] + after["bh"])))
            expected.append(int(numpy.argmax(h @ after["w"] + after["b"])))
        assert list(predicted) == expected


def test_normalize_scales_the_embeddings_to_unit_rows(floatX64):
    rnn = RNNSLU(nh=3, nc=2, ne=4, de=3, cs=1)
    emb = rnn.emb.get_value()
    rnn.normalize()
    numpy.testing.assert_allclose(rnn.emb.get_value(),
                                  emb / numpy.sqrt((emb ** 2).sum(axis=1))[:, None], rtol=1e-15)


def test_save_and_load(tmp_path, floatX64):
    rnn = RNNSLU(nh=3, nc=2, ne=4, de=3, cs=1)
    rnn.train([0, 2], [1, 0], 1, 0.1)
    rnn.save(tmp_path)
    other = RNNSLU(nh=3, nc=2, ne=4, de=3, cs=1, rng=numpy.random.RandomState(9))
    other.load(tmp_path)
    for name, value in rnn.get_values().items():
        numpy.testing.assert_array_equal(other.get_values()[name], value)
    with pytest.raises(ValueError, match="a model of sizes .* = \\(3, 2, 4, 3, 1\\), not"):
        RNNSLU(nh=5, nc=2, ne=4, de=3, cs=1).load(tmp_path)


def test_jax_mode_is_refused_with_the_reason():
    if "jax" not in available_modes():
        pytest.skip("no JAX mode on this engine")
    with pytest.raises(ValueError, match="mode 'jax' cannot run RNNSLU \\(PyTensor's JAX backend"):
        rnnslu.main(dict(SMALL, nepochs=1), dataset=toy_fold(2, 2, 2), mode="jax")


# ----------------------------------------------------------------------------------------------
# main against the original


def _run(case, tmp_path, caplog, **options):
    caplog.set_level(logging.INFO, logger="dltut")
    run = rnnslu.main(case["param"], dataset=toy_fold(*case["fold"]),
                      output_folder=str(tmp_path / "rnnslu"), floatX="float64", **options)
    lines = [r.getMessage() for r in caplog.records if r.name == "dltut.tutorials.rnnslu"]
    return run, lines


def _check_against_original(case, run, lines):
    assert [line for line in lines if line.startswith("NEW BEST")] == case["new_best"]
    assert lines[-1].startswith(case["best_result"] + " with the model ")
    rates = [e["clr"] for e in run.epochs]
    assert [(rate, rates.count(rate)) for rate in dict.fromkeys(rates)] == case["learning_rates"]
    for name, value in run.rnn.get_values().items():
        total, absolute = case["final"][name]
        if total is not None:
            assert value.sum() == pytest.approx(total, rel=1e-9), name
        assert numpy.abs(value).sum() == pytest.approx(absolute, rel=1e-9), name
    for name, digest in case["sha256"].items():
        with open(os.path.join(run.folder, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


def test_main_prints_the_originals_numbers(tmp_path, caplog):
    run, lines = _run(ORIGINAL_SHORT, tmp_path, caplog, mode="c")
    _check_against_original(ORIGINAL_SHORT, run, lines)
    assert lines[0] == str({**rnnslu.DEFAULT_PARAM, **ORIGINAL_SHORT["param"]})
    assert lines[1].startswith("[learning] epoch 0 >> 100.00% completed in ")
    assert run.param["be"] == 4 and run.param["vf1"] == 68.85 and run.param["tp"] > 0
    assert [e["valid"]["f1"] for e in run.epochs][-1] <= 68.85


def test_main_decays_and_stops_as_the_original(tmp_path, caplog):
    run, lines = _run(ORIGINAL_DECAY, tmp_path, caplog, mode="c")
    _check_against_original(ORIGINAL_DECAY, run, lines)
    assert len(run.epochs) == 42 and run.param["clr"] < 1e-5


@pytest.mark.slow
def test_main_prints_the_originals_numbers_in_numba_mode(tmp_path, caplog):
    if "numba" not in available_modes():
        pytest.skip("no Numba mode on this engine")
    run, lines = _run(ORIGINAL_SHORT, tmp_path, caplog, mode="numba")
    _check_against_original(ORIGINAL_SHORT, run, lines)


def test_main_in_dltuts_default_jax_mode_compiles_in_c_mode(tmp_path, caplog):
    if "jax" not in available_modes():
        pytest.skip("no JAX mode on this engine")
    with in_mode("jax"):
        modes._mode_reason = engine.default_mode()[1]  # none chosen (in_mode restores it)
        run, lines = _run({**ORIGINAL_SHORT, "param": dict(SMALL, nepochs=2)}, tmp_path, caplog)
        assert engine.mode() == "jax"
    assert "RNNSLU compiles in mode 'c'" in lines[1]
    assert sum("compiles in mode" in line for line in lines) == 1  # said once, not per function
    assert [line for line in lines if line.startswith("NEW BEST")] == ORIGINAL_SHORT["new_best"][:2]


def test_data_toy_is_the_made_fold_of_the_original_run(tmp_path, caplog):
    """param data "toy" trains on toy_fold(**rnnslu.TOY), the fold of ORIGINAL_SHORT, and says
    so in its settings line; with a dataset it is refused."""
    assert tuple(rnnslu.TOY.values()) == ORIGINAL_SHORT["fold"]
    assert QUICK.settings == {"param": dict(ORIGINAL_SHORT["param"], data="toy")}
    caplog.set_level(logging.INFO, logger="dltut")
    run = rnnslu.main(QUICK.settings["param"], output_folder=str(tmp_path / "rnnslu"),
                      floatX="float64", mode="c")
    lines = [r.getMessage() for r in caplog.records if r.name == "dltut.tutorials.rnnslu"]
    assert "'data': 'toy'" in lines[0] and "atis" not in lines[0]
    _check_against_original(ORIGINAL_SHORT, run, lines)
    with pytest.raises(ValueError, match="data 'toy' trains on a made fold"):
        rnnslu.main(dict(SMALL, data="toy"), dataset=toy_fold(2, 2, 2))


def test_main_saves_the_best_model(tmp_path, caplog, floatX64):
    run, _ = _run({"fold": (20, 10, 10, 2), "param": dict(SMALL, nepochs=2, savemodel=True)},
                  tmp_path, caplog, mode="c")
    rnn = RNNSLU(nh=10, nc=7, ne=32, de=8, cs=3)
    rnn.load(run.folder)
    for name, value in run.best_params.items():
        numpy.testing.assert_array_equal(rnn.get_values()[name], value)


def test_main_reads_a_fold_file_and_refuses_bad_settings(tmp_path, caplog):
    _write_pickle(tmp_path / "fold.pkl.gz", toy_fold(6, 3, 3))
    run = rnnslu.main(dict(SMALL, nepochs=1), dataset=str(tmp_path / "fold.pkl.gz"),
                      output_folder=str(tmp_path / "out"), mode="c")
    assert len(run.epochs) == 1 and os.path.isfile(tmp_path / "out" / "best.valid.txt")
    for param, message in [({"lr": 0}, "lr must be a positive number"),
                           ({"win": 4}, "win must be an odd positive integer"),
                           ({"nhidden": 0}, "nhidden must be a positive integer"),
                           ({"fold": 7}, "fold must be one of 0-4"),
                           ({"data": "snips"}, "data 'snips': the tutorial has 'atis' .*'toy'"),
                           ({"seed": -1}, "seed must be an integer"),
                           ({"epochs": 3}, "unknown settings \\['epochs'\\]")]:
        with pytest.raises(ValueError, match=message):
            rnnslu.main(param, dataset=toy_fold(2, 2, 2), output_folder=str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_script_trains_on_the_toy_fold_and_says_where_atis_came_from(tmp_path):
    from conftest import run_script

    done = run_script("rnnslu.py", "--toy", "--nhidden", 10, "--emb-dimension", 8, "--win", 3,
                      "--nepochs", 2, "--floatX", "float64", "--mode", "c", "--checkpoint",
                      "checkpoint.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert os.path.isfile(tmp_path / "checkpoint.npz")
    assert [line for line in done.stdout.splitlines() if line.startswith("NEW BEST")] == \
        ORIGINAL_SHORT["new_best"][:2]
    assert sorted(os.listdir(tmp_path / "rnnslu")) == ["best.test.txt", "best.valid.txt"]
    missing = run_script("rnnslu.py", "--mode", "c", cwd=tmp_path / "rnnslu", ATISDATA="")
    assert missing.returncode == 2
    assert missing.stderr.startswith("rnnslu.py: error: data/atis.fold3.pkl.gz: no such file; "
                                     "the tutorial's ATIS folds came from http://")
    assert not (tmp_path / "rnnslu" / "rnnslu").exists()


def test_public_names():
    import dltut

    assert dltut.RNNSLU is RNNSLU and dltut.atisfold is rnnslu.atisfold


def test_main_in_float32_gives_the_same_f1_lines(tmp_path, caplog):
    """float32 (dltut's default) on the short run: the original's F1 lines (float64), and
    parameters within 1e-5 of its float64 ones (measured: 2e-6)."""
    caplog.set_level(logging.INFO, logger="dltut")
    run = rnnslu.main(ORIGINAL_SHORT["param"], dataset=toy_fold(*ORIGINAL_SHORT["fold"]),
                      output_folder=str(tmp_path / "rnnslu"), floatX="float32", mode="c")
    lines = [r.getMessage() for r in caplog.records if r.name == "dltut.tutorials.rnnslu"]
    assert [line for line in lines if line.startswith("NEW BEST")] == ORIGINAL_SHORT["new_best"]
    for name, value in run.rnn.get_values().items():
        assert value.dtype == numpy.float32
        assert numpy.abs(value).sum(dtype="float64") == pytest.approx(
            ORIGINAL_SHORT["final"][name][1], rel=1e-5), name


def test_a_resumed_run_is_the_unbroken_run(tmp_path, caplog):
    """20 epochs with checkpoints, then a resume to 60: the original's lines, learning rates
    (the setback to epoch 16's model at epoch 26 comes after the resume) and final values."""
    checkpoint = str(tmp_path / "checkpoint.npz")
    first = dict(ORIGINAL_DECAY, param=dict(ORIGINAL_DECAY["param"], nepochs=20))
    run, lines = _run(first, tmp_path, caplog, mode="c", checkpoint=checkpoint,
                      checkpoint_every=7)
    assert len(run.epochs) == 20
    caplog.clear()
    run, lines = _run(ORIGINAL_DECAY, tmp_path, caplog, mode="c", resume=checkpoint)
    assert any(line.startswith(f"... resuming from {checkpoint} (20 epochs done)")
               for line in lines)
    # the NEW BEST lines of both parts, from the epochs' record (the checkpoint keeps it)
    lines = [f"NEW BEST: epoch {e['epoch']} valid F1 {e['valid']['f1']} best test F1 "
             f"{e['test']['f1']}" for e in run.epochs if e["new_best"]] + \
        [line for line in lines if not line.startswith("NEW BEST")]
    _check_against_original(ORIGINAL_DECAY, run, lines)
    with pytest.raises(ValueError,
                       match="checkpoint of another run \\(saved, here: \\{.*'lr': \\(0.5, "):
        _run(ORIGINAL_DECAY | {"param": dict(SMALL, nepochs=60)}, tmp_path, caplog,
             resume=checkpoint)
    with pytest.raises(ValueError, match="resume .*: no such checkpoint file"):
        _run(ORIGINAL_DECAY, tmp_path, caplog, resume=str(tmp_path / "none.npz"))


def test_sigint_stops_after_the_sentence_and_the_checkpoint_resumes(tmp_path, caplog,
                                                                     monkeypatch):
    import signal

    from dltut.epochs import Interrupted

    checkpoint = str(tmp_path / "checkpoint.npz")
    calls = []
    train = RNNSLU.train

    def train_then_interrupt(self, *args):
        calls.append(1)
        if len(calls) == 3 * 300 + 5:  # in the 4th epoch
            os.kill(os.getpid(), signal.SIGINT)
        return train(self, *args)

    monkeypatch.setattr(RNNSLU, "train", train_then_interrupt)
    with pytest.raises(Interrupted, match=f"interrupted in training, epoch 3; checkpoint in "
                                          f"{checkpoint}"):
        _run(ORIGINAL_SHORT, tmp_path, caplog, mode="c", checkpoint=checkpoint)
    assert len(calls) == 3 * 300 + 5  # stopped after the sentence it was training on
    monkeypatch.setattr(RNNSLU, "train", train)
    run, _ = _run(ORIGINAL_SHORT, tmp_path, caplog, mode="c", resume=checkpoint)
    assert len(run.epochs) == 6
    assert [e["valid"]["f1"] for e in run.epochs if e["new_best"]] == [14.17, 43.15, 47.35,
                                                                       64.71, 68.85]
    for name, value in run.rnn.get_values().items():
        assert numpy.abs(value).sum() == pytest.approx(ORIGINAL_SHORT["final"][name][1],
                                                       rel=1e-9), name


# ----------------------------------------------------------------------------------------------
# Output places, checkpoints and model files read back

TINY = {"fold": (20, 10, 10, 2), "param": dict(SMALL, nepochs=2)}


def _tiny(tmp_path, **options):
    return rnnslu.main(TINY["param"], dataset=toy_fold(*TINY["fold"]), floatX="float64",
                       mode="c", **{"output_folder": str(tmp_path / "rnnslu"), **options})


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A checkpoint of two epochs of TINY (with a kept best model)."""
    folder = tmp_path_factory.mktemp("rnnslu_checkpoint")
    with engine_settings_kept():
        _tiny(folder, checkpoint=str(folder / "checkpoint.npz"))
    return folder / "checkpoint.npz"


def test_a_fresh_run_does_not_replace_a_checkpoint_unless_asked(tmp_path, tiny_checkpoint,
                                                                 monkeypatch):
    import shutil

    checkpoint = tmp_path / "checkpoint.npz"
    shutil.copy(tiny_checkpoint, checkpoint)
    before = checkpoint.read_bytes()
    monkeypatch.setattr(RNNSLU, "prepare", lambda self: pytest.fail("compiled"))
    with pytest.raises(ValueError, match=f"checkpoint {checkpoint} exists: resume it with "
                                         f"--resume {checkpoint}, or pass --overwrite"):
        _tiny(tmp_path, checkpoint=str(checkpoint))
    assert checkpoint.read_bytes() == before and not (tmp_path / "rnnslu").exists()
    monkeypatch.undo()
    run = _tiny(tmp_path, checkpoint=str(checkpoint), resume=str(checkpoint))  # goes on: done
    assert len(run.epochs) == 2
    run = _tiny(tmp_path, checkpoint=str(checkpoint), overwrite=True)
    assert len(run.epochs) == 2 and checkpoint.read_bytes() != before  # a new run's (its time)


def test_the_output_folder_is_made_or_refused_before_training(tmp_path, monkeypatch):
    from dltut.atomic import OutputError
    from hostile import assert_refused, run_dltut_read_only

    (tmp_path / "file").write_text("")
    monkeypatch.setattr(RNNSLU, "prepare", lambda self: pytest.fail("compiled"))
    with pytest.raises(OutputError, match="output_folder .*file/out: cannot create folder"):
        _tiny(tmp_path, output_folder=str(tmp_path / "file" / "out"))
    monkeypatch.undo()
    _tiny(tmp_path, output_folder=str(tmp_path / "a" / "b"))  # a missing folder is made
    assert {"best.test.txt", "best.valid.txt"} <= set(os.listdir(tmp_path / "a" / "b"))
    refused = run_dltut_read_only(tmp_path / "ro", [
        "run", "rnnslu", "--toy", "--nhidden", 10, "--emb-dimension", 8, "--win", 3,
        "--nepochs", 1, "--mode", "c", "--output-folder", tmp_path / "ro" / "out"], tmp_path)
    if refused is None:
        pytest.skip("no mount namespaces here (unshare)")
    assert_refused(refused, f"output_folder {tmp_path / 'ro' / 'out'}", "Read-only file system")
    assert "epoch 0" not in refused.stdout  # before training


def _spoilt(path, to, meta=None, arrays=None):
    """A copy of the checkpoint ``path`` at ``to`` with ``meta(run)`` applied to its
    rnnslu_checkpoint entry and ``arrays(dict)`` to its arrays."""
    import json

    with numpy.load(path) as data:
        values = dict(data)
    saved = json.loads(str(values["meta"]))
    if meta is not None:
        meta(saved["rnnslu_checkpoint"])
    values["meta"] = numpy.array(json.dumps(saved))
    if arrays is not None:
        arrays(values)
    numpy.savez(to, **values)
    return to


@pytest.mark.parametrize("meta, arrays, message", [
    (lambda run: run.update(epochs_done=10 ** 18), None,
     "1000000000000000000 epochs done and 2 epoch records"),
    (lambda run: run.update(epochs_done=0, epochs=[]), None, "0 epochs done"),
    (lambda run: run.pop("stopped"), None, "not the dict of best_f1, epochs"),
    (lambda run: run["results"].pop("be"), None, "results ['ce', 'clr'"),
    (lambda run: run["results"].update(be=5), None, "results be 5"),
    (lambda run: run["results"].update(clr=-1.0), None, "results clr -1.0"),
    (lambda run: run["epochs"].__setitem__(0, [1]), None, "epoch record 0 [1]"),
    (lambda run: run.update(training_time=-1), None, "training_time is -1"),
    (None, lambda values: values.update({"param/value/wx": numpy.zeros((3, 3))}),
     "value/wx is float64 (3, 3)"),
    (None, lambda values: values.update({"param/value/wx": numpy.zeros((24, 10), "int64")}),
     "value/wx is int64"),
    (None, lambda values: values.pop("param/best/wx"), "no array best/wx"),
    (None, lambda values: values.update({"param/extra": numpy.zeros(1)}),
     "unknown arrays ['extra']"),
])
def test_a_hostile_checkpoint_is_one_error_naming_it(tmp_path, tiny_checkpoint, monkeypatch,
                                                     meta, arrays, message):
    from dltut.saving import ModelFileError

    spoilt = _spoilt(tiny_checkpoint, tmp_path / "spoilt.npz", meta, arrays)
    monkeypatch.setattr(RNNSLU, "prepare", lambda self: pytest.fail("compiled"))
    with pytest.raises(ModelFileError, match=re.escape(f"{spoilt}: ") + ".*" + re.escape(message)):
        _tiny(tmp_path, resume=str(spoilt))


def test_a_checkpoint_of_other_data_sizes_is_another_run(tmp_path, tiny_checkpoint,
                                                        monkeypatch):
    """The data sizes are among the run's settings: crafted or of other data, refused as the
    checkpoint of another run, before anything is compiled."""
    spoilt = _spoilt(tiny_checkpoint, tmp_path / "spoilt.npz",
                     lambda run: run["settings"].update({"data sizes": "big"}))
    monkeypatch.setattr(RNNSLU, "prepare", lambda self: pytest.fail("compiled"))
    with pytest.raises(ValueError, match=re.escape(f"{spoilt}: checkpoint of another run")
                       + ".*'data sizes': \\('big', \\["):
        _tiny(tmp_path, resume=str(spoilt))


def test_a_hostile_checkpoint_on_the_command_line(tmp_path, tiny_checkpoint):
    from hostile import assert_refused, run_dltut

    spoilt = _spoilt(tiny_checkpoint, tmp_path / "spoilt.npz",
                     lambda run: run.update(epochs="all"))
    refused = run_dltut(["run", "rnnslu", "--toy", "--nhidden", 10, "--emb-dimension", 8,
                         "--win", 3, "--nepochs", 2, "--mode", "c", "--resume", spoilt], tmp_path)
    assert_refused(refused, str(spoilt), "epochs is 'all', not a list")


def test_a_hostile_model_file_is_one_error_naming_it(tmp_path, floatX64):
    from dltut import saving
    from dltut.saving import ModelFileError

    rnn = RNNSLU(nh=3, nc=2, ne=4, de=3, cs=1)
    path = tmp_path / rnnslu.MODEL_FILE
    path.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(ModelFileError, match=re.escape(str(path))):
        rnn.load(tmp_path)
    saving.save_model(path, {"model": "logreg", "n_in": 4, "n_out": 2},
                      {"W_logreg": numpy.zeros((4, 2)), "b_logreg": numpy.zeros(2)})
    with pytest.raises(ModelFileError, match="a 'logreg' model, not an RNNSLU's"):
        rnn.load(tmp_path)
    values = dict(rnn.get_values(), wh=numpy.zeros((2, 2)))
    saving.save_model(path, rnn.arch(), values)
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: wh is float64 of shape (2, 2)")):
        rnn.load(tmp_path)
    saving.save_model(path, rnn.arch(), {"wh": numpy.zeros((3, 3))})
    with pytest.raises(ModelFileError, match="an RNNSLU has"):
        rnn.load(tmp_path)


def test_a_fold_with_an_empty_set_or_a_wrapping_index_is_refused():
    train, valid, test, dicts = toy_fold(4, 2, 2)
    with pytest.raises(DataError, match="f.pkl.gz: the test set has no sentences .* an F1 of 0.0"):
        rnnslu.check_fold((train, valid, ([], [], []), dicts), "f.pkl.gz")
    wraps = [numpy.array([2**32 + 1])]  # as int32 it would be 1: a word of words2idx
    with pytest.raises(DataError, match="f.pkl.gz: train lex 0: index 4294967297 is beyond int32"):
        rnnslu.check_fold(((wraps, train[1][:1], [numpy.array([0])]), valid, test, dicts),
                          "f.pkl.gz")
    with pytest.raises(DataError, match="train lex 0: index 1099511627776 is beyond int32"):
        rnnslu.check_fold((([[1, 2**40]], [[0, 0]], [[0, 0]]), valid, test, dicts), "f.pkl.gz")
    with pytest.raises(DataError, match="the valid set's y must be a list of one index array a "
                                        "sentence, got a value of type int"):
        rnnslu.check_fold((train, (valid[0], valid[1], 3), test, dicts), "f.pkl.gz")
    with pytest.raises(DataError, match="train lex 0: expected a 1-d array of int indexes, got a "
                                        "list of 2"):
        rnnslu.check_fold((([[[1], [1, 2]]], [[0]], [[0]]), valid, test, dicts), "f.pkl.gz")
    with pytest.raises(DataError, match="words2idx has the index \\[1\\]"):
        rnnslu.check_fold((train, valid, test, {**dicts, "words2idx": {"a": [1]}}), "f.pkl.gz")


@pytest.mark.parametrize("fold, words", [
    ("dtype-hole", ["refused an array of dtype 'O8'", "nothing was run"]),
    ("empty-test", ["the test set has no sentences"]),
], ids=["dtype-hole", "empty-test"])
def test_rnnslu_refuses_a_crafted_fold_in_one_line(tmp_path, fold, words):
    from hostile import assert_refused, run_dltut
    from test_pickles import EXPLOITS

    train, valid, test, dicts = toy_fold(4, 2, 2)
    fold = ((train[0], train[1], [EXPLOITS["reconstruct"]] * 4), valid, test, dicts) \
        if fold == "dtype-hole" else (train, valid, ([], [], []), dicts)
    path = tmp_path / "atis.fold3.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(fold, 2)))
    refused = run_dltut(["run", "rnnslu", "--dataset", path, "--nepochs", 1], tmp_path)
    assert_refused(refused, "atis.fold3.pkl.gz", *words)


def test_a_checkpoint_that_cannot_be_written_is_a_warning_and_training_goes_on(
        tmp_path, monkeypatch, caplog):
    """A full disk at every checkpoint write: one warning naming the file, every epoch trained."""
    from conftest import checkpoint_warnings, disk_full_for

    disk_full_for(monkeypatch, "ck.npz")
    with engine_settings_kept(), caplog.at_level(logging.WARNING, logger="dltut"):
        run = _tiny(tmp_path, checkpoint=str(tmp_path / "ck.npz"))
    checkpoint_warnings(caplog, tmp_path / "ck.npz")
    assert len(run.epochs) == TINY["param"]["nepochs"] and not (tmp_path / "ck.npz").exists()
