"""fcn8: FCN-8 against the original and independent references.

* A narrow FCN-8 (a few filters a layer: the builder's ``widths``) against a NumPy forward pass
  written here from the layers' definitions (cross-correlations, 2x2 max-pooling, transposed
  convolutions as scatters, centre crops, softmax), its gradients against central differences of
  that NumPy loss, one Adam step against Adam's formula, its dropout masks against dltut.random's
  NumPy MRG (each stream's second call site), in each compile mode.
* The metrics against the original script's (tests/segm_original.json, "metrics") and NumPy.
* The iterators as train_fcn8 builds them against the original loader's batches ("loaders").
* The full-width builder against the original's parameters; its outputs, loss, two Adam steps
  and validation numbers, with dropout 0 and 0.5, against the original's ("fcn8", slow: ~11 GB
  and 2 minutes in float64); the whole training on the made polyps against the original's
  printed lines ("fcn8_train", slow).
* A narrow training run on the made polyps: the tutorial's lines, the test of the best model,
  the checkpoint; a resumed run equals an unbroken one.
"""

import json
import logging
import os
import zipfile

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import engine, random
from dltut import layers as L
from dltut.data import DataError
from dltut.engine import T
from dltut.tutorials import fcn8
from dltut.updates import adam
from segm_files import assert_batch_as_recorded, recorded_original

float64 = pytest.mark.usefixtures("floatX64")

# the compile modes, the default one in the fast suite (a mode compiles these graphs of frames
# padded to 226x228 and more for 10-40 s)
MODES = [mode if mode == engine.default_mode()[0] else pytest.param(mode, marks=pytest.mark.slow)
         for mode in available_modes()]
# VGG-16's layers with a few filters each
NARROW = ((2, 3), (3, 2), (2, 3, 2), (3, 2, 3), (2, 3, 2), (5, 4))
SEED = 1234


def narrow_network(input_var, dropout=0.0, n_classes=2, seed=SEED, layer=("probs",)):
    return fcn8.buildFCN8(3, input_var, n_classes=n_classes, void_labels=[2], trainable=True,
                          load_weights=False, pascal=True, layer=list(layer), dropout=dropout,
                          rng=numpy.random.RandomState(seed), widths=NARROW)


def made_batch(shape, seed=21):
    x = numpy.random.RandomState(seed).uniform(size=shape).astype(engine.floatX())
    y = numpy.random.RandomState(seed + 1).randint(0, 3, shape[0] * shape[2] * shape[3])
    return x, y.astype("int32")


# ----------------------------------------------------------------------------------------------
# NumPy references


def np_correlate(x, W, pad):
    """Each filter slid over the zero-padded images, not flipped (``flip_filters=False``)."""
    x = numpy.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    _, _, f_rows, f_cols = W.shape
    windows = numpy.lib.stride_tricks.sliding_window_view(x, (f_rows, f_cols), axis=(2, 3))
    return numpy.einsum("bchwuv,kcuv->bkhw", windows, W)


def np_transposed(y, W, stride):
    """Lasagne's transposed convolution (``flip_filters=False``, no crop): each input pixel adds
    the filters, reversed, times its values, at ``stride`` times its place."""
    _, _, f_rows, f_cols = W.shape
    rows, cols = (y.shape[2] - 1) * stride + f_rows, (y.shape[3] - 1) * stride + f_cols
    out = numpy.zeros((y.shape[0], W.shape[1], rows, cols))
    taps = W[:, :, ::-1, ::-1]
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            out[:, :, i * stride:i * stride + f_rows, j * stride:j * stride + f_cols] += \
                numpy.einsum("bk,kcuv->bcuv", y[:, :, i, j], taps)
    return out


def np_pool(x):
    rows, cols = x.shape[2] // 2, x.shape[3] // 2
    return x[:, :, :2 * rows, :2 * cols].reshape(x.shape[0], x.shape[1], rows, 2, cols, 2).max(
        axis=(3, 5))


def np_centre(x, rows, cols):
    top, left = (x.shape[2] - rows) // 2, (x.shape[3] - cols) // 2
    return x[:, :, top:top + rows, left:left + cols]


def relu(x):
    return numpy.maximum(x, 0)


def np_fcn8(x, values, masks=(None, None), retain=1.0, tape=None):
    """FCN-8's probabilities (one row per pixel) from the parameter ``values`` (by name), the
    dropout ``masks`` of fc6's and fc7's outputs (None: no dropout). ``tape``, a list, gets
    what ``np_fcn8_grads`` needs, layer by layer."""
    tape = [] if tape is None else tape

    def conv(h, name, pad=0, nonlinear=True):
        z = np_correlate(h, values[name + ".W"], pad) + values[name + ".b"][None, :, None, None]
        tape.append(("conv", name, h, pad, z if nonlinear else None))
        return relu(z) if nonlinear else z

    def transposed(h, name, stride):
        tape.append(("transposed", name, h, stride))
        return np_transposed(h, values[name + ".W"], stride) + values[name + ".b"][
            None, :, None, None]

    def centres(a, b, rows=None, cols=None):
        rows = min(a.shape[2], b.shape[2]) if rows is None else rows
        cols = min(a.shape[3], b.shape[3]) if cols is None else cols
        return np_centre(a, rows, cols), np_centre(b, rows, cols)

    h, pools = x, {}
    for block, widths in enumerate(NARROW[:-1], start=1):
        for k in range(1, len(widths) + 1):
            h = conv(h, f"conv{block}_{k}", 100 if (block, k) == (1, 1) else 1)
        tape.append(("pool", block, h))
        h = pools[block] = np_pool(h)
    for name, mask in (("fc6", masks[0]), ("fc7", masks[1])):
        h = conv(h, name)
        if mask is not None:
            h = h / retain * mask
    score_fr = conv(h, "score_fr")
    fused = sum(centres(transposed(score_fr, "score2", 2), conv(pools[4], "score_pool4")))
    final = sum(centres(transposed(fused, "score4", 2), conv(pools[3], "score_pool3")))
    score = np_centre(transposed(final, "upsample", 8), x.shape[2], x.shape[3])
    logits = score.transpose(0, 2, 3, 1).reshape(-1, score.shape[1])
    e = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _uncrop(grad, shape):
    """The gradient of a centre crop to ``grad``'s size from ``shape``: zeros around it."""
    out = numpy.zeros(shape)
    top, left = (shape[2] - grad.shape[2]) // 2, (shape[3] - grad.shape[3]) // 2
    out[:, :, top:top + grad.shape[2], left:left + grad.shape[3]] = grad
    return out


