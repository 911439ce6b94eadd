"""lstm: the LSTM layer against NumPy, the tutorial's draws, and train_lstm printing the numbers the
original lstm.py prints on the same made data (every optimizer, with and without dropout), with
saving, reloading, checkpoints and resume.

How the original was run: lisa-lab/DeepLearningTutorials' code/lstm.py and code/imdb.py, copied
to a scratch folder with two patches that Python 3 and theano-pymc need: ``get_minibatches_idx``
returns ``list(zip(...))`` (Python 2's zip; on Python 3 its iterator would be used up by the
training error of the first validation) and ``MRG_RandomStreams`` is imported under theano-pymc's
name ``MRG_RandomStream``. On theano-pymc 1.1.2 (.venv-theano, numpy 1.23.5, six installed,
C mode, THEANO_FLAGS=floatX=float64 with .ci/theano-env.sh's flags, OPENBLAS_NUM_THREADS=1), a
script set ``sys.modules["theano.scan.scan_perform_ext"] = None`` (Theano's Cython scan does not
build on Python 3.11: its Python scan runs), imported lstm (which seeds numpy with 123) and
called ``train_lstm(dim_proj=16, n_words=100, maxlen=30, batch_size=16, valid_batch_size=64,
validFreq=5, dispFreq=2, saveFreq=7, max_epochs=4, test_size=50, patience=2,
saveto="lstm_model.npz", optimizer=..., use_dropout=..., [decay_c=0.01 | lrate=0.5])`` in a
folder holding the made imdb.pkl shipped with dltut (dltut/toy/imdb.pkl: ``imdb.toy_imdb()``).
Its printed lines are ``ORIGINAL``; those of the defaults (adadelta, dropout), the column signs
below and the settings are ``dltut suite --quick``'s reference, kept in the catalogue.

The orthogonal blocks: ``numpy.linalg.svd`` of numpy 1.23.5 (theano-pymc's) and of numpy 2
(dltut's) return the same singular vectors up to the signs of some columns (LAPACK's
convention), so the weights differ by sign flips. ``ORIGINAL_SIGNS`` (the catalogue's) records
the signs of the first row of the original's ``lstm_W`` and ``lstm_U``; the comparison runs dltut
from its own draws with those columns flipped (``suite.write_signed_init``, through
``reload_model``, after all the tutorial's draws), and then prints the original's numbers to the
last digit or two.
"""

import json
import logging
import os
import re
import signal

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import catalogue, engine, fitting, sequences, suite
from dltut.data import DataError
from dltut.engine import T
from dltut.tutorials import imdb, lstm
from test_imdb import write_made_imdb

