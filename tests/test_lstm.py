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
folder holding ``made_imdb()``'s imdb.pkl (test_imdb.py). Its printed lines are ``ORIGINAL``.

The orthogonal blocks: ``numpy.linalg.svd`` of numpy 1.23.5 (theano-pymc's) and of numpy 2
(dltut's) return the same singular vectors up to the signs of some columns (LAPACK's
convention), so the weights differ by sign flips. ``ORIGINAL_SIGNS`` records the signs of the
first row of the original's ``lstm_W`` and ``lstm_U``; the comparison runs dltut from its own
draws with those columns flipped (through ``reload_model``, after all the tutorial's draws), and
then prints the original's numbers to the last digit or two.
"""

import json
import logging
import os
import re
import signal

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import engine
from dltut.data import DataError
from dltut.engine import T
from dltut.tutorials import imdb, lstm
from test_imdb import write_made_imdb

SETTINGS = dict(dim_proj=16, n_words=100, maxlen=30, batch_size=16, valid_batch_size=64,
                validFreq=5, dispFreq=2, saveFreq=7, max_epochs=4, test_size=50, patience=2)
ORIGINAL_SIGNS = {
    "lstm_W": "-++---+++++++----+--+--++--++-+--+-+++--+++++++--+-----+++----+-",
    "lstm_U": "+++-+++-+--+-----++++-+-++--+-+-+-+-++++-+-+-+---+-+--+--++--+++",
}
ORIGINAL = {
    ('adadelta', True, ()): """\
Epoch  0 Update  2 Cost  0.6931422523699929
Epoch  0 Update  4 Cost  0.6933456652204003
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  6 Cost  0.6932902214856801
Saving...
Epoch  0 Update  8 Cost  0.6935522708227528
Epoch  0 Update  10 Cost  0.6931304487942528
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
Epoch  0 Update  12 Cost  0.6920751684689919
Seen 184 samples
Epoch  1 Update  14 Cost  0.6949737892233411
Saving...
Train  0.4782608695652174 Valid  0.8 Test  0.56
Epoch  1 Update  16 Cost  0.6976963929551753
Epoch  1 Update  18 Cost  0.6921771440583908
Epoch  1 Update  20 Cost  0.6910977793931168
Train  0.4782608695652174 Valid  0.8 Test  0.56
Saving...
Epoch  1 Update  22 Cost  0.6868041670098437
Epoch  1 Update  24 Cost  0.6932580949727959
Seen 184 samples
Train  0.4782608695652174 Valid  0.8 Test  0.56
Early Stop!
Seen 16 samples
Train  0.5217391304347826 Valid  0.19999999999999996 Test  0.43999999999999995
""",
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
    (state,) = lstm._streams(f_pred).values()
    before = numpy.asarray(state.get_value())
    use_noise.set_value(lstm.numpy_floatX(0.0))
    expected = lstm.pred_error(f_pred, imdb.prepare_data, data, iterator)
    after_calls = numpy.asarray(state.get_value())
    assert not numpy.array_equal(after_calls, before) and 0.2 < expected < 0.8
    state.set_value(before)
    counter = lstm.ErrorCounter(lstm.build_predictor(tparams, options), imdb.prepare_data, state,
                                options["dim_proj"])
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


def test_padded_length_is_the_next_quarter_octave():
    got = {n: lstm.padded_length(n) for n in (1, 16, 17, 20, 21, 32, 33, 64, 65, 96, 97, 99, 100,
                                              128, 129, 2500)}
    assert got == {1: 16, 16: 16, 17: 20, 20: 20, 21: 24, 32: 32, 33: 40, 64: 64, 65: 80, 96: 96,
                   97: 112, 99: 112, 100: 112, 128: 128, 129: 160, 2500: 2560}
    for n in range(1, 3000):  # never shorter, at most a quarter longer (past the first 16)
        assert n <= lstm.padded_length(n) <= max(16, 1.25 * n)


@pytest.mark.skipif("jax" not in available_modes(), reason="JAX mode not available")
def test_a_padded_function_compiles_ahead_in_the_background(xla_compiles):
    """``prepare`` compiles the padded lengths to come in a thread (one PyTensor build per
    minibatch size); their first calls then only run, and give what an unpadded call gives."""
    with in_mode("jax"):
        x = T.matrix("x", dtype="int64")
        mask = T.matrix("mask", dtype=engine.floatX())
        weights = engine.shared(numpy.arange(1.0, 4.0, dtype=engine.floatX()), "weights")
        state, _ = engine.scan(lambda row, m, h: m * (h + T.cast(row, m.dtype)) + (1 - m) * h,
                               sequences=[x, mask],
                               outputs_info=T.zeros((x.shape[1],), dtype=engine.floatX()))
        f = lstm.function([x, mask], state[-1] * weights, name="f")
        f.prepare([((5, 3), (5, 3)), ((17, 3), (17, 3)), ((5, 3), (5, 3))])
        assert sorted(f.pending) == [((16, 3), (16, 3)), ((20, 3), (20, 3))]
        for future in f.pending.values():
            future.result()
        assert len(f.built) == 1 and xla_compiles() == 2
        rng = numpy.random.RandomState(0)
        for steps in (5, 17, 12, 33):
            values = rng.randint(0, 9, size=(steps, 3))
            lengths = rng.randint(1, steps + 1, size=3)
            m = (numpy.arange(steps)[:, None] < lengths).astype(engine.floatX())
            numpy.testing.assert_array_equal(f(values, m), (values * m).sum(axis=0) * [1, 2, 3])
            assert xla_compiles() == (0 if steps in (5, 17, 12) else 1), steps
        assert f.compiled == {((16, 3), (16, 3)), ((20, 3), (20, 3)), ((40, 3), (40, 3))}
        assert not f.pending and len(f.built) == 1


def test_get_minibatches_idx():
    batches = lstm.get_minibatches_idx(10, 4)
    assert isinstance(batches, list) and [i for i, _ in batches] == [0, 1, 2]
    assert [b.tolist() for _, b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    shuffled = lstm.get_minibatches_idx(10, 5, shuffle=True, rng=numpy.random.RandomState(1))
    expected = numpy.arange(10, dtype="int32")
    numpy.random.RandomState(1).shuffle(expected)
    assert [b.tolist() for _, b in shuffled] == [expected[:5].tolist(), expected[5:].tolist()]


def _original_init(data_path, settings):
    """dltut's initial parameters (the tutorial's draws after the validation split and the
    test_size selection) with the columns of the orthogonal blocks signed as the original's."""
    rng = numpy.random.RandomState(lstm.SEED)
    _, _, test = imdb.load_data(data_path, n_words=settings["n_words"], valid_portion=0.05,
                                maxlen=settings["maxlen"], rng=rng)
    rng.shuffle(numpy.arange(len(test[0])))
    params = lstm.init_params(dict(settings, encoder="lstm", ydim=2), rng)
    for name, signs in ORIGINAL_SIGNS.items():
        wanted = numpy.array([1.0 if s == "+" else -1.0 for s in signs])
        params[name] = params[name] * numpy.sign(params[name][0]) * wanted
    return params


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
    engine.set_floatX("float64")
    numpy.savez(tmp_path / "init.npz", **_original_init(data_path, SETTINGS))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dltut"):
        settings = dict(SETTINGS, **options.pop("settings", {}))
        result = lstm.train_lstm(**settings, **dict(extra), optimizer=optimizer,
                                 use_dropout=use_dropout, data_path=data_path,
                                 reload_model=tmp_path / "init.npz",
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
    with pytest.raises(ValueError, match="other settings.*patience"):
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
    then prints 'bad cost detected: ' and returns 1., 1., 1.

    The original (run as ORIGINAL's, with these settings and saveto='') printed ``Epoch  0
    Update  1 Cost  0.6931784949305962`` then ``bad cost detected:  inf``. dltut's
    f_grad_shared returns nan there, where a function of the same cost and gradients without
    f_grad_shared's updates returns inf (not looked into further: the weights have overflowed):
    the same stop at the same update, nan for inf."""
    write_made_imdb(tmp_path / "imdb.pkl")
    with caplog.at_level(logging.INFO, logger="dltut"):
        result = lstm.train_lstm(**dict(SETTINGS, dispFreq=1), optimizer="sgd", lrate=1e200,
                                 decay_c=0.01, use_dropout=False, saveto=None, mode="c",
                                 data_path=tmp_path / "imdb.pkl")
    assert tuple(result) == (1.0, 1.0, 1.0) and result.result is None
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