def np_fcn8_grads(x, y, values, void_labels):
    """The gradients of ``np_crossentropy(np_fcn8(x, values), y)`` (no dropout) by back-
    propagation written out, with Theano's conventions where the function has no derivative:
    a ReLU (``(z + |z|) / 2``) passes half at 0, and the max-pooling's gradient goes to every
    input equal to its window's max (the zeros around the frame make ties)."""
    tape = []
    p = np_fcn8(x, values, tape=tape)
    mask = ~numpy.isin(y, void_labels)
    rows = numpy.arange(len(y))
    target = numpy.where(mask, y, 0)
    dp = numpy.zeros_like(p)
    dp[rows, target] = -mask.astype(float) / p[rows, target] / mask.sum()  # (none near the clip)
    dlogits = p * (dp - (dp * p).sum(axis=1, keepdims=True))
    n_classes = p.shape[1]
    dscore = dlogits.reshape(x.shape[0], x.shape[2], x.shape[3], n_classes).transpose(0, 3, 1, 2)
    grads, by_name = {}, {entry[1]: entry for entry in tape}

    def conv_back(name, dout):
        _, _, h, pad, z = by_name[name]
        if z is not None:
            dout = dout * (0.5 * (1 + numpy.sign(z)))
        W = values[name + ".W"]
        hp = numpy.pad(h, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        windows = numpy.lib.stride_tricks.sliding_window_view(hp, W.shape[2:], axis=(2, 3))
        grads[name + ".W"] = numpy.einsum("bkhw,bchwuv->kcuv", dout, windows)
        grads[name + ".b"] = dout.sum(axis=(0, 2, 3))
        dhp = numpy.zeros_like(hp)
        for u in range(W.shape[2]):
            for v in range(W.shape[3]):
                dhp[:, :, u:u + dout.shape[2], v:v + dout.shape[3]] += numpy.einsum(
                    "bkhw,kc->bchw", dout, W[:, :, u, v])
        return dhp[:, :, pad:pad + h.shape[2], pad:pad + h.shape[3]]

    def transposed_back(name, dout):
        _, _, h, stride = by_name[name]
        W = values[name + ".W"]
        taps = W[:, :, ::-1, ::-1]
        grads[name + ".b"] = dout.sum(axis=(0, 2, 3))
        dh, dtaps = numpy.zeros_like(h), numpy.zeros_like(taps)
        rows, cols = h.shape[2], h.shape[3]
        for u in range(W.shape[2]):
            for v in range(W.shape[3]):
                part = dout[:, :, u:u + stride * (rows - 1) + 1:stride,
                            v:v + stride * (cols - 1) + 1:stride]
                dh += numpy.einsum("bcij,kc->bkij", part, taps[:, :, u, v])
                dtaps[:, :, u, v] = numpy.einsum("bcij,bkij->kc", part, h)
        grads[name + ".W"] = dtaps[:, :, ::-1, ::-1]
        return dh

    def pool_back(block, dout):
        h = by_name[block][2]
        pooled = np_pool(h)
        up = numpy.repeat(numpy.repeat(pooled, 2, axis=2), 2, axis=3)
        dup = numpy.repeat(numpy.repeat(dout, 2, axis=2), 2, axis=3)
        dh = numpy.zeros_like(h)
        rows, cols = up.shape[2], up.shape[3]
        dh[:, :, :rows, :cols] = dup * (h[:, :, :rows, :cols] == up)
        return dh

    shapes = {entry[1]: entry[2].shape for entry in tape if entry[0] == "transposed"}
    up_shape = (x.shape[0], n_classes, (shapes["upsample"][2] - 1) * 8 + 16,
                (shapes["upsample"][3] - 1) * 8 + 16)
    dfinal = transposed_back("upsample", _uncrop(dscore, up_shape))
    d_pools = {3: 0, 4: 0}
    score4 = (x.shape[0], n_classes, (shapes["score4"][2] - 1) * 2 + 4,
              (shapes["score4"][3] - 1) * 2 + 4)
    dfused = transposed_back("score4", _uncrop(dfinal, score4))
    side3 = by_name["score_pool3"][4].shape
    d_pools[3] = conv_back("score_pool3", _uncrop(dfinal, side3))
    score2 = (x.shape[0], n_classes, (shapes["score2"][2] - 1) * 2 + 4,
              (shapes["score2"][3] - 1) * 2 + 4)
    dh = transposed_back("score2", _uncrop(dfused, score2))
    side4 = by_name["score_pool4"][4].shape
    d_pools[4] = conv_back("score_pool4", _uncrop(dfused, side4))
    for name in ("score_fr", "fc7", "fc6"):
        dh = conv_back(name, dh)
    for block in range(len(NARROW) - 1, 0, -1):
        dh = pool_back(block, dh + d_pools.get(block, 0))
        for k in range(len(NARROW[block - 1]), 0, -1):
            dh = conv_back(f"conv{block}_{k}", dh)
    return grads


def np_crossentropy(p, y, void_labels):
    mask = ~numpy.isin(y, void_labels)
    p = numpy.clip(p, 1e-6, 1 - 1e-6)
    return -(numpy.log(p[numpy.arange(len(y)), numpy.where(mask, y, 0)]) * mask).sum() / mask.sum()


def np_accuracy(p, y, void_labels):
    mask = ~numpy.isin(y, void_labels)
    return ((p.argmax(axis=1) == y) * mask).sum() / mask.sum()


def np_jaccard(p, y, n_classes):
    pred = p.argmax(axis=1) if p.ndim == 2 else p
    tp = [((pred == c) & (y == c)).sum() for c in range(n_classes)]
    union = [(((pred == c) & numpy.isin(y, range(n_classes))) | (y == c)).sum()
             for c in range(n_classes)]
    return numpy.array([tp, union], dtype=float)


def param_values(layer):
    return {param.name: param.get_value() for param in L.get_all_params(layer)}


# ----------------------------------------------------------------------------------------------
# The network


def test_layers_and_parameters_in_lasagnes_order():
    x = T.tensor4("x")
    (probs,) = narrow_network(x)
    layers = L.get_all_layers(probs)
    recorded = recorded_original("fcn8", "layers")
    assert [type(layer).__name__ for layer in layers] == [name for name, _ in recorded]
    # the input of the crop comes first (the merge's first input), as Lasagne's order has it
    assert [layer.name for layer in layers[:3]] == ["input_tmp", "input", "conv1_1"]
    names = [param.name for param in L.get_all_params(probs)]
    assert names[:4] == ["conv1_1.W", "conv1_1.b", "conv1_2.W", "conv1_2.b"]
    assert len(names) == len(set(names)) == 2 * (sum(map(len, NARROW)) + 6)
    assert L.get_all_params(probs, trainable=True) == L.get_all_params(probs)
    assert L.get_all_params(probs, regularizable=True) == [p for p in L.get_all_params(probs)
                                                           if p.name.endswith(".W")]


def test_weights_are_drawn_in_lasagnes_order():
    """Each layer's W with Glorot's uniform bound from the same RandomState, in building order,
    the dropout layers' seeds in their turn; biases zero."""
    x = T.tensor4("x")
    (probs,) = narrow_network(x, dropout=0.5)
    values = param_values(probs)
    rng = numpy.random.RandomState(SEED)

    def glorot(shape):
        bound = numpy.sqrt(6.0 / ((shape[0] + shape[1]) * numpy.prod(shape[2:])))
        return rng.uniform(-bound, bound, size=shape)

    channels, seeds = 3, {}
    for block, widths in enumerate(NARROW[:-1], start=1):
        for k, width in enumerate(widths, start=1):
            numpy.testing.assert_array_equal(values[f"conv{block}_{k}.W"],
                                             glorot((width, channels, 3, 3)).astype(
                                                 engine.floatX()))
            channels = width
    for name, size in (("fc6", 7), ("fc7", 1)):
        width = NARROW[-1][name == "fc7"]
        numpy.testing.assert_array_equal(values[name + ".W"], glorot(
            (width, channels, size, size)).astype(engine.floatX()))
        channels = width
        seeds[name] = rng.randint(1, 2147462579)
    expected = [("score_fr", (2, channels, 1, 1)), ("score2", (2, 2, 4, 4)),
                ("score_pool4", (2, NARROW[3][-1], 1, 1)), ("score4", (2, 2, 4, 4)),
                ("score_pool3", (2, NARROW[2][-1], 1, 1)), ("upsample", (2, 2, 16, 16))]
    for name, shape in expected:
        numpy.testing.assert_array_equal(values[name + ".W"], glorot(shape).astype(
            engine.floatX()))
    assert all(not value.any() for name, value in values.items() if name.endswith(".b"))
    dropouts = [layer for layer in L.get_all_layers(probs) if isinstance(layer, L.DropoutLayer)]
    assert [layer._srng.default_instance_seed for layer in dropouts] == [seeds["fc6"],
                                                                        seeds["fc7"]]


@float64
def test_full_width_parameters_are_the_originals():
    """VGG-16's widths, drawn from RandomState(1234) as train_fcn8's Lasagne drew them: every
    parameter's shape, sums and first values, and the dropout streams' seeds."""
    recorded = recorded_original("fcn8", "command_line")
    x = T.tensor4("x")
    (probs,) = fcn8.buildFCN8(3, x, n_classes=2, void_labels=[2], trainable=True,
                              load_weights=False, pascal=True, layer=["probs"],
                              rng=numpy.random.RandomState(recorded_original("fcn8",
                                                                             "rng_seed")))
    params = L.get_all_params(probs)
    assert len(params) == len(recorded["initial_params"])
    for param, record in zip(params, recorded["initial_params"]):
        value = param.get_value()
        assert list(value.shape) == record["shape"], param.name
        assert value.ravel()[:3].tolist() == record["first"] and value.ravel()[-1] == \
            record["last"], param.name
        for key, got in (("sum", value.sum()), ("abs_sum", abs(value).sum()),
                         ("sq_sum", (value ** 2).sum())):
            assert got == pytest.approx(record[key], rel=1e-12, abs=1e-12), (param.name, key)
    dropouts = [layer for layer in L.get_all_layers(probs) if isinstance(layer, L.DropoutLayer)]
    assert [layer._srng.default_instance_seed for layer in dropouts] == \
        recorded["dropout_stream_seeds"]


@float64
@pytest.mark.parametrize("mode", MODES)
def test_dropout_masks_are_each_streams_second_call_site(mode):
    """Two training steps' outputs with dropout 0.5: the masks of fc6's and fc7's outputs are the
    MRG streams' draws at their second call site (the tutorial's builder took the first), 15360
    streams each (Lasagne's symbolic shape), a new mask at each call."""
    with in_mode(mode):
        x = T.tensor4("x")
        (probs,) = narrow_network(x, dropout=0.5)
        values = param_values(probs)
        shape = (2, 3, 26, 28)
        xv, _ = made_batch(shape)
        out = fcn8.get_fcn8_output([probs], x, shape[2:], batch=shape[0])[0]
        step = engine.function([x], [out], shapes_at_run_time=True)
        got = [step(xv)[0] for _ in range(2)]
    dropouts = [layer for layer in L.get_all_layers(probs) if isinstance(layer, L.DropoutLayer)]
    sizes = [(2, NARROW[-1][0], 1, 1), (2, NARROW[-1][1], 1, 1)]  # fc6, fc7: 1x1
    masks = []
    for layer, size in zip(dropouts, sizes):
        streams = random.NumpyStreams(layer._srng.default_instance_seed)
        streams.uniform((1,), nstreams=random.MAX_STREAMS)  # the first call site, skipped
        masks.append(streams.binomial(size, p=0.5, dtype="float64", floatX="float64",
                                      nstreams=random.MAX_STREAMS, draws=2))
    for k in range(2):
        numpy.testing.assert_allclose(got[k], np_fcn8(xv, values, (masks[0][k], masks[1][k]),
                                                      0.5), rtol=1e-12, atol=1e-15)
    assert not numpy.allclose(got[0], got[1])


@float64
@pytest.mark.parametrize("mode", MODES)
def test_outputs_loss_gradients_and_one_adam_step_match_numpy(mode):
    """A narrow FCN-8 (dropout 0, biases moved off 0) compiled as train_fn: its training and
    evaluation outputs, the probabilities as frames again (probs_dimshuffle), the script's loss
    (void pixels left out) and its gradients against NumPy's (``np_fcn8``, ``np_fcn8_grads``);
    the step against Adam's first, :math:`\\theta - \\eta \\sqrt{1 - \\beta_2} g /
    (\\sqrt{1 - \\beta_2} |g| + \\epsilon)`."""
    pick = numpy.random.RandomState(3)
    with in_mode(mode):
        x, t = T.tensor4("x"), T.ivector("t")
        probs, frames = narrow_network(x, layer=("probs", "probs_dimshuffle"))
        for param in L.get_all_params(probs, regularizable=False):  # the biases
            param.set_value(pick.normal(0, 0.05, param.get_value().shape))
        shape = (2, 3, 26, 30)
        xv, yv = made_batch(shape)
        prediction, as_frames = fcn8.get_fcn8_output([probs, frames], x, shape[2:],
                                                     batch=shape[0])
        (evaluation,) = fcn8.get_fcn8_output([probs], x, shape[2:], deterministic=True)
        loss = fcn8.crossentropy_metric(prediction, t, [2])
        params = L.get_all_params(probs, trainable=True)
        values = param_values(probs)
        # the outputs are computed before the updates: at the values above
        train_fn = engine.function(
            [x, t], [prediction, evaluation, as_frames, loss, *engine.grad(loss, params)],
            updates=adam(loss, params, learning_rate=0.01), shapes_at_run_time=True)
        got, got_evaluation, got_frames, cost, *grads = train_fn(xv, yv)
    expected = np_fcn8(xv, values)
    numpy.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    numpy.testing.assert_allclose(got_evaluation, expected, rtol=1e-12, atol=1e-15)
    numpy.testing.assert_array_equal(
        got_frames, got.reshape(shape[0], shape[2], shape[3], 2).transpose(0, 3, 1, 2))
    assert cost == pytest.approx(np_crossentropy(expected, yv, [2]), rel=1e-12)
    expected_grads = np_fcn8_grads(xv, yv, values, [2])
    for param, grad in zip(params, grads):
        numpy.testing.assert_allclose(grad, expected_grads[param.name], rtol=1e-9,
                                      atol=1e-12 * abs(expected_grads[param.name]).max(),
                                      err_msg=param.name)
    root = numpy.sqrt(1 - 0.999)
    for param, grad in zip(params, grads):
        step = values[param.name] - 0.01 * root * grad / (root * abs(grad) + 1e-8)
        numpy.testing.assert_allclose(param.get_value(), step, rtol=1e-10, atol=1e-14)


def test_build_settings_as_the_tutorials():
    """freezeParameters freezes only the layer given ('probs', which has no parameters: as in
    the tutorial, trainable=False trains everything); load_weights divides the last upsampling by
    the temperature; unknown layers and bad sizes are refused."""
    x = T.tensor4("x")
    (frozen,) = fcn8.buildFCN8(3, x, n_classes=2, trainable=False, load_weights=False,
                               layer=["probs"], rng=numpy.random.RandomState(1), widths=NARROW)
    assert L.get_all_params(frozen, trainable=True) == L.get_all_params(frozen)
    fcn8.freezeParameters(frozen, single=False)
    assert L.get_all_params(frozen, trainable=True) == []
    plain, upsample = fcn8.buildFCN8(3, x, n_classes=2, load_weights=False,
                                     layer=["probs", "upsample"],
                                     rng=numpy.random.RandomState(1), widths=NARROW)
    hot, hot_upsample = fcn8.buildFCN8(3, x, n_classes=2, temperature=4.0,
                                       layer=["probs", "upsample"],
                                       rng=numpy.random.RandomState(1), widths=NARROW)
    numpy.testing.assert_array_equal(hot_upsample.W.get_value(), upsample.W.get_value() / 4.0)
    assert hot.output_shape == (None, 2)
    with pytest.raises(ValueError, match="'fc8': not a layer of FCN-8"):
        fcn8.buildFCN8(3, x, n_classes=2, layer=["fc8"], widths=NARROW)
    with pytest.raises(ValueError, match="dropout must be in"):
        fcn8.buildFCN8(3, x, dropout=1.0, widths=NARROW)
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        fcn8.get_fcn8_output([plain], x, (0, 4))
    with pytest.raises(ValueError, match="frames of 25x40: FCN-8 reads frames of 26x26 or more"):
        fcn8.get_fcn8_output([plain], x, (25, 40))
    with pytest.raises(ValueError, match="5 blocks of convolutions"):
        fcn8.buildFCN8(3, x, widths=NARROW[1:])


# ----------------------------------------------------------------------------------------------
# Weights from a file, read as hostile


def _savez(path, arrays, **kwargs):
    numpy.savez(path, *arrays, **kwargs)
    return path


def test_path_weights_reads_the_scripts_npz(tmp_path):
    """An .npz of arr_0 ... as train_fcn8.py saves (numpy.savez(*get_all_param_values)) is read
    into the network, then the temperature applied."""
    x = T.tensor4("x")
    (source,) = narrow_network(x, seed=5)
    path = _savez(tmp_path / "best.npz", [p.get_value() for p in L.get_all_params(source)])
    probs, upsample = fcn8.buildFCN8(3, x, path_weights=path, n_classes=2, temperature=2.0,
                                     layer=["probs", "upsample"], widths=NARROW)
    for got, want in zip(L.get_all_params(probs), L.get_all_params(source)):
        expected = want.get_value() / (2.0 if got is upsample.W or got is upsample.b else 1.0)
        numpy.testing.assert_array_equal(got.get_value(), expected)
    unread = fcn8.buildFCN8(3, x, path_weights=tmp_path / "missing.npz", n_classes=2,
                            load_weights=False, widths=NARROW)  # not asked to load: not read
    assert unread


@pytest.mark.parametrize("case, words", [
    ("missing", "no such file"),
    ("not_zip", "not a readable .npz"),
    ("names", "expected 42: arr_0"),
    ("shape", "arr_0 is float64 of shape (2, 3, 3, 4)"),
    ("ints", "arr_0 is int64"),
    ("objects", "arr_0 is object"),
    ("truncated", "not a readable .npz"),
])
def test_path_weights_refuses_other_files(tmp_path, case, words):
    x = T.tensor4("x")
    (source,) = narrow_network(x)
    values = [p.get_value().astype("float64") for p in L.get_all_params(source)]
    path = tmp_path / "weights.npz"
    if case == "not_zip":
        path.write_bytes(b"\x93NUMPY not a zip")
    elif case == "names":
        _savez(path, values[:-1])
    elif case == "shape":
        _savez(path, [numpy.zeros((2, 3, 3, 4))] + values[1:])
    elif case == "ints":
        _savez(path, [values[0].astype("int64")] + values[1:])
    elif case == "objects":
        _savez(path, [numpy.array([{"a": 1}] * 54, dtype=object).reshape(values[0].shape)]
               + values[1:])
    elif case == "truncated":
        _savez(path, values)
        path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
        fcn8.buildFCN8(3, x, path_weights=path, n_classes=2, widths=NARROW)


# ----------------------------------------------------------------------------------------------
# Metrics


@float64
def test_metrics_are_the_scripts():
    """crossentropy_metric, accuracy_metric and jaccard_metric on the recorded made pair, with
    void label 2 and without, against the original script's numbers and NumPy."""
    recorded = recorded_original("metrics")
    p, t = T.matrix("p"), T.ivector("t")
    for pred, target, void, n_classes, key, suffix in (
            ("pred_2_classes", "target_void_2", [2], 2, "void_2", "2_classes"),
            ("pred_3_classes", "target_no_void", [], 3, "no_void", "3_classes_no_void")):
        pv, tv = numpy.array(recorded[pred]), numpy.array(recorded[target], dtype="int32")
        ce, acc, jac = engine.function([p, t], [fcn8.crossentropy_metric(p, t, void),
                                                fcn8.accuracy_metric(p, t, void),
                                                fcn8.jaccard_metric(p, t, n_classes)])(pv, tv)
        original = recorded["train_fcn8"]
        assert ce == pytest.approx(original["crossentropy_" + key], rel=1e-12)
        assert acc == pytest.approx(original["accuracy_" + key], rel=1e-12)
        assert jac.tolist() == original["jaccard_num_denom_" + suffix]
        assert ce == pytest.approx(np_crossentropy(pv, tv, void), rel=1e-12)
        assert acc == pytest.approx(np_accuracy(pv, tv, void), rel=1e-12)
        numpy.testing.assert_array_equal(jac, np_jaccard(pv, tv, n_classes))


def test_crossentropy_clips_the_probabilities():
    p, t = T.matrix("p"), T.ivector("t")
    ce = engine.function([p, t], [fcn8.crossentropy_metric(p, t, [2])])
    pv = numpy.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], dtype=engine.floatX())
    (got,) = ce(pv, numpy.array([0, 0, 2], dtype="int32"))
    assert got == pytest.approx(-(numpy.log(1e-6) + numpy.log(1 - 1e-6)) / 2, rel=1e-5)