# the original's run of the tutorial's defaults (adadelta, dropout) is dltut suite --quick's
# reference: its settings (with dataset "toy", the shipped made reviews), the column signs of its
# orthogonal blocks and its printed lines are the catalogue's
QUICK = catalogue.get("lstm").quick
SETTINGS = {name: value for name, value in QUICK.settings.items() if name != "dataset"}
ORIGINAL_SIGNS = QUICK.prepare_args["signs"]
ORIGINAL = {
    ('adadelta', True, ()): "\n".join(QUICK.lines) + "\n",
    ('adadelta', False, (('decay_c', 0.01),)): """\
Epoch  0 Update  2 Cost  0.6931697774148067
Epoch  0 Update  4 Cost  0.6933704408870207
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  6 Cost  0.6933022371370058
Saving...
Epoch  0 Update  8 Cost  0.6935697089951907
Epoch  0 Update  10 Cost  0.6931591127588812
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  12 Cost  0.692062170219994
Seen 184 samples
Epoch  1 Update  14 Cost  0.6949999009864684
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  1 Update  16 Cost  0.6977586056748625
Epoch  1 Update  18 Cost  0.6921738962944576
Epoch  1 Update  20 Cost  0.6910742309704799
Train  0.4782608695652174 Valid  0.8 Test  0.56
Saving...
Epoch  1 Update  22 Cost  0.6867434269635035
Epoch  1 Update  24 Cost  0.6932589714739744
Seen 184 samples
Train  0.4782608695652174 Valid  0.8 Test  0.56
Early Stop!
Seen 16 samples
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
""",
    ('rmsprop', True, ()): """\
Epoch  0 Update  2 Cost  0.693141065393332
Epoch  0 Update  4 Cost  0.693112374232234
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  6 Cost  0.6932025944996231
Saving...
Epoch  0 Update  8 Cost  0.6931035121280816
Epoch  0 Update  10 Cost  0.6931393714936663
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  12 Cost  0.6932134108358158
Seen 184 samples
Epoch  1 Update  14 Cost  0.6932252061422871
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  1 Update  16 Cost  0.6935606521889893
Epoch  1 Update  18 Cost  0.6926162454605892
Epoch  1 Update  20 Cost  0.6925257718198122
Train  0.4782608695652174 Valid  0.8 Test  0.56
Saving...
Epoch  1 Update  22 Cost  0.6912836633750657
Epoch  1 Update  24 Cost  0.693160945930474
Seen 184 samples
Train  0.4782608695652174 Valid  0.8 Test  0.56
Early Stop!
Seen 16 samples
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
""",
    ('rmsprop', False, ()): """\
Epoch  0 Update  2 Cost  0.6931422238556615
Epoch  0 Update  4 Cost  0.6931120412970779
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  6 Cost  0.6932026240516889
Saving...
Epoch  0 Update  8 Cost  0.6930923009280087
Epoch  0 Update  10 Cost  0.6931490049307096
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  12 Cost  0.6932081655918543
Seen 184 samples
Epoch  1 Update  14 Cost  0.693229600213493
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  1 Update  16 Cost  0.6935646982810295
Epoch  1 Update  18 Cost  0.6926186776619035
Epoch  1 Update  20 Cost  0.6925188795535853
Train  0.4782608695652174 Valid  0.8 Test  0.56
Saving...
Epoch  1 Update  22 Cost  0.6912739725056067
Epoch  1 Update  24 Cost  0.6931553723804248
Seen 184 samples
Train  0.4782608695652174 Valid  0.8 Test  0.56
Early Stop!
Seen 16 samples
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
""",
    ('sgd', True, (('lrate', 0.5),)): """\
Epoch  0 Update  2 Cost  0.6931416603673545
Epoch  0 Update  4 Cost  0.7044083021234236
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  0 Update  6 Cost  0.6912661315880309
Saving...
Epoch  0 Update  8 Cost  0.7018176952844378
Epoch  0 Update  10 Cost  0.6931370957364741
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  0 Update  12 Cost  0.6791959111989888
Seen 184 samples
Epoch  1 Update  14 Cost  0.7218817436922617
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  1 Update  16 Cost  0.74281013431448
Epoch  1 Update  18 Cost  0.7183194968018994
Epoch  1 Update  20 Cost  0.6935265922059333
Train  0.4782608695652174 Valid  0.8 Test  0.56
Saving...
Epoch  1 Update  22 Cost  0.6840069137036198
Epoch  1 Update  24 Cost  0.6951591508447541
Seen 184 samples
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  2 Update  26 Cost  0.6937845060706045
Epoch  2 Update  28 Cost  0.7072761178256374
Saving...
Epoch  2 Update  30 Cost  0.6955464116327158
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  2 Update  32 Cost  0.6675777588555046
Epoch  2 Update  34 Cost  0.70676508651934
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  2 Update  36 Cost  0.7581695683162496
Seen 184 samples
Epoch  3 Update  38 Cost  0.6800461307852292
Epoch  3 Update  40 Cost  0.6882209206017899
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  3 Update  42 Cost  0.6773965443962526
Saving...
Epoch  3 Update  44 Cost  0.6853254635991113
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  3 Update  46 Cost  0.7086739317109303
Epoch  3 Update  48 Cost  0.7096541639412731
Seen 184 samples
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
""",
    ('sgd', False, (('lrate', 0.5),)): """\
Epoch  0 Update  2 Cost  0.6931423479740325
Epoch  0 Update  4 Cost  0.7044113605367376
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  0 Update  6 Cost  0.6912617425437267
Saving...
Epoch  0 Update  8 Cost  0.7018049871613748
Epoch  0 Update  10 Cost  0.6931472276959593
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  0 Update  12 Cost  0.6791802331931162
Seen 184 samples
Epoch  1 Update  14 Cost  0.7218884488027094
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  1 Update  16 Cost  0.7428241017028621
Epoch  1 Update  18 Cost  0.7183402943532042
Epoch  1 Update  20 Cost  0.6935159220134569
Train  0.4782608695652174 Valid  0.8 Test  0.56
Saving...
Epoch  1 Update  22 Cost  0.6839976255969987
Epoch  1 Update  24 Cost  0.6951433376555483
Seen 184 samples
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  2 Update  26 Cost  0.6937775772866412
Epoch  2 Update  28 Cost  0.7072764549781818
Saving...
Epoch  2 Update  30 Cost  0.6955511754702932
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  2 Update  32 Cost  0.667562620453407
Epoch  2 Update  34 Cost  0.7067399084499828
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  2 Update  36 Cost  0.7581596723783108
Seen 184 samples
Epoch  3 Update  38 Cost  0.6800257508076606
Epoch  3 Update  40 Cost  0.6881926728858406
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  3 Update  42 Cost  0.6773774745209225
Saving...
Epoch  3 Update  44 Cost  0.6853046415946624
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  3 Update  46 Cost  0.7086524585731033
Epoch  3 Update  48 Cost  0.7096463059561857
Seen 184 samples
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
""",
}
KINDS = ("Epoch  ", "Train  ", "Saving...", "Seen ", "Early Stop!")  # the lines compared


def _sigmoid(a):
    return 1.0 / (1.0 + numpy.exp(-a))


def numpy_lstm(W, U, b, emb, mask):
    """The LSTM's hidden states, step by step in NumPy (gates i, f, o, c in the columns)."""
    dim = U.shape[0]
    h = numpy.zeros((emb.shape[1], dim))
    c = numpy.zeros_like(h)
    states = []
    for x_t, m in zip(emb, mask):
        pre = x_t @ W + b + h @ U
        i, f, o = (_sigmoid(pre[:, k * dim:(k + 1) * dim]) for k in range(3))
        c_new = f * c + i * numpy.tanh(pre[:, 3 * dim:])
        c = m[:, None] * c_new + (1 - m[:, None]) * c
        h_new = o * numpy.tanh(c)
        h = m[:, None] * h_new + (1 - m[:, None]) * h
        states.append(h)
    return numpy.array(states)


@pytest.mark.parametrize("mode", [pytest.param(m, marks=pytest.mark.slow) if m == "numba" else m
                                  for m in available_modes() if m != "jax"])