# ----------------------------------------------------------------------------------------------
# The data as train_fcn8 reads it


def test_iterators_give_the_original_loaders_batches():
    """train_fcn8's iterators (one generator for every set's augmentation draws) give the
    original Polyps912Dataset's batches: the training set with FCN-8's augmentation (a 32x48
    crop, horizontal_flip True, fill_mode 'constant') after numpy.random.seed(5), each set in
    the folder's recorded listing order; the validation and test frames whole."""
    recorded = recorded_original("loaders", "polyps912")
    augmented = recorded["train_augmented"]
    order = {which: recorded[name]["filenames_property"]
             for which, name in (("train", "train"), ("val", "valid"), ("test", "test"))}
    rng = numpy.random.RandomState(augmented["np_random_seed"])
    iterators = fcn8.polyps_iterators((augmented["batch_size"], 1, 1),
                                      augmented["data_augm_kwargs"], rng, order, toy=True)
    for epoch in augmented["epochs"]:
        for batch in epoch:
            assert_batch_as_recorded(iterators[0].next(), batch)
    for iterator, name in zip(iterators[1:], ("valid", "test")):
        for batch in recorded[name]["epochs"][0]:
            assert_batch_as_recorded(iterator.next(), batch)


def test_validation_frames_draw_from_the_augmentation_generator():
    """The original's random_transform draws the two flips' numbers for every frame, the
    validation's too: the generator moves by two draws a validation frame."""
    rng = numpy.random.RandomState(7)
    _, val_iter, _ = fcn8.polyps_iterators((1, 1, 1), {}, rng, order="sorted", toy=True)
    val_iter.next()
    reference = numpy.random.RandomState(7)
    reference.random_sample(2)
    assert rng.random_sample() == reference.random_sample()


# ----------------------------------------------------------------------------------------------
# Training on the made polyps (narrow)

# (a learning rate at which the third epoch is a new best: the test then runs on it)
TOY_SETTINGS = {"num_epochs": 3, "batch_size": (1, 1, 1), "crop_size": (32, 48), "toy": True,
                "widths": NARROW, "learning_rate": 0.003, "floatX": "float64"}


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    from conftest import engine_settings_kept

    folder = tmp_path_factory.mktemp("fcn8")
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("dltut.tutorials.fcn8")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        with engine_settings_kept():
            result = fcn8.train_fcn8(**TOY_SETTINGS, checkpoint=str(folder / "run.npz"),
                                     out=str(folder / "best.npz"))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return result, records, folder


def test_toy_run_prints_the_tutorials_lines(toy_run):
    result, lines, _ = toy_run
    epochs = [line for line in lines if line.startswith("EPOCH")]
    assert [line.split(":")[0] for line in epochs] == ["EPOCH 0", "EPOCH 1", "EPOCH 2"]
    for record, line in zip(result.history, epochs):
        s = record.scores
        assert line == ("EPOCH %i: Avg epoch training cost train %f, cost val %f, acc val %f, "
                        "jacc val class 0 %f, jacc val class 1 %f, jacc val %f"
                        % (record.epoch - 1, s["train_cost"], s["valid_cost"],
                           s["valid_accuracy"], *s["valid_jaccard_per_class"],
                           s["valid_jaccard"]))
        assert s["valid_jaccard"] == pytest.approx(numpy.mean(s["valid_jaccard_per_class"]))
    assert lines[:3] == ["Batch. train: 5, val 3, test 3", "Nb of classes: 2",
                         "Nb. of input channels: 3"]
    (final,) = [line for line in lines if line.startswith("FINAL MODEL")]
    t = result.test_scores
    assert final == ("FINAL MODEL: err test % f, acc test %f, jacc test class 0 % f, jacc test "
                     "class 1 %f, jacc test %f" % (t["cost"], t["accuracy"],
                                                   *t["jaccard_per_class"], t["jaccard"]))
    assert result.test_score == pytest.approx(1 - t["accuracy"])
    assert result.stop_reason == "n_epochs" and len(result.costs) == 15  # 5 batches an epoch