def test_lstm_layer_and_model_against_numpy(floatX64, mode):
    engine.set_mode(mode)
    rng = numpy.random.RandomState(0)
    options = dict(n_words=20, dim_proj=3, encoder="lstm", ydim=2, use_dropout=False)
    params = lstm.init_params(options, rng)
    params["lstm_b"] = rng.uniform(-0.5, 0.5, 12)
    params["lstm_U"] = rng.uniform(-0.5, 0.5, (3, 12))
    tparams = lstm.init_tparams(params)
    x, mask, y = imdb.prepare_data([[2, 5, 7, 3], [9], [4, 4, 19]], [1, 0, 1])
    emb = T.tensor3("emb")
    m = T.matrix("mask")
    f = engine.function([emb, m], lstm.lstm_layer(tparams, emb, options, mask=m))
    embedded = params["Wemb"][x]
    expected = numpy_lstm(params["lstm_W"], params["lstm_U"], params["lstm_b"], embedded, mask)
    numpy.testing.assert_allclose(f(embedded, mask), expected, rtol=1e-12)
    # mean pooling over each review's words, then the softmax
    _, xs, masks, ys, f_pred_prob, f_pred, cost = lstm.build_model(tparams, options)
    pooled = (expected * mask[:, :, None]).sum(0) / mask.sum(0)[:, None]
    logits = pooled @ params["U"] + params["b"]
    probs = numpy.exp(logits) / numpy.exp(logits).sum(1, keepdims=True)
    numpy.testing.assert_allclose(f_pred_prob(x, mask), probs, rtol=1e-12)
    f_cost = engine.function([xs, masks, ys], cost)
    numpy.testing.assert_allclose(f_cost(x, mask, y),
                                  -numpy.log(probs[[0, 1, 2], y] + 1e-8).mean(), rtol=1e-12)
    assert lstm.pred_probs(f_pred_prob, imdb.prepare_data, ([[2, 5, 7, 3], [9]], [1, 0]),
                           lstm.get_minibatches_idx(2, 1)).shape == (2, 2)


@pytest.mark.parametrize("mode", [m for m in available_modes() if m != "numba"])
def test_the_error_counter_is_pred_error_and_moves_the_streams_as_its_calls(mode):
    """``ErrorCounter`` (reviews sorted by length, 128 at a time, no dropout draw) gives
    ``pred_error``'s fraction through the tutorial's ``f_pred`` (minibatches of 16 in random order,
    each call drawing a dropout mask at ``use_noise`` 0), and leaves the dropout streams where
    those calls leave them."""
    engine.set_mode(mode)
    rng = numpy.random.RandomState(3)
    options = dict(n_words=50, dim_proj=8, encoder="lstm", ydim=2, use_dropout=True)
    tparams = lstm.init_tparams(lstm.init_params(options, rng))
    use_noise, *_, f_pred, _ = lstm.build_model(tparams, options)
    reviews = [list(rng.randint(1, 50, size=rng.randint(1, 40))) for _ in range(300)]
    data = (reviews, list(rng.randint(0, 2, size=300)))
    iterator = lstm.get_minibatches_idx(300, 16, shuffle=True, rng=rng)
    (state,) = engine.updated_variables(f_pred).values()
    before = numpy.asarray(state.get_value())
    use_noise.set_value(lstm.numpy_floatX(0.0))
    expected = lstm.pred_error(f_pred, imdb.prepare_data, data, iterator)
    after_calls = numpy.asarray(state.get_value())
    assert not numpy.array_equal(after_calls, before) and 0.2 < expected < 0.8
    state.set_value(before)
    counter = sequences.ErrorCounter(lstm.build_predictor(tparams, options), imdb.prepare_data,
                                     state, options["dim_proj"])
    assert [count for _, count in counter.batches(data, iterator)] == [128, 128, 44]
    assert counter(data, iterator) == expected
    numpy.testing.assert_array_equal(state.get_value(), after_calls)


def test_init_params_are_the_tutorials_draws():
    options = dict(n_words=30, dim_proj=4, encoder="lstm", ydim=2)
    floatX = engine.floatX()
    params = lstm.init_params(options, numpy.random.RandomState(123))
    rng = numpy.random.RandomState(123)
    wemb = 0.01 * rng.rand(30, 4)
    blocks = [numpy.linalg.svd(rng.randn(4, 4))[0] for _ in range(8)]
    U = 0.01 * rng.randn(4, 2).astype(floatX)
    numpy.testing.assert_array_equal(params["Wemb"], wemb.astype(floatX))
    numpy.testing.assert_array_equal(params["lstm_W"], numpy.hstack(blocks[:4]).astype(floatX))
    numpy.testing.assert_array_equal(params["lstm_U"], numpy.hstack(blocks[4:]).astype(floatX))
    numpy.testing.assert_array_equal(params["U"], U)
    assert list(params) == ["Wemb", "lstm_W", "lstm_U", "lstm_b", "U", "b"]
    for block in numpy.hsplit(params["lstm_U"], 4):
        numpy.testing.assert_allclose(block.T @ block, numpy.eye(4), atol=1e-6)