@float64
def test_toy_run_keeps_the_best_model(toy_run):
    """The best epoch's values (from the third on) are kept and written: the network's, Adam's
    and the dropout streams' states (int32); ``result.model.predict`` is that network's: its
    masks of the validation frames give the best epoch's pixel accuracy (the mean of the
    frames', void pixels left out)."""
    from dltut import saving
    from dltut.tutorials.polyps912 import Polyps912Dataset

    result, _, folder = toy_run
    assert [record.new_best for record in result.history] == [False, False, True]
    saved = saving.load_model(folder / "best.npz")
    assert saved.arch == {"model": "fcn8", "n_classes": 2, "nb_in_channels": 3,
                          "widths": [list(block) for block in NARROW]}
    assert "fc6_dropout_rstate_0" in saved.params and "adam_t" in saved.params
    assert saved.params["fc6_dropout_rstate_0"].dtype == numpy.int32
    names = [param.name for param in result.model.params]
    for name, value in zip(names, result.best_params):
        numpy.testing.assert_array_equal(saved.params[name], value)
    assert saving.load_model(folder / "run.npz").info["iteration"] == 14
    frames, labels, _ = Polyps912Dataset("val", toy=True, order="sorted").arrays()
    predicted = result.model.predict(frames)
    assert predicted.shape == labels.shape
    accuracy = numpy.mean([np_accuracy(numpy.eye(2)[p.ravel()], y.ravel(), [2])
                           for p, y in zip(predicted, labels)])
    assert accuracy == pytest.approx(result.history[-1].scores["valid_accuracy"], rel=1e-12)


@pytest.mark.slow
def test_resumed_run_equals_an_unbroken_one(toy_run, tmp_path):
    """Stopped after its first epoch (the checkpoint holds the network, Adam's moments and the
    dropout streams' states), resumed for the other two: the same costs, validations and test
    as the unbroken run (the iterators replay their batches, in their order: the augmentation's
    generator is shared)."""
    unbroken, _, _ = toy_run
    checkpoint = str(tmp_path / "run.npz")
    fcn8.train_fcn8(**dict(TOY_SETTINGS, num_epochs=1), checkpoint=checkpoint)
    resumed = fcn8.train_fcn8(**TOY_SETTINGS, checkpoint=checkpoint, resume=checkpoint)
    assert resumed.costs.tolist() == unbroken.costs.tolist()
    assert [r.scores for r in resumed.history] == [r.scores for r in unbroken.history]
    assert resumed.test_scores == unbroken.test_scores
    for kept, again in zip(unbroken.model.params, resumed.model.params):
        numpy.testing.assert_array_equal(kept.get_value(), again.get_value())


def test_train_settings_are_checked_before_anything_is_read(tmp_path):
    for settings, words in (({"crop_size": (32,)}, "crop_size must be"),
                            ({"batch_size": (1, 1)}, "batch_size must be"),
                            ({"learning_rate": 0.0}, "learning_rate must be positive"),
                            ({"data_augmentation": {"crop_size": 3}}, "give the crop as"),
                            ({"data_augmentation": {"zoom": 3}}, "unknown data augmentation"),
                            ({"seed": -1}, "seed must be")):
        with pytest.raises(ValueError, match=words):
            fcn8.train_fcn8(**settings, data_path=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="Google Drive"):
        fcn8.train_fcn8(data_path=str(tmp_path / "nowhere"))