def test_get_minibatches_idx():
    batches = lstm.get_minibatches_idx(10, 4)
    assert isinstance(batches, list) and [i for i, _ in batches] == [0, 1, 2]
    assert [b.tolist() for _, b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    shuffled = lstm.get_minibatches_idx(10, 5, shuffle=True, rng=numpy.random.RandomState(1))
    expected = numpy.arange(10, dtype="int32")
    numpy.random.RandomState(1).shuffle(expected)
    assert [b.tolist() for _, b in shuffled] == [expected[:5].tolist(), expected[5:].tolist()]


def _original_init(folder, data_path, settings):
    """dltut's initial parameters (the tutorial's draws after the validation split and the
    test_size selection) with the columns of the orthogonal blocks signed as the original's:
    suite.write_signed_init, as dltut suite --quick prepares its run."""
    return suite.write_signed_init(folder, dict(settings, data_path=data_path, floatX="float64"),
                                   ORIGINAL_SIGNS)["reload_model"]


def _printed(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "dltut.tutorials.lstm" and r.getMessage().startswith(KINDS)]


def assert_same_lines(got, expected, rtol=1e-9):
    """The same lines, word for word, with numbers equal to ``rtol`` relative."""
    expected = expected.splitlines()
    assert len(got) == len(expected), "\n".join(got)
    number = r"\d+\.\d+(?:e-?\d+)?"
    for line, want in zip(got, expected):
        assert re.sub(number, "#", line) == re.sub(number, "#", want), (line, want)
        numpy.testing.assert_allclose([float(v) for v in re.findall(number, line)],
                                      [float(v) for v in re.findall(number, want)], rtol=rtol,
                                      err_msg=f"{line!r} against the original's {want!r}")


def run_like_the_original(tmp_path, caplog, key, **options):
    optimizer, use_dropout, extra = key
    data_path = tmp_path / "imdb.pkl"
    if not data_path.exists():
        write_made_imdb(data_path)
    init = _original_init(tmp_path, data_path, SETTINGS)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dltut"):
        settings = dict(SETTINGS, **options.pop("settings", {}))
        result = lstm.train_lstm(**settings, **dict(extra), optimizer=optimizer,
                                 use_dropout=use_dropout, data_path=data_path,
                                 reload_model=init,
                                 saveto=tmp_path / "lstm_model.npz", floatX="float64",
                                 **options)
    return result, _printed(caplog)


@pytest.mark.parametrize("mode", [m for m in available_modes() if m != "numba"])
def test_train_lstm_prints_the_originals_numbers(tmp_path, caplog, mode):
    """Adadelta with dropout (the tutorial's defaults) in the C mode and JAX's (each minibatch
    padded to a quarter octave of steps)."""
    key = ("adadelta", True, ())
    result, lines = run_like_the_original(tmp_path, caplog, key, mode=mode)
    assert_same_lines(lines, ORIGINAL[key])
    assert result.result.stop_reason == "validation_patience"
    assert tuple(result) == (0.5217391304347826, 0.19999999999999996, 0.43999999999999995)
    saved = numpy.load(tmp_path / "lstm_model.npz")
    assert sorted(saved.files) == sorted(["Wemb", "lstm_W", "lstm_U", "lstm_b", "U", "b",
                                          "history_errs", "train_err", "valid_err", "test_err"])
    assert saved["history_errs"].shape == (5, 2)
    options = json.loads((tmp_path / "lstm_model.npz.json").read_text())
    assert options["optimizer"] == "adadelta" and options["ydim"] == 2
    for name, value in result.params.items():  # NumPy's arrays in every mode
        assert isinstance(value, numpy.ndarray)
        numpy.testing.assert_array_equal(saved[name], value)


@pytest.mark.slow
@pytest.mark.parametrize("mode", available_modes())
@pytest.mark.parametrize("key", sorted(ORIGINAL), ids=lambda key: f"{key[0]}-dropout{int(key[1])}")
def test_every_optimizer_prints_the_originals_numbers(tmp_path, caplog, key, mode):
    if engine.name() == "theano" and mode != "c":
        pytest.skip("theano-pymc has the C mode only")
    if mode == "numba" and key != ("rmsprop", True, ()):
        pytest.skip("CI time: a new graph takes minutes to compile in the Numba mode (a first "
                    "run took 214 s here, 11 s once cached); one optimizer with dropout there, "
                    "all of them in the C mode")
    _, lines = run_like_the_original(tmp_path, caplog, key, mode=mode)
    assert_same_lines(lines, ORIGINAL[key])


@pytest.mark.slow  # 42 s from an empty home folder (three runs, the C graph compiled cold)
@pytest.mark.parametrize("mode", ["c", "jax"])
def test_checkpoint_and_resume_go_on_as_the_unbroken_run(tmp_path, caplog, mode):
    """SIGINT at the third validation (update 15): the checkpoint then holds the parameters, the
    optimizer's averages, the dropout streams and the epoch's shuffle; resumed, the run prints
    the rest of the original's lines."""
    if mode not in available_modes():
        pytest.skip(f"no mode {mode!r} on this engine")
    key = ("rmsprop", True, ())

    def interrupt(record):
        if record.iter == 14:
            os.kill(os.getpid(), signal.SIGINT)

    checkpoint = str(tmp_path / "checkpoint.npz")
    first, lines = run_like_the_original(tmp_path, caplog, key, mode=mode, checkpoint=checkpoint,
                                         callbacks=(interrupt,))
    assert first.result.stop_reason == "interrupted" and first.result.iterations == 15
    expected = ORIGINAL[key].splitlines()
    done = expected.index("Train  0.4782608695652174 Valid  0.8 Test  0.56") + 1
    assert_same_lines(lines[:done], "\n".join(expected[:done]))
    assert "Training interupted" in caplog.messages
    second, lines = run_like_the_original(tmp_path, caplog, key, mode=mode, resume=checkpoint)
    assert_same_lines(lines, "\n".join(expected[done:]))
    assert second.result.iterations == 25 and len(second.result.history) == 5
    assert tuple(second) == (0.5217391304347826, 0.19999999999999996, 0.43999999999999995)
    with pytest.raises(ValueError, match="checkpoint of another run .*'patience': \\(2, 3\\)"):
        run_like_the_original(tmp_path, caplog, key, mode=mode, resume=checkpoint,
                              settings={"patience": 3})


def test_bad_settings_are_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file.*imdb.pkl"):
        lstm.train_lstm(data_path=tmp_path / "imdb.pkl", mode="c")
    with pytest.raises(ValueError, match="optimizer 'adam'"):
        lstm.train_lstm(optimizer="adam", mode="c")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        lstm.train_lstm(batch_size=0, mode="c")


def test_script_without_data_says_where_to_get_it(tmp_path):
    from conftest import run_script

    missing = run_script("lstm.py", "--data-path", "none.pkl", cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "none.pkl: no such file" in missing.stderr and imdb.ORIGIN in missing.stderr


@pytest.mark.slow  # a cold compile in a subprocess (half a minute); train_lstm is tested above
def test_script_trains_in_float32(tmp_path):
    """scripts/lstm.py on the made data in float32 and the default mode."""
    from conftest import run_script

    write_made_imdb(tmp_path / "imdb.pkl")
    flags = ["--dim-proj", 8, "--n-words", 100, "--maxlen", 30, "--max-epochs", 1,
             "--validFreq", 6, "--dispFreq", 4, "--test-size", 30, "--saveto", "model.npz",
             "--floatX", "float32"]  # in the default mode: C where JAX is dltut's default
    done = run_script("lstm.py", *flags, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Epoch  0 Update  4 Cost  0.69" in done.stdout and "Seen 184 samples" in done.stdout
    assert "The code run for 1 epochs" in done.stdout
    saved = numpy.load(tmp_path / "model.npz")
    assert saved["Wemb"].dtype == numpy.float32 and saved["history_errs"].shape == (2, 2)


@pytest.mark.slow  # 29 s from an empty home folder: the sgd graph compiles cold
def test_a_diverging_run_stops_as_the_tutorial(tmp_path, caplog):
    """sgd with lrate 1e200: after one update decay_c * sum(U ** 2) is infinite; the tutorial
    then prints 'bad cost detected: ' and returns 1., 1., 1.; dltut prints the line and raises
    ``Diverged``, as the other tutorials (the command exits 1).

    The original (run as ORIGINAL's, with these settings and saveto='') printed ``Epoch  0
    Update  1 Cost  0.6931784949305962`` then ``bad cost detected:  inf``. dltut's
    f_grad_shared returns nan there, where a function of the same cost and gradients without
    f_grad_shared's updates returns inf (not looked into further: the weights have overflowed):
    the same stop at the same update, nan for inf."""
    write_made_imdb(tmp_path / "imdb.pkl")
    from dltut.trainer import Diverged

    with caplog.at_level(logging.INFO, logger="dltut"), \
            pytest.raises(Diverged, match="lower lrate|a lower lrate"):
        lstm.train_lstm(**dict(SETTINGS, dispFreq=1), optimizer="sgd", lrate=1e200,
                        decay_c=0.01, use_dropout=False, saveto=None, mode="c", floatX="float64",
                        data_path=tmp_path / "imdb.pkl")
    lines = _printed(caplog) + [m for m in caplog.messages if m.startswith("bad cost")]
    assert lines[0].startswith("Epoch  0 Update  1 Cost  0.69")
    assert lines[1:] in (["bad cost detected:  inf"], ["bad cost detected:  nan"])

# The original as ORIGINAL's, with adadelta and dropout for 40 epochs, where the model learns:
# train_lstm(..., optimizer=adadelta, use_dropout=True, max_epochs=40, patience=100,
# validFreq=24, dispFreq=24, saveFreq=1000) (480 updates).
LONG_SETTINGS = dict(max_epochs=40, patience=100, validFreq=24, dispFreq=24, saveFreq=1000)
ORIGINAL_LONG = """\
Seen 184 samples
Epoch  1 Update  24 Cost  0.6932407725858384
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  3 Update  48 Cost  0.6992630341013644
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  5 Update  72 Cost  0.6936378646800386
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  7 Update  96 Cost  0.6935582632729773
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  9 Update  120 Cost  0.7045262107745196
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  11 Update  144 Cost  0.6741310172365128
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  13 Update  168 Cost  0.6822121636495809
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  15 Update  192 Cost  0.662956464116613
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  17 Update  216 Cost  0.6959992462795361
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  19 Update  240 Cost  0.6857715015581033
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  21 Update  264 Cost  0.682906275361849
Train  0.4782608695652174 Valid  0.8 Test  0.56
Seen 184 samples
Seen 184 samples
Epoch  23 Update  288 Cost  0.6061185880744042
Train  0.3369565217391305 Valid  0.6 Test  0.43999999999999995
Seen 184 samples
Seen 184 samples
Epoch  25 Update  312 Cost  0.6342755383086464
Train  0.28260869565217395 Valid  0.5 Test  0.36
Seen 184 samples
Seen 184 samples
Epoch  27 Update  336 Cost  0.520891504172598
Train  0.2065217391304348 Valid  0.4 Test  0.36
Seen 184 samples
Seen 184 samples
Epoch  29 Update  360 Cost  0.3300051251345438
Train  0.15217391304347827 Valid  0.4 Test  0.30000000000000004
Seen 184 samples
Seen 184 samples
Epoch  31 Update  384 Cost  0.30593676845929485
Train  0.11956521739130432 Valid  0.19999999999999996 Test  0.26
Seen 184 samples
Seen 184 samples
Epoch  33 Update  408 Cost  0.282617553229666
Train  0.08695652173913049 Valid  0.4 Test  0.21999999999999997
Seen 184 samples
Seen 184 samples
Epoch  35 Update  432 Cost  0.18540362478807382
Train  0.07608695652173914 Valid  0.4 Test  0.26
Seen 184 samples
Seen 184 samples
Epoch  37 Update  456 Cost  0.09902654622832395
Train  0.05434782608695654 Valid  0.4 Test  0.28
Seen 184 samples
Seen 184 samples
Epoch  39 Update  480 Cost  0.2511781835193137
Train  0.048913043478260865 Valid  0.4 Test  0.24
Seen 184 samples
Train  0.11956521739130432 Valid  0.19999999999999996 Test  0.26
"""


@pytest.mark.slow
def test_a_longer_run_that_learns_prints_the_originals_numbers(tmp_path, caplog):
    """480 updates of adadelta with dropout: the errors fall from 0.48 to 0.05 (training) and
    every number stays the original's (3.6e-16 relative at worst, measured)."""
    _, lines = run_like_the_original(tmp_path, caplog, ("adadelta", True, ()), mode="c",
                                     settings=LONG_SETTINGS)
    assert_same_lines(lines, ORIGINAL_LONG)


# ----------------------------------------------------------------------------------------------
# Minibatches of one review, divergence, bad settings and hostile checkpoints

# The made data cut at maxlen=16: 96 training reviews (3 to 15 words: one padded length in JAX
# mode), 5 validation, 20 test; batch_size 5 leaves a last minibatch of one review (96 = 19 x 5
# + 1), as real IMDB does where its training count mod the batch size is 1.
ONE_SETTINGS = dict(dim_proj=8, n_words=100, maxlen=16, valid_batch_size=64, validFreq=-1,
                    max_epochs=1, test_size=20, patience=2, saveto=None, floatX="float64")
# The lines of the C mode (whose numbers are the original's, above), float64
ONE_REVIEW_LINES = {
    (1, 8): """\
Epoch  0 Update  8 Cost  0.6879919520397956
Epoch  0 Update  16 Cost  0.6980035458014018
Epoch  0 Update  24 Cost  0.6976845489999429
Epoch  0 Update  32 Cost  0.6886022356625339
Epoch  0 Update  40 Cost  0.6888513724594526
Epoch  0 Update  48 Cost  0.6893067441301787
Epoch  0 Update  56 Cost  0.6898498328343375
Epoch  0 Update  64 Cost  0.6702981880619003
Epoch  0 Update  72 Cost  0.6616823707053063
Epoch  0 Update  80 Cost  0.7035159158606603
Epoch  0 Update  88 Cost  0.6727055235878533
Epoch  0 Update  96 Cost  0.7241071097564962
Train  0.47916666666666663 Valid  0.4 Test  0.5
Seen 96 samples
Train  0.47916666666666663 Valid  0.4 Test  0.5
""",
    (5, 4): """\
Epoch  0 Update  4 Cost  0.6924782497492934
Epoch  0 Update  8 Cost  0.6920158097170575
Epoch  0 Update  12 Cost  0.6894530122718849
Epoch  0 Update  16 Cost  0.7114579318813352
Train  0.47916666666666663 Valid  0.4 Test  0.5
Epoch  0 Update  20 Cost  0.6975350550642198
Seen 96 samples
Train  0.47916666666666663 Valid  0.4 Test  0.5
""",
}


@pytest.mark.parametrize("batch_size, dispFreq", sorted(ONE_REVIEW_LINES))
@pytest.mark.parametrize("mode", available_modes())
def test_minibatches_of_one_review_train_in_every_mode(tmp_path, caplog, mode, batch_size,
                                                       dispFreq):
    """A minibatch of one review (batch_size 1, or the last of 96 reviews at batch_size 5) once
    made JAX mode's padded function type its inputs with a length-1 axis, broadcastable: the
    scan then refused its own mask (a TypeError mid-training). Every mode prints the C mode's
    numbers."""
    write_made_imdb(tmp_path / "imdb.pkl")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dltut"):
        result = lstm.train_lstm(**ONE_SETTINGS, batch_size=batch_size, dispFreq=dispFreq,
                                 data_path=tmp_path / "imdb.pkl", mode=mode)
    assert result.result.iterations == -(-96 // batch_size)
    if engine.name() == "pytensor":  # theano-pymc's numpy 1.23 SVD flips some columns' signs of
        # the orthogonal blocks (the module's docstring): its lines are its own, it trains all 96
        assert_same_lines(_printed(caplog), ONE_REVIEW_LINES[batch_size, dispFreq])


def test_settings_the_tutorial_cannot_run_are_refused_before_the_data(tmp_path):
    """Each names the argument, its flag and the value; nothing is read (no data file here)."""
    bad = {"dim_proj": 0, "patience": -1, "max_epochs": 1.5, "dispFreq": True, "batch_size": 0,
           "valid_batch_size": None, "n_words": 1, "validFreq": 0, "saveFreq": -2,
           "maxlen": -1, "test_size": 2.5, "lrate": -1, "decay_c": float("nan"),
           "noise_std": float("inf"), "checkpoint_every": 0, "encoder": "gru",
           "dataset": "mnist"}
    for name, value in bad.items():
        with pytest.raises(ValueError, match=rf"^{name} must be .*got {re.escape(repr(value))} "
                                             rf"\({fitting.flag(name)}\)$"):
            lstm.train_lstm(**{name: value}, data_path=tmp_path / "none.pkl", mode="c")
    with pytest.raises(ValueError, match=r"lrate must be finite in float32.*--floatX float64"):
        lstm.train_lstm(lrate=1e200, floatX="float32", data_path=tmp_path / "none.pkl",
                        mode="c")
    # what the original allows: maxlen 0 or None (no limit), validFreq/saveFreq -1 (each epoch)
    lstm.check_settings(maxlen=0, validFreq=-1, saveFreq=-1, test_size=-1, decay_c=0,
                        noise_std=0.0, lrate=numpy.float64(1e-4))
    lstm.check_settings(maxlen=None)


def test_validFreq_of_each_epoch_needs_a_full_minibatch(tmp_path):
    """validFreq -1 is the epoch's count of full minibatches: none at batch_size 200 (the
    tutorial then divided by zero)."""
    write_made_imdb(tmp_path / "imdb.pkl")
    with pytest.raises(ValueError, match=r"validFreq -1 .*96 training reviews.*batch_size 200"):
        lstm.train_lstm(**dict(ONE_SETTINGS, mode="jax" if "jax" in available_modes() else "c"),
                        batch_size=200, data_path=tmp_path / "imdb.pkl")


@pytest.mark.parametrize("flag, value", [("--lrate", "-1"), ("--decay-c", "nan"),
                                         ("--batch-size", "0"), ("--validFreq", "0"),
                                         ("--maxlen", "-1"), ("--n-words", "1")])
def test_the_command_refuses_bad_values_in_one_line(tmp_path, flag, value):
    from hostile import assert_refused, run_dltut

    assert_refused(run_dltut(["run", "lstm", flag, value], tmp_path), flag, value)
    assert list(tmp_path.iterdir()) == []


def test_a_diverging_run_exits_1_with_one_line(tmp_path):
    """The tutorial's line ``bad cost detected:  nan`` on stdout, then one error line and exit
    1, as the other tutorials' divergence."""
    from hostile import assert_no_fault, error_lines, run_dltut

    write_made_imdb(tmp_path / "imdb.pkl")
    mode = "jax" if "jax" in available_modes() else "c"
    result = run_dltut(["run", "lstm", "--optimizer", "sgd", "--lrate", "1e200", "--decay-c",
                        "0.01", "--no-use-dropout", "--floatX", "float64", "--dim-proj", "8",
                        "--n-words", "100", "--maxlen", "16", "--test-size", "20", "--saveto",
                        "", "--dispFreq", "1", "--mode", mode], tmp_path)
    assert_no_fault(result)
    assert result.returncode == 1, result.stderr
    assert "Epoch  0 Update  1 Cost  0.69" in result.stdout
    assert re.search(r"^bad cost detected:  (nan|inf)$", result.stdout, re.MULTILINE)
    (line,) = error_lines(result)
    assert "training diverged" in line and "--lrate 1e+200" in line and "--decay-c" in line


@pytest.fixture(scope="module")
def lstm_checkpoint(tmp_path_factory):
    """The checkpoint of a short run stopped by SIGINT at its first validation (update 3 of 6;
    JAX mode where there is one: nothing compiles before training there) and the settings that
    resume it."""
    folder = tmp_path_factory.mktemp("lstm_checkpoint")
    write_made_imdb(folder / "imdb.pkl")
    mode = "jax" if "jax" in available_modes() else "c"
    settings = dict(ONE_SETTINGS, batch_size=16, dispFreq=100, validFreq=3, saveto="",
                    data_path=str(folder / "imdb.pkl"), mode=mode)  # saveto '' as --saveto ''

    def interrupt(record):
        os.kill(os.getpid(), signal.SIGINT)

    floatX, previous = engine.floatX(), engine.mode()  # the run sets them for the process
    first = lstm.train_lstm(**settings, checkpoint=folder / "checkpoint.npz",
                            callbacks=(interrupt,))
    assert first.result.stop_reason == "interrupted" and first.result.iterations == 3
    engine.set_floatX(floatX)
    engine.set_mode(previous)
    return folder / "checkpoint.npz", settings


def _crafted(path, to, change_meta=None, change_arrays=None):
    """A copy of the checkpoint ``path`` at ``to``, its meta JSON and arrays changed."""
    with numpy.load(path) as saved:
        arrays = {key: saved[key] for key in saved.files}
    meta = json.loads(str(arrays.pop("meta")))
    if change_meta is not None:
        meta = change_meta(meta) or meta
    if change_arrays is not None:
        change_arrays(arrays)
    with open(to, "wb") as file:
        numpy.savez(file, meta=numpy.array(json.dumps(meta)), **arrays)
    return to


def _set(*keys, value):
    def change(meta):
        target = meta["lstm_checkpoint"]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _drop(*keys):
    def change(meta):
        target = meta["lstm_checkpoint"]
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return change


CRAFTED_META = {
    "not a dict": lambda meta: {**meta, "lstm_checkpoint": [1, 2]},
    "no state": _drop("state"),
    "an extra key": _set("extra", value=1),
    "settings a list": _set("settings", value=[]),
    "iteration -5": _set("state", "iteration", value=-5),
    "iteration 10**18": _set("state", "iteration", value=10**18),
    "iteration a string": _set("state", "iteration", value="7"),
    "an extra state key": _set("state", "extra", value=0),
    "best_iter past the iteration": _set("state", "best_iter", value=3),
    "history a dict": _set("state", "history", value={}),
    "a validation a number": _set("state", "history", value=[3]),
    "a validation loss of 2": lambda meta: meta["lstm_checkpoint"]["state"]["history"][0]
    .update(validation_loss=2.0),
    "rng position 999": _set("rng", value=["MT19937", 999.0, 0.0, 0.0]),
    "rng of another generator": _set("rng", value=["PCG64", 0.0, 0.0, 0.0]),
    "epoch_started a string": _set("epoch_started", value="yes"),
}


def _zeros_for(key, shape):
    def change(arrays):
        arrays[key] = numpy.zeros(shape, dtype=arrays[key].dtype)
    return change


CRAFTED_ARRAYS = {
    "a parameter of another shape": _zeros_for("param/value/lstm_U", (8, 8)),
    "a parameter of another dtype": lambda arrays: arrays.update(
        {"param/value/U": arrays["param/value/U"].astype("float32")}),
    "a parameter missing": lambda arrays: arrays.pop("param/value/Wemb"),
    "costs of another length": _zeros_for("param/costs", (7,)),
    "rng keys of another length": _zeros_for("param/rng_keys", (5,)),
    "an unknown array": lambda arrays: arrays.update({"param/extra": numpy.zeros(2)}),
}


@pytest.mark.parametrize("case", sorted(CRAFTED_META) + sorted(CRAFTED_ARRAYS))
def test_a_crafted_checkpoint_is_refused_naming_the_file(lstm_checkpoint, tmp_path, case):
    from dltut.saving import ModelFileError

    path, settings = lstm_checkpoint
    crafted = _crafted(path, tmp_path / "crafted.npz", CRAFTED_META.get(case),
                       CRAFTED_ARRAYS.get(case))
    with pytest.raises(ModelFileError, match=re.escape(str(crafted))):
        lstm.train_lstm(**settings, resume=crafted)


def test_the_checkpoint_read_back_resumes(lstm_checkpoint, tmp_path, caplog):
    """The checker's rules fit what train_lstm writes: its checkpoint resumes (the second
    epoch)."""
    path, settings = lstm_checkpoint
    copy = _crafted(path, tmp_path / "copy.npz")
    with caplog.at_level(logging.INFO, logger="dltut"):
        result = lstm.train_lstm(**settings, resume=copy, checkpoint=copy)
    assert result.result.iterations == 6 and "... resuming from" in caplog.text


def test_a_fresh_run_does_not_replace_a_checkpoint(lstm_checkpoint, tmp_path):
    """Without --resume or --overwrite an existing checkpoint is refused before the data is
    read, the file as it was; with --overwrite it is replaced."""
    from hostile import assert_refused, run_dltut

    path, settings = lstm_checkpoint
    copy = _crafted(path, tmp_path / "copy.npz")
    before = copy.read_bytes()
    with pytest.raises(ValueError, match=r"copy.npz exists: resume it with --resume .*--overwrite"):
        lstm.train_lstm(**settings, checkpoint=copy)
    result = run_dltut(["run", "lstm", "--checkpoint", "copy.npz", "--data-path", "none.pkl"],
                       tmp_path)
    assert_refused(result, "copy.npz", "--resume", "--overwrite")
    assert copy.read_bytes() == before
    lstm.train_lstm(**dict(settings, max_epochs=1, validFreq=100), checkpoint=copy,
                    overwrite=True)
    assert copy.read_bytes() != before


def test_a_crafted_checkpoint_is_one_line_from_the_command(lstm_checkpoint, tmp_path):
    from hostile import assert_refused, run_dltut

    path, settings = lstm_checkpoint
    _crafted(path, tmp_path / "crafted.npz", CRAFTED_META["iteration 10**18"])
    flags = []
    for name in ("dim_proj", "n_words", "maxlen", "valid_batch_size", "validFreq", "max_epochs",
                 "test_size", "patience", "floatX", "batch_size", "dispFreq", "data_path",
                 "mode"):
        flags += [fitting.flag(name), str(settings[name])]
    result = run_dltut(["run", "lstm", *flags, "--saveto", "", "--resume", "crafted.npz"],
                       tmp_path)
    assert_refused(result, "crafted.npz", "iteration", str(10**18))


def test_output_places_are_checked_before_the_data(tmp_path):
    from dltut.atomic import OutputError

    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="--saveto .*file"):
        lstm.train_lstm(saveto=tmp_path / "file" / "model.npz", data_path=tmp_path / "none.pkl",
                        mode="c")
    with pytest.raises(OutputError, match="--checkpoint .* is a folder"):
        lstm.train_lstm(checkpoint=tmp_path, data_path=tmp_path / "none.pkl", mode="c")
    with pytest.raises(ValueError, match="--resume .*none.npz: no such checkpoint file"):
        lstm.train_lstm(resume=tmp_path / "none.npz", data_path=tmp_path / "none.pkl", mode="c")


def test_a_crafted_model_to_reload_is_refused_naming_the_file(tmp_path):
    """reload_model: each array's header is checked before its values are read (a shape of
    10**12 floats is not allocated)."""
    import io
    import zipfile

    from dltut.saving import ModelFileError

    write_made_imdb(tmp_path / "imdb.pkl")
    settings = dict(ONE_SETTINGS, batch_size=16, dispFreq=100, data_path=tmp_path / "imdb.pkl",
                    mode="jax" if "jax" in available_modes() else "c")
    params = lstm.init_params(dict(settings, encoder="lstm", ydim=2))

    def npz(path, **arrays):
        with zipfile.ZipFile(path, "w") as archive:
            for name, array in arrays.items():
                if isinstance(array, bytes):  # a member as it is
                    archive.writestr(f"{name}.npy", array)
                    continue
                buffer = io.BytesIO()
                numpy.save(buffer, array)
                archive.writestr(f"{name}.npy", buffer.getvalue())
        return path

    def header(shape):  # a .npy of float64 with no values
        buffer = io.BytesIO()
        numpy.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                         "shape": shape})
        return buffer.getvalue()

    cases = {
        "not a zip": (tmp_path / "text.npz", "not a readable model file"),
        "huge": (npz(tmp_path / "huge.npz", **dict(params, U=header((10**6, 10**6)))),
                 r"U has shape \(1000000, 1000000\)"),
        "strings": (npz(tmp_path / "strings.npz", **dict(params, b=numpy.array(["a", "b"]))),
                    "b holds <U1, not floats"),
        "missing": (npz(tmp_path / "missing.npz", **{k: v for k, v in params.items()
                                                     if k != "Wemb"}), "Wemb is not in"),
        "truncated": (npz(tmp_path / "truncated.npz", **dict(params, U=header((8, 2)))),
                      "not a readable model file"),
    }
    (tmp_path / "text.npz").write_text("hello")
    for case, (path, message) in cases.items():
        with pytest.raises(ModelFileError, match=f"{re.escape(str(path))}: .*{message}"):
            lstm.train_lstm(**settings, reload_model=path)


@pytest.mark.slow  # 12 s cold; test_resilience checks the same rule on the trainer's runs
def test_a_checkpoint_that_cannot_be_written_is_a_warning_and_training_goes_on(
        tmp_path, monkeypatch, caplog):
    """A full disk at every checkpoint write: one warning naming the file, the run goes to its
    end and its best model is written."""
    from conftest import checkpoint_warnings, disk_full_for

    write_made_imdb(tmp_path / "imdb.pkl")
    disk_full_for(monkeypatch, "ck.npz")
    with caplog.at_level(logging.WARNING, logger="dltut"):
        result = lstm.train_lstm(**dict(ONE_SETTINGS, batch_size=16, dispFreq=100, validFreq=3,
                                        saveto=str(tmp_path / "best.npz")),
                                 data_path=tmp_path / "imdb.pkl", mode="c",
                                 checkpoint=str(tmp_path / "ck.npz"))
    checkpoint_warnings(caplog, tmp_path / "ck.npz")
    assert result.result.iterations == 6 and (tmp_path / "best.npz").exists()
    assert not (tmp_path / "ck.npz").exists()