@pytest.mark.parametrize("mode, floatX, fixes", [
    ("jax", "float64", ["--floatX float32 (half as much)"]),
    ("c", "float32", []),
])
def test_a_run_the_machine_lacks_the_memory_for_is_refused_before_it_compiles(
        monkeypatch, mode, floatX, fixes):
    """The need is the parameters' bytes times what a training step holds per byte in the mode
    (fitting._MEMORY_PER_PARAMETER_BYTE); a machine with less available is told so, and what
    needs less, before the updates and functions are built."""
    from dltut import fitting

    if mode not in available_modes():
        pytest.skip(f"mode {mode} is not available here")
    widths = ((2, 3), (3, 2), (2, 3, 2), (3, 2, 3), (2, 3, 2), (5, 4))
    compiled = []
    monkeypatch.setattr(engine, "function", lambda *a, **k: compiled.append(a))
    monkeypatch.setattr(fitting, "_available_bytes", lambda: 1000)
    with pytest.raises(fitting.NotEnoughMemory) as refused:
        fcn8.train_fcn8(toy=True, num_epochs=1, batch_size=(1, 1, 1), crop_size=(32, 48),
                        widths=widths, mode=mode, floatX=floatX)
    words = str(refused.value)
    assert words.startswith(f"FCN-8: 0.0 GiB of parameters ({floatX}) need about 0 GiB of "
                            f"memory to train in mode {mode}, and 0 GiB are available: use a "
                            "machine with more memory")
    assert all(fix in words for fix in fixes) and words.count(", or ") == len(fixes)
    assert compiled == []
    weights = [engine.shared(numpy.zeros(2 ** 24), "w")]  # 1/8 GiB in float64
    monkeypatch.setattr(fitting, "_available_bytes", lambda: 2 ** 30)
    with in_mode(mode), pytest.raises(fitting.NotEnoughMemory,
                                      match=f"need about {'3' if mode == 'jax' else '2'} GiB"):
        fitting.check_memory(weights, "a model")
    monkeypatch.setattr(fitting, "_available_bytes", lambda: 4 * 2 ** 30)
    with in_mode(mode):
        fitting.check_memory(weights, "a model")  # 3.4 GiB in JAX mode, 1.75 in C mode: fits
    monkeypatch.setattr(fitting, "_available_bytes", lambda: None)  # unknown: no check
    fitting.check_memory(weights, "a model")


@pytest.mark.parametrize("flags, words", [
    (["--toy", "--crop-size", "20", "30"], ["crop_size (20, 30)", "26x26 or more"]),
    (["--toy", "--early-stop-class", "2"], ["early_stop_class 2", "0 to 1"]),
    (["--toy", "--batch-size", "0", "1", "1"], ["--batch-size"]),
    (["--data-path", "nowhere"], ["nowhere", "Google Drive", "polyps_split7.zip"]),
])
def test_the_command_line_refuses_bad_settings_in_one_line(tmp_path, flags, words):
    """Before anything is compiled: one line on stderr, exit status 2."""
    from hostile import assert_refused, run_dltut

    assert_refused(run_dltut(["run", "fcn8", *flags], tmp_path), *words)


# ----------------------------------------------------------------------------------------------
# The original's numbers at full width (slow: ~11 GB of memory in float64)


def array_summary(a, picks=8):
    """segm_original.py's summary of an array."""
    a = numpy.asarray(a, dtype=numpy.float64)
    flat = a.ravel()
    idx = sorted(set(int(round(t)) for t in numpy.linspace(0, flat.size - 1, picks)))
    return {"sum": float(flat.sum()), "abs_sum": float(numpy.abs(flat).sum()),
            "sq_sum": float((flat * flat).sum()),
            "signed_sum_mod13": float((flat * (numpy.arange(flat.size) % 13 - 6)).sum()),
            "values_at": {str(i): float(flat[i]) for i in idx},
            "column_sums": a.sum(axis=0).tolist()}


def assert_summary(got, recorded, rel):
    for key in ("sum", "abs_sum", "sq_sum", "signed_sum_mod13"):
        assert got[key] == pytest.approx(recorded[key], rel=rel), key
    for index, value in recorded["values_at"].items():
        assert got["values_at"][index] == pytest.approx(value, rel=rel), index
    assert got["column_sums"] == pytest.approx(recorded["column_sums"], rel=rel)


def run_protocol(dropout, recorded):
    """segm_original.py's MODEL_PROTOCOL on dltut's FCN-8: built from RandomState(1234), the
    script's loss and Adam (learning rate 1e-4), its validation function; outputs at the initial
    parameters, two training steps, outputs after them. The look at the training output leaves
    the dropout streams where they were (Theano's no_default_updates)."""
    x = numpy.random.RandomState(recorded["input"]["seed"]).uniform(
        size=recorded["input"]["shape"])
    y = numpy.random.RandomState(recorded["targets"]["seed"]).randint(
        0, recorded["targets"]["values"], recorded["targets"]["n"]).astype("int32")
    size = tuple(recorded["input"]["shape"][2:])
    input_var, target_var = T.tensor4("input_var"), T.ivector("target_var")
    (probs,) = fcn8.buildFCN8(3, input_var, n_classes=2, void_labels=[2], trainable=True,
                              load_weights=False, pascal=True, layer=["probs"], dropout=dropout,
                              rng=numpy.random.RandomState(recorded["rng_seed"]))
    prediction = fcn8.get_fcn8_output([probs], input_var, size)[0]
    loss = fcn8.crossentropy_metric(prediction, target_var, [2])
    params = L.get_all_params(probs, trainable=True)
    train_fn = engine.function([input_var, target_var], [loss],
                               updates=adam(loss, params, learning_rate=0.0001),
                               shapes_at_run_time=True)
    test_prediction = fcn8.get_fcn8_output([probs], input_var, size, deterministic=True)[0]
    val_fn = engine.function([input_var, target_var], [
        fcn8.crossentropy_metric(test_prediction, target_var, [2]),
        fcn8.accuracy_metric(test_prediction, target_var, [2]),
        fcn8.jaccard_metric(test_prediction, target_var, 2)], shapes_at_run_time=True)
    look = engine.function([input_var, target_var], [prediction, loss], shapes_at_run_time=True)
    look_det = engine.function([input_var], [test_prediction], shapes_at_run_time=True)
    streams = [state for state, _ in random.default_updates([prediction])]

    def look_train():
        kept = [state.get_value() for state in streams]
        out = look(x, y)
        for state, value in zip(streams, kept):
            state.set_value(value)
        return out

    def valid():
        v_loss, v_acc, v_jacc = val_fn(x, y)
        return {"loss": float(v_loss), "acc": float(v_acc),
                "jacc_num_denom": numpy.asarray(v_jacc).tolist()}

    got = {"output_deterministic_initial": array_summary(look_det(x)[0]),
           "valid_fn_initial": valid()}
    out, got["loss_train_initial"] = look_train()
    got["output_train_initial"] = array_summary(out)
    got["train_fn_losses"] = [float(train_fn(x, y)[0]) for _ in range(2)]
    out, got["loss_train_after_2_steps"] = look_train()
    got["output_train_after_2_steps"] = array_summary(out)
    got["output_deterministic_after_2_steps"] = array_summary(look_det(x)[0])
    got["valid_fn_after_2_steps"] = valid()
    got["params_after_2_steps"] = [param.get_value() for param in L.get_all_params(probs)]
    return got


@pytest.fixture
def much_memory():
    """``need(gib, what)``: wait until no other test of this machine holds much memory (a lock
    file shared by the test processes: CI runs the theano suite beside PyTensor's), then skip
    unless ``gib`` GiB are available; the lock is held to the test's end."""
    import fcntl
    import tempfile

    held = []

    def need(gib, what):
        lock = open(os.path.join(tempfile.gettempdir(), "dltut-tests-much-memory.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        held.append(lock)
        from dltut import fitting

        available = fitting._available_bytes()
        if available is not None and available < gib * 2 ** 30:
            pytest.skip(f"{available / 2 ** 30:.0f} GiB of memory available, {what} needs about "
                        f"{gib}")

    yield need
    for lock in held:
        lock.close()  # (closing releases the lock)


@pytest.mark.slow
@float64
@pytest.mark.parametrize("label", ["command_line_dropout_0", "command_line"])
@pytest.mark.parametrize("mode", [m for m in available_modes() if m != "numba"])
def test_full_width_steps_are_the_originals(mode, label, much_memory):
    """The original buildFCN8 (VGG-16's widths, on a made 1x3x48x64 frame) and train_fcn8's
    loss, Adam and validation function, with dropout 0 then 0.5 (the masks of its second call
    sites), in float64: outputs, losses, validation numbers and every parameter after two steps
    against the original's, to 1e-12 (measured in C mode: 2e-15 for the outputs, 2e-13 for the
    parameters' sums). C mode needs about 11 GB of memory; JAX mode in float64 more than 22."""
    recorded = recorded_original("fcn8")
    much_memory(24 if mode == "jax" else 12,
                f"FCN-8 at VGG-16's width in float64 in mode {mode}")
    reference = recorded[label]
    with in_mode(mode):
        got = run_protocol(0.5 if label == "command_line" else 0.0, recorded)
    for key in ("output_deterministic_initial", "output_train_initial",
                "output_train_after_2_steps", "output_deterministic_after_2_steps"):
        assert_summary(got[key], reference[key], rel=1e-12)
    for key in ("loss_train_initial", "loss_train_after_2_steps"):
        assert got[key] == pytest.approx(reference[key], rel=1e-12), key
    assert got["train_fn_losses"] == pytest.approx(reference["train_fn_losses"], rel=1e-12)
    for key in ("valid_fn_initial", "valid_fn_after_2_steps"):
        assert got[key]["loss"] == pytest.approx(reference[key]["loss"], rel=1e-12)
        assert got[key]["acc"] == pytest.approx(reference[key]["acc"], rel=1e-12)
        assert got[key]["jacc_num_denom"] == reference[key]["jacc_num_denom"]
    for value, record in zip(got["params_after_2_steps"], reference["params_after_2_steps"]):
        assert list(value.shape) == record["shape"]
        assert value.sum() == pytest.approx(record["sum"], rel=1e-11, abs=1e-12), record["name"]
        assert (value ** 2).sum() == pytest.approx(record["sq_sum"], rel=1e-11), record["name"]
        assert value.ravel()[:3].tolist() == pytest.approx(record["first"], rel=1e-11,
                                                           abs=1e-15), record["name"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [m for m in available_modes() if m != "numba"])
def test_training_on_the_made_polyps_prints_the_originals_lines(caplog, mode, much_memory):
    """train_fcn8 at VGG-16's width on dltut/toy/polyps912 for 4 epochs (batches of one frame, a
    32x48 crop), seed 1234: every EPOCH line and the FINAL MODEL line as the original's
    train_fcn8.train printed them on the same frames after numpy.random.seed(1234), and its
    training losses to 1e-10 (float64; about 14 GB and 150 s in C mode, more in JAX mode)."""
    recorded = recorded_original("fcn8_train")
    much_memory(24 if mode == "jax" else 16, f"the run in mode {mode}")
    settings = recorded["settings"]
    with caplog.at_level(logging.INFO, logger="dltut.tutorials.fcn8"):
        result = fcn8.train_fcn8(learning_rate=settings["learn_step"],
                                 weight_decay=settings["weight_decay"],
                                 num_epochs=settings["epochs"],
                                 max_patience=settings["max_patience"],
                                 batch_size=tuple(settings["batch_size"]),
                                 crop_size=tuple(settings["data_augmentation"]["crop_size"]),
                                 seed=settings["seed"], toy=True, floatX="float64", mode=mode)
    lines = [r.getMessage() for r in caplog.records if r.name == "dltut.tutorials.fcn8"]
    assert [l for l in lines if l.startswith("EPOCH")] == recorded["epoch_lines"]
    assert [l for l in lines if l.startswith("FINAL MODEL")] == recorded["final_lines"]
    assert [float(c[0]) for c in result.costs] == pytest.approx(recorded["train_steps"],
                                                                rel=1e-10)
