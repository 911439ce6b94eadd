"""dltut.layers against independent references: each layer's forward against NumPy and SciPy,
gradients by finite differences, Lasagne's initial draws written out with NumPy's RandomState
calls, its parameter order, batch normalisation's running averages, dropout's masks against
dltut.random's NumPy MRG, and the objectives."""

import functools

import numpy
import pytest
from scipy.signal import convolve2d, correlate2d

from conftest import available_modes, in_mode
from dltut import engine, random
from dltut import layers as L
from dltut.engine import T, function, grad

float64 = pytest.mark.usefixtures("floatX64")


# ----------------------------------------------------------------------------------------------
# NumPy references


def np_conv2d(x, W, pad, stride, flip):
    """Zero-pad, SciPy's valid convolve2d (flip) or correlate2d per image and filter, and keep
    every ``stride``-th output."""
    padded = numpy.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    op = convolve2d if flip else correlate2d
    out = numpy.array([[sum(op(channel, kernel, "valid") for channel, kernel in zip(image, bank))
                        for bank in W] for image in padded])
    return out[:, :, ::stride[0], ::stride[1]]


def np_transposed(y, W, out_shape, crop, stride, flip_filters):
    """Lasagne's transposed convolution by a loop over ``y``'s pixels: each adds ``W`` (flipped
    unless ``flip_filters``), weighted, to the window of the output it comes from, before the
    crop is cut away."""
    _, _, f_rows, f_cols = W.shape
    rows, cols = out_shape[2:]
    out = numpy.zeros((y.shape[0], W.shape[1], rows + 2 * crop[0], cols + 2 * crop[1]))
    taps = W if flip_filters else W[:, :, ::-1, ::-1]
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            r, q = i * stride[0], j * stride[1]
            out[:, :, r:r + f_rows, q:q + f_cols] += numpy.einsum("bk,kcuv->bcuv", y[:, :, i, j], taps)
    return out[:, :, crop[0]:crop[0] + rows, crop[1]:crop[1] + cols]


def np_pool(x, ws, stride, pad, ignore_border):
    """Max over each window's pixels in the image (Theano's bounds: the padding takes no part)."""
    rows, cols = x.shape[-2:]
    out_rows, out_cols = (
        (n + 2 * p - w) // s + 1 if ignore_border else (n - 1) // s + 1 if s >= w else max(0, (n - 1 - w + s) // s) + 1
        for n, w, s, p in zip((rows, cols), ws, stride, pad))
    out = numpy.empty(x.shape[:-2] + (out_rows, out_cols))
    for i in range(out_rows):
        for j in range(out_cols):
            r, q = i * stride[0] - pad[0], j * stride[1] - pad[1]
            out[..., i, j] = x[..., max(r, 0):min(r + ws[0], rows), max(q, 0):min(q + ws[1], cols)].max(axis=(-2, -1))
    return out


def np_softmax(a):
    e = numpy.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_batch_norm(x, axes, beta, gamma, mean=None, inv_std=None, epsilon=1e-4):
    """``(x - mean) * gamma * inv_std + beta``, with the batch's statistics unless given; and
    the batch's mean and inverse standard deviation."""
    batch_mean = x.mean(axis=axes)
    batch_inv_std = 1 / numpy.sqrt(x.var(axis=axes) + epsilon)
    mean = batch_mean if mean is None else mean
    inv_std = batch_inv_std if inv_std is None else inv_std
    shape = [1 if axis in axes else size for axis, size in enumerate(x.shape)]
    out = (x - mean.reshape(shape)) * (gamma * inv_std).reshape(shape) + beta.reshape(shape)
    return out, batch_mean, batch_inv_std


def _value(param):
    return param.get_value()


def _compiled(inputs, outputs, **kwargs):
    step = function(inputs, outputs, **kwargs)
    return lambda *values: [numpy.asarray(value) for value in step(*values)]


# ----------------------------------------------------------------------------------------------
# Lasagne's initial draws, written out with NumPy's RandomState calls


def glorot_uniform(rng, shape, gain=1.0):
    """lasagne.init.GlorotUniform: Uniform(std=...) of Glorot's std, in float64, cast."""
    n1, n2 = shape[:2]
    std = gain * numpy.sqrt(2.0 / ((n1 + n2) * numpy.prod(shape[2:])))
    a, b = 0.0 - numpy.sqrt(3) * std, 0.0 + numpy.sqrt(3) * std
    return numpy.asarray(rng.uniform(low=a, high=b, size=shape), dtype=engine.floatX())


def he_normal(rng, shape, gain):
    """lasagne.init.HeNormal: Normal(std=...) of He's std."""
    std = gain * numpy.sqrt(1.0 / numpy.prod(shape[1:]))
    return numpy.asarray(rng.normal(0.0, std, size=shape), dtype=engine.floatX())


def _draw_net():
    """A small network in the order a tutorial builds one: convolutions, a dropout, a
    transposed convolution, a 1-D convolution on its own input."""
    net = {"input": L.InputLayer((None, 3, 8, 8))}
    net["conv"] = L.Conv2DLayer(net["input"], 4, 3, pad="same")
    net["he"] = L.batch_norm(L.Conv2DLayer(net["conv"], 5, (3, 2), W=L.HeNormal(gain="relu")))
    net["drop"] = L.DropoutLayer(net["he"], p=0.4)
    net["up"] = L.Deconv2DLayer(net["drop"], 2, 4, stride=2, crop="valid", W=L.HeNormal(gain="relu"))
    net["conv1d"] = L.Conv1DLayer(L.InputLayer((None, 2, 20)), 6, 25, pad="same", nonlinearity=None)
    return net


def _expected_draws(rng):
    """What Lasagne draws for ``_draw_net`` from ``rng``, in order: weights, the dropout's seed."""
    return {
        "conv": glorot_uniform(rng, (4, 3, 3, 3)),
        "he": he_normal(rng, (5, 4, 3, 2), numpy.sqrt(2)),
        "seed": rng.randint(1, 2147462579),
        "up": he_normal(rng, (5, 2, 4, 4), numpy.sqrt(2)),
        "conv1d": glorot_uniform(rng, (6, 2, 25)),
    }


def _check_draws(net, expected):
    numpy.testing.assert_array_equal(net["conv"].W.get_value(), expected["conv"])
    numpy.testing.assert_array_equal(net["he"].input_layer.input_layer.W.get_value(), expected["he"])
    numpy.testing.assert_array_equal(net["up"].W.get_value(), expected["up"])
    numpy.testing.assert_array_equal(net["conv1d"].W.get_value(), expected["conv1d"])
    assert net["drop"]._srng.default_instance_seed == expected["seed"]
    assert net["conv"].W.get_value().dtype == engine.floatX()
    numpy.testing.assert_array_equal(net["conv"].b.get_value(), numpy.zeros(4, engine.floatX()))


def test_initial_draws_are_lasagnes_from_numpys_global_rng():
    """``numpy.random.seed(1609)`` then building: Lasagne's weights and dropout seed, in its order."""
    state = numpy.random.get_state()
    try:
        numpy.random.seed(1609)
        net = _draw_net()
    finally:
        numpy.random.set_state(state)
    _check_draws(net, _expected_draws(numpy.random.RandomState(1609)))


def test_initial_draws_from_set_rng_and_from_a_layers_rng():
    previous = L.get_rng()
    try:
        L.set_rng(numpy.random.RandomState(1609))
        net = _draw_net()
    finally:
        L.set_rng(previous)
    assert L.get_rng() is numpy.random
    _check_draws(net, _expected_draws(numpy.random.RandomState(1609)))
    rng = numpy.random.RandomState(5)
    conv = L.Conv2DLayer(L.InputLayer((None, 3, 8, 8)), 4, 3, rng=rng)
    numpy.testing.assert_array_equal(conv.W.get_value(), glorot_uniform(numpy.random.RandomState(5), (4, 3, 3, 3)))


def test_initializers_as_lasagne_defines_them():
    rng = numpy.random.RandomState(3)
    assert L.Constant(0.5)((2, 3)).tolist() == [[0.5] * 3] * 2
    numpy.testing.assert_array_equal(L.Normal(0.1, 2.0)((4,), numpy.random.RandomState(3)),
                                     numpy.asarray(rng.normal(2.0, 0.1, size=(4,)), engine.floatX()))
    # a matrix's He fan-in is its rows; Glorot with a gain
    numpy.testing.assert_array_equal(L.HeNormal(gain=2.0)((7, 3), numpy.random.RandomState(4)),
                                     numpy.asarray(numpy.random.RandomState(4).normal(0.0, 2.0 * numpy.sqrt(1.0 / 7), size=(7, 3)),
                                                   engine.floatX()))
    numpy.testing.assert_array_equal(L.GlorotUniform(gain="relu")((3, 2, 5), numpy.random.RandomState(6)),
                                     glorot_uniform(numpy.random.RandomState(6), (3, 2, 5), numpy.sqrt(2)))
    with pytest.raises(ValueError, match="shape \\(3,\\): Glorot initialisation needs 2 dimensions"):
        L.GlorotUniform()((3,))


# ----------------------------------------------------------------------------------------------
# Networks: layers, parameters, shapes


def _unet_block():
    """U-Net's pattern: batch_norm(conv), pooling, batch_norm(deconv), concatenation, head."""
    l_in = L.InputLayer((2, 1, 8, 8), name="input")
    c1 = L.batch_norm(L.Conv2DLayer(l_in, 2, 3, pad="same", nonlinearity=L.elu, W=L.HeNormal(gain="relu"),
                                    name="contr"))
    pool = L.Pool2DLayer(c1, 2)
    up = L.batch_norm(L.Deconv2DLayer(pool, 3, 2, 2, crop="valid", nonlinearity=L.elu, name="up"))
    concat = L.ConcatLayer([up, c1], cropping=(None, None, "center", "center"))
    seg = L.Conv2DLayer(concat, 2, 1, nonlinearity=None, name="seg")
    out = L.DimshuffleLayer(seg, (1, 0, 2, 3))
    out = L.ReshapeLayer(out, (2, -1))
    out = L.DimshuffleLayer(out, (1, 0))
    return L.NonlinearityLayer(out, nonlinearity=L.softmax)


def test_get_all_layers_and_params_in_lasagnes_order():
    out = _unet_block()
    assert [type(layer).__name__ for layer in L.get_all_layers(out)] == [
        "InputLayer", "Conv2DLayer", "BatchNormLayer", "NonlinearityLayer", "Pool2DLayer",
        "TransposedConv2DLayer", "BatchNormLayer", "NonlinearityLayer", "ConcatLayer", "Conv2DLayer",
        "DimshuffleLayer", "ReshapeLayer", "DimshuffleLayer", "NonlinearityLayer"]
    assert [layer.name for layer in L.get_all_layers(out)[:4]] == ["input", "contr", "contr_bn", "contr_bn_nonlin"]
    names = ["contr.W", "contr_bn.beta", "contr_bn.gamma", "contr_bn.mean", "contr_bn.inv_std",
             "up.W", "up_bn.beta", "up_bn.gamma", "up_bn.mean", "up_bn.inv_std", "seg.W", "seg.b"]
    assert [p.name for p in L.get_all_params(out)] == names
    assert [p.name for p in L.get_all_params(out, trainable=True)] == [
        n for n in names if not n.endswith(("mean", "inv_std"))]
    assert [p.name for p in L.get_all_params(out, regularizable=True)] == [
        "contr.W", "contr_bn.gamma", "up.W", "up_bn.gamma", "seg.W"]
    assert [p.name for p in L.get_all_params(out, batch_norm_stat=True)] == [
        "contr_bn.mean", "contr_bn.inv_std", "up_bn.mean", "up_bn.inv_std"]
    # batch_norm took the convolution's bias and nonlinearity
    conv = L.get_all_layers(out)[1]
    assert conv.b is None and conv.nonlinearity is L.identity
    assert L.get_all_layers(out)[3].nonlinearity is L.elu
    # FCN-8's freezeParameters: a tag removed from a layer's params
    seg = L.get_all_layers(out)[9]
    for param in seg.get_params():
        seg.params[param].remove("trainable")
    assert "seg.W" not in [p.name for p in L.get_all_params(out, trainable=True)]


def test_output_shapes_and_counts():
    out = _unet_block()
    layers_ = L.get_all_layers(out)
    assert [layer.output_shape for layer in layers_[:9]] == [
        (2, 1, 8, 8), (2, 2, 8, 8), (2, 2, 8, 8), (2, 2, 8, 8), (2, 2, 4, 4), (2, 3, 8, 8), (2, 3, 8, 8),
        (2, 3, 8, 8), (2, 5, 8, 8)]
    assert L.get_output_shape(out) == (128, 2)
    assert L.get_output_shape(out, (3, 1, 6, 6)) == (108, 2)
    # 2*1*3*3 + 4*2 + 2*3*2*2 + 4*3 + 2*5 + 2
    assert L.count_params(out) == 18 + 8 + 24 + 12 + 10 + 2
    assert L.count_params(out, trainable=True) == 18 + 4 + 24 + 6 + 10 + 2
    values = L.get_all_param_values(out)
    changed = [value + 1 for value in values]
    L.set_all_param_values(out, changed)
    for param, value in zip(L.get_all_params(out), changed):
        numpy.testing.assert_array_equal(param.get_value(), value)
    with pytest.raises(ValueError, match="11 values for 12 parameters"):
        L.set_all_param_values(out, changed[:-1])
    with pytest.raises(ValueError, match="parameter 'contr.W' has shape \\(2, 1, 3, 3\\), the value to set \\(3,\\)"):
        L.set_all_param_values(out, [numpy.zeros(3)] + changed[1:])


def test_lasagnes_shape_rules():
    l_in = L.InputLayer((None, 3, 10, 12))
    assert L.Conv2DLayer(l_in, 4, 3, pad="full").output_shape == (None, 4, 12, 14)
    assert L.Conv2DLayer(l_in, 4, 3, stride=2, pad=100).output_shape == (None, 4, 104, 105)
    assert L.Deconv2DLayer(l_in, 2, 16, stride=8, crop="valid").output_shape == (None, 2, 88, 104)
    assert L.Deconv2DLayer(l_in, 2, 3, stride=2, crop="same").output_shape == (None, 2, 19, 23)
    assert L.Deconv2DLayer(l_in, 2, 3, stride=2, output_size=(20, 24)).output_shape == (None, 2, 20, 24)
    assert L.Pool2DLayer(l_in, 3, stride=2, ignore_border=False).output_shape == (None, 3, 5, 6)
    assert L.ReshapeLayer(l_in, ([0], -1)).output_shape == (None, 360)
    assert L.ReshapeLayer(l_in, (-1, [1], 4, 3)).output_shape == (None, 3, 4, 3)
    assert L.ReshapeLayer(l_in, (T.iscalar("n"), 3)).output_shape == (None, 3)
    assert L.PadLayer(l_in, (1, (2, 0))).output_shape == (None, 3, 12, 14)
    assert L.Upscale1DLayer(L.InputLayer((None, 2, 7)), 3).output_shape == (None, 2, 21)
    with pytest.raises(ValueError, match="pad 'same' needs odd filter sizes"):
        L.Conv2DLayer(l_in, 4, 2, pad="same")
    with pytest.raises(ValueError, match="the total size differs"):
        L.ReshapeLayer(L.InputLayer((2, 3)), (4, 2))
    with pytest.raises(ValueError, match="drops axis 1 of size 3"):
        L.DimshuffleLayer(l_in, (0, 2, 3))
    with pytest.raises(ValueError, match="BatchNormLayer needs the sizes"):
        L.BatchNormLayer(L.InputLayer((None, None, 4)))
    with pytest.raises(ValueError, match="differ off the concatenation axis 1"):
        L.ConcatLayer([l_in, L.InputLayer((None, 3, 10, 11))]).output_shape


def test_autocrop_array_shapes():
    shapes = [(1, 2, 3, 4), (5, 6, 7, 8), (5, 4, 3, 2)]
    assert L.autocrop_array_shapes(shapes, None) == shapes
    assert L.autocrop_array_shapes(shapes, [None, "lower", "upper", "center"]) == [
        (1, 2, 3, 2), (5, 2, 3, 2), (5, 2, 3, 2)]
    assert L.autocrop_array_shapes([(1, None), (2, 3)], ["center", "center"]) == [(1, None), (1, None)]
    with pytest.raises(ValueError, match="crop mode 'middle'"):
        L.autocrop_array_shapes(shapes, ["middle"])


def test_sizes_that_a_convolution_needs_are_asked_for():
    x = T.tensor4("x")
    conv = L.Conv2DLayer(L.InputLayer((None, 3, None, None), x), 4, 3, name="conv1_1")
    with pytest.raises(ValueError, match="Conv2DLayer conv1_1 needs its input's channels, rows and columns as ints, "
                                         "but its input shape is \\(None, 3, None, None\\)"):
        L.get_output(conv)
    L.get_output(conv, T.specify_shape(x, (2, 3, 8, 9)))  # known from the input's type
    # the batch left free (U-Net's last batch of an epoch may be shorter): the rest still known
    known = T.specify_shape(x, (x.shape[0], 3, 8, 9))
    assert L.get_output_shape(conv) == (None, 4, None, None)
    assert L._known_shape(known) == (None, 3, 8, 9)
    L.get_output(conv, known)
    with pytest.raises(ValueError, match="one input expression for a network of 2 input layers"):
        L.get_output(L.ConcatLayer([L.InputLayer((None, 3)), L.InputLayer((None, 3))]), T.matrix("y"))


# ----------------------------------------------------------------------------------------------
# Forward, against NumPy and SciPy, in every mode


@float64
def test_2d_layers_forward_match_numpy(mode):
    """The convolutions with each padding and flip, the transposed ones, pooling, crops and merges,
    padding, the U-Net head, with the batch left None (given in JAX mode, which needs it)."""
    rng = numpy.random.RandomState(11)
    batch = 2 if mode == "jax" else None
    x = T.tensor4("x")
    l_in = L.InputLayer((batch, 3, 7, 6), x)
    net = {
        "same": L.Conv2DLayer(l_in, 4, 3, pad="same", flip_filters=False, b=L.Normal(1.0), rng=rng),
        "full": L.Conv2DLayer(l_in, 2, (3, 2), stride=(2, 1), pad="full", nonlinearity=L.tanh, untie_biases=True,
                              b=L.Normal(1.0), rng=rng),
        "int": L.Conv2DLayer(l_in, 2, 3, stride=2, pad=(2, 1), nonlinearity=None, b=None, rng=rng),
    }
    net["up"] = L.Deconv2DLayer(net["same"], 3, 4, stride=2, crop="valid", nonlinearity=L.linear, b=L.Normal(1.0),
                                rng=rng)
    net["up_same"] = L.Deconv2DLayer(net["same"], 2, 3, stride=(2, 1), crop="same", flip_filters=True, rng=rng)
    net["pool"] = L.Pool2DLayer(net["same"], 2)
    net["overlap"] = L.MaxPool2DLayer(l_in, 3, stride=2, pad=1)
    net["partial"] = L.Pool2DLayer(l_in, 2, ignore_border=False)
    net["concat"] = L.ConcatLayer([net["up"], l_in], cropping=(None, None, "center", "center"))
    net["sum"] = L.ElemwiseSumLayer([net["up"], l_in, net["same"]], coeffs=[1, 2, -1],
                                    cropping=[None, "lower", "lower", "upper"])
    net["merge"] = L.ElemwiseMergeLayer([l_in, net["up"]], lambda a, b: b, cropping=[None, "lower", "center", "center"])
    net["pad"] = L.PadLayer(l_in, (1, (0, 2)), val=1.5)
    head = L.DimshuffleLayer(net["same"], (1, 0, 2, 3))
    head = L.ReshapeLayer(head, (4, -1))
    net["head"] = L.NonlinearityLayer(L.DimshuffleLayer(head, (1, 0)), L.softmax)
    names = list(net)
    outputs = _compiled([x], L.get_output([net[name] for name in names]))(numpy.random.RandomState(0).randn(2, 3, 7, 6))
    got = dict(zip(names, outputs))
    xv = numpy.random.RandomState(0).randn(2, 3, 7, 6)

    W, b = _value(net["same"].W), _value(net["same"].b)
    same = numpy.maximum(np_conv2d(xv, W, (1, 1), (1, 1), flip=False) + b[:, None, None], 0)
    W, b = _value(net["full"].W), _value(net["full"].b)
    full = numpy.tanh(np_conv2d(xv, W, (2, 1), (2, 1), flip=True) + b)
    int_ = np_conv2d(xv, _value(net["int"].W), (2, 1), (2, 2), flip=True)
    W, b = _value(net["up"].W), _value(net["up"].b)
    up = np_transposed(same, W, net["up"].output_shape, (0, 0), (2, 2), flip_filters=False) + b[:, None, None]
    W, b = _value(net["up_same"].W), _value(net["up_same"].b)
    up_same = numpy.maximum(np_transposed(same, W, (2, 2, 13, 6), (1, 1), (2, 1), flip_filters=True)
                            + b[:, None, None], 0)
    expected = {
        "same": same, "full": full, "int": int_, "up": up, "up_same": up_same,
        "pool": np_pool(same, (2, 2), (2, 2), (0, 0), True),
        "overlap": np_pool(xv, (3, 3), (2, 2), (1, 1), True),
        "partial": np_pool(xv, (2, 2), (2, 2), (0, 0), False),
        "concat": numpy.concatenate([up[:, :, 4:11, 4:10], xv], axis=1),  # (16 - 7) // 2, (14 - 6) // 2
        "sum": up[:, :3, :7, -6:] + 2 * xv + -1 * same[:, :3, :7, -6:],
        "merge": up[:, :3, 4:11, 4:10],
        "pad": numpy.pad(xv, ((0, 0), (0, 0), (1, 1), (0, 2)), constant_values=1.5),
        "head": np_softmax(same.transpose(1, 0, 2, 3).reshape(4, -1).T),
    }
    assert up.shape == (2, 3, 16, 14)
    for name in names:
        assert got[name].shape == expected[name].shape, name
        numpy.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-10, err_msg=name)


@float64
def test_transposed_convolution_is_the_convolutions_adjoint(mode):
    """<conv(x), y> = <x, deconv(y)> for a Conv2DLayer and a Deconv2DLayer sharing W, crop = pad."""
    batch = 2
    x, y = T.tensor4("x"), T.tensor4("y")
    W = numpy.random.RandomState(1).randn(4, 3, 3, 2)
    conv = L.Conv2DLayer(L.InputLayer((batch, 3, 9, 8), x), 4, (3, 2), stride=(2, 3), pad=(1, 2), W=W, b=None,
                         nonlinearity=None, flip_filters=True)
    deconv = L.Deconv2DLayer(L.InputLayer(conv.output_shape, y), 3, (3, 2), stride=(2, 3), crop=(1, 2),
                             W=conv.W, b=None, nonlinearity=None, output_size=(9, 8))
    xv, yv = numpy.random.RandomState(2).randn(batch, 3, 9, 8), numpy.random.RandomState(3).randn(*conv.output_shape)
    conved, deconved = _compiled([x, y], [L.get_output(conv), L.get_output(deconv)])(xv, yv)
    assert (conved * yv).sum() == pytest.approx((xv * deconved).sum(), rel=1e-12)


@float64
def test_1d_layers_forward_match_numpy(mode):
    batch = 2 if mode == "jax" else None
    x = T.tensor3("x")
    l_in = L.InputLayer((batch, 3, 9), x)
    rng = numpy.random.RandomState(12)
    net = {
        "same": L.Conv1DLayer(l_in, 4, 5, pad="same", nonlinearity=None, b=L.Normal(1.0), rng=rng),
        "strided": L.Conv1DLayer(l_in, 2, 3, stride=2, flip_filters=False, rng=rng),
        "full": L.Conv1DLayer(l_in, 2, 4, pad="full", nonlinearity=None, b=None, rng=rng),
    }
    net["pool"] = L.Pool1DLayer(net["same"], 2)
    net["maxpool"] = L.MaxPool1DLayer(l_in, 3, stride=2, ignore_border=False)
    net["repeat"] = L.Upscale1DLayer(net["pool"], 3)
    net["dilate"] = L.Upscale1DLayer(l_in, 2, mode="dilate")
    # the 1-D FCN's head: channels last, one row per position, softmax, then back
    shuffled = L.DimshuffleLayer(net["same"], (0, 2, 1))
    size = L.get_output(shuffled).shape
    net["probs"] = L.NonlinearityLayer(L.ReshapeLayer(shuffled, (T.prod(size[0:2]), size[2])), L.softmax)
    net["back"] = L.ReshapeLayer(net["probs"], (size[0], size[1], 4))
    names = list(net)
    xv = numpy.random.RandomState(0).randn(2, 3, 9)
    got = dict(zip(names, _compiled([x], L.get_output([net[name] for name in names]))(xv)))

    def conv1d(W, pad, stride, flip):
        return np_conv2d(xv[:, :, None, :], W[:, :, None, :], (0, pad), (1, stride), flip)[:, :, 0, :]

    same = conv1d(_value(net["same"].W), 2, 1, True) + _value(net["same"].b)[:, None]
    strided = numpy.maximum(conv1d(_value(net["strided"].W), 0, 2, False) + _value(net["strided"].b)[:, None], 0)
    pool = np_pool(same, (1, 2), (1, 2), (0, 0), True)
    dilate = numpy.zeros((2, 3, 18))
    dilate[:, :, ::2] = xv
    probs = np_softmax(same.transpose(0, 2, 1).reshape(18, 4))
    expected = {
        "same": same, "strided": strided, "full": conv1d(_value(net["full"].W), 3, 1, True), "pool": pool,
        "maxpool": np_pool(xv, (1, 3), (1, 2), (0, 0), False), "repeat": numpy.repeat(pool, 3, axis=2),
        "dilate": dilate, "probs": probs, "back": probs.reshape(2, 9, 4),
    }
    for name in names:
        assert got[name].shape == expected[name].shape, name
        numpy.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-10, err_msg=name)


@float64
def test_nonlinearities_match_numpy(mode):
    x = T.matrix("x")
    xv = numpy.array([[-2.0, -0.5, 0.0, 0.5, 3.0], [1.0, 2.0, -1.0, 0.0, 0.25]])
    outputs = _compiled([x], [L.rectify(x), L.elu(x), L.softmax(x), L.sigmoid(x), L.tanh(x), L.linear(x),
                              grad(L.rectify(x).sum(), x)])(xv)
    expected = [numpy.maximum(xv, 0), numpy.where(xv > 0, xv, numpy.expm1(xv)), np_softmax(xv),
                1 / (1 + numpy.exp(-xv)), numpy.tanh(xv), xv,
                numpy.where(xv > 0, 1.0, numpy.where(xv == 0, 0.5, 0.0))]  # Theano's relu: 1/2 at 0
    for got, want in zip(outputs, expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# Batch normalisation


@float64
def test_batch_norm_training_deterministic_and_running_averages(mode):
    """Training normalises by the batch and moves the running averages (two calls of a function
    given no updates); deterministic mode normalises by the averages and moves nothing."""
    x = T.tensor4("x")
    bn = L.BatchNormLayer(L.InputLayer((3, 2, 4, 5), x), alpha=0.25,
                          beta=numpy.array([0.5, -1.0]), gamma=numpy.array([2.0, 0.75]))
    bn.mean.set_value(numpy.array([0.1, -0.2]))
    bn.inv_std.set_value(numpy.array([1.5, 0.5]))
    train = _compiled([x], [L.get_output(bn)])
    test = _compiled([x], [L.get_output(bn, deterministic=True)])
    rng = numpy.random.RandomState(4)
    beta, gamma = numpy.array([0.5, -1.0]), numpy.array([2.0, 0.75])
    mean, inv_std = numpy.array([0.1, -0.2]), numpy.array([1.5, 0.5])
    for _ in range(2):
        xv = rng.randn(3, 2, 4, 5) * 3 + 1
        expected, batch_mean, batch_inv_std = np_batch_norm(xv, (0, 2, 3), beta, gamma)
        (out,) = train(xv)
        numpy.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
        mean, inv_std = 0.75 * mean + 0.25 * batch_mean, 0.75 * inv_std + 0.25 * batch_inv_std
        numpy.testing.assert_allclose(bn.mean.get_value(), mean, rtol=1e-12)
        numpy.testing.assert_allclose(bn.inv_std.get_value(), inv_std, rtol=1e-12)
    (out,) = test(xv)
    numpy.testing.assert_allclose(out, np_batch_norm(xv, (0, 2, 3), beta, gamma, mean, inv_std)[0], rtol=1e-10)
    numpy.testing.assert_allclose(bn.mean.get_value(), mean, rtol=1e-12)


@float64
def test_batch_norm_averages_update_with_the_trainings_updates(mode):
    """In a function that also applies Adam's updates, and over given axes (the 1-D FCN's input)."""
    from dltut import updates

    x = T.tensor3("x")
    bn = L.BatchNormLayer(L.InputLayer((4, 2, 6), x), axes=(0, 2))
    conv = L.Conv1DLayer(bn, 3, 3, pad="same", W=numpy.random.RandomState(0).randn(3, 2, 3))
    cost = L.get_output(conv).sum()
    step = _compiled([x], [cost], updates=updates.adam(cost, L.get_all_params(conv, trainable=True)))
    xv = numpy.random.RandomState(1).rand(4, 2, 6)
    step(xv)
    step(xv)
    numpy.testing.assert_allclose(bn.mean.get_value(), 0.19 * xv.mean(axis=(0, 2)), rtol=1e-12)
    numpy.testing.assert_allclose(bn.inv_std.get_value(), 0.81 + 0.19 / numpy.sqrt(xv.var(axis=(0, 2)) + 1e-4),
                                  rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Dropout


def _dropout_case(shape, p, batch_known):
    """A DropoutLayer on an input of ``shape`` (the batch None unless ``batch_known``), its seed
    drawn from RandomState(9); the compiled training output, and what NumPy's MRG draws."""
    x = T.tensor4("x")
    layer_shape = shape if batch_known else (None, *shape[1:])
    drop = L.DropoutLayer(L.InputLayer(layer_shape, x), p=p, rng=numpy.random.RandomState(9))
    seed = numpy.random.RandomState(9).randint(1, 2147462579)
    step = _compiled([x], [L.get_output(drop), L.get_output(drop, deterministic=True)])
    floatX = engine.floatX()
    retain = numpy.asarray(1, floatX) - numpy.asarray(p, floatX)  # int8 1 minus a floatX constant
    # Lasagne's mask is binomial(input_shape): Theano's stream count for a tuple of ints, 15360 for
    # the symbolic shape it draws where the shape has None
    n_streams = None if batch_known else random.MAX_STREAMS
    masks = random.NumpyStreams(seed).binomial(shape, p=retain, dtype=floatX, floatX=floatX, nstreams=n_streams,
                                                draws=2)
    return step, retain, masks


@pytest.mark.parametrize("batch_known", [True, False], ids=["static", "batch-None"])
def test_dropout_masks_are_theanos(mode, batch_known):
    if mode == "jax" and not batch_known:
        pytest.skip("JAX mode compiles for static shapes: the batch is given")
    shape = (3, 2, 5, 7)
    step, retain, masks = _dropout_case(shape, 0.4, batch_known)
    xv = numpy.random.RandomState(2).rand(*shape).astype(engine.floatX()) + 1
    for mask in masks:  # each call draws the next mask
        out, same = step(xv)
        numpy.testing.assert_array_equal(out != 0, mask)  # the inputs are >= 1
        numpy.testing.assert_allclose(out, xv / retain * mask, rtol=1e-6)  # the scaling may round apart
        numpy.testing.assert_array_equal(same, xv)
    assert 0.3 < 1 - masks[0].mean() < 0.5  # p = 0.4 of 210 inputs dropped


def test_dropout_with_sizes_known_only_when_compiled(mode):
    """FCN-8's dropout: spatial sizes None when built, known from the input when compiled; the
    mask is still drawn with Theano's 15360 streams, as for Lasagne's symbolic shape."""
    x = T.tensor4("x")
    drop = L.DropoutLayer(L.InputLayer((None, 2, None, None), x), p=0.5, rng=numpy.random.RandomState(9))
    seed = numpy.random.RandomState(9).randint(1, 2147462579)
    shape = (2, 2, 3, 5)
    (out,) = _compiled([x], [L.get_output(drop, T.specify_shape(x, shape))])(numpy.ones(shape, engine.floatX()))
    floatX = engine.floatX()
    retain = numpy.asarray(1, floatX) - numpy.asarray(0.5, floatX)
    mask = random.NumpyStreams(seed).binomial(shape, p=retain, dtype=floatX, floatX=floatX, nstreams=random.MAX_STREAMS)
    numpy.testing.assert_array_equal(out != 0, mask)
    numpy.testing.assert_allclose(out, mask / retain, rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# Gradients


@float64
def test_network_gradients_match_finite_differences(mode):
    """Central differences of a scalar of a small network with every kind of layer that has
    parameters, at a few entries of each parameter and of the input."""
    x = T.tensor4("x")
    rng = numpy.random.RandomState(21)
    l_in = L.InputLayer((2, 2, 6, 6), x)
    conv = L.batch_norm(L.Conv2DLayer(l_in, 3, 3, pad="same", nonlinearity=L.elu, rng=rng))
    pool = L.Pool2DLayer(conv, 2)
    up = L.Deconv2DLayer(pool, 2, 3, stride=2, crop="valid", nonlinearity=L.tanh, b=L.Normal(0.5), rng=rng)
    fused = L.ElemwiseSumLayer([up, L.Conv2DLayer(l_in, 2, 1, flip_filters=False, nonlinearity=L.sigmoid, rng=rng)],
                               cropping=[None, None, "center", "center"])
    concat = L.ConcatLayer([fused, conv], cropping=[None, None, "center", "center"])
    out = L.Conv2DLayer(concat, 2, 3, stride=2, pad=1, nonlinearity=L.linear, rng=rng)
    params = L.get_all_params(out, trainable=True)
    weights = numpy.random.RandomState(5).randn(*out.output_shape)
    cost = (L.get_output(out) * weights).sum()
    cost_and_grads = _compiled([x], [cost, *grad(cost, [x, *params])])
    xv = numpy.random.RandomState(6).randn(2, 2, 6, 6)
    _, x_grad, *param_grads = cost_and_grads(xv)
    eps, pick = 1e-6, numpy.random.RandomState(7)

    def cost_at(value):
        return cost_and_grads(value)[0]

    for flat in pick.choice(xv.size, 4, replace=False):
        index = numpy.unravel_index(flat, xv.shape)
        plus, minus = xv.copy(), xv.copy()
        plus[index] += eps
        minus[index] -= eps
        assert (cost_at(plus) - cost_at(minus)) / (2 * eps) == pytest.approx(x_grad[index], rel=1e-5, abs=1e-6)
    for param, analytic in zip(params, param_grads):
        value = param.get_value()
        for flat in pick.choice(value.size, min(3, value.size), replace=False):
            index = numpy.unravel_index(flat, value.shape)
            shifted = []
            for sign in (1, -1):
                moved = value.copy()
                moved[index] += sign * eps
                param.set_value(moved)
                shifted.append(cost_at(xv))
            param.set_value(value)
            assert (shifted[0] - shifted[1]) / (2 * eps) == pytest.approx(analytic[index], rel=1e-5, abs=1e-6), param.name


# ----------------------------------------------------------------------------------------------
# Objectives, regularisation and autocrop


@float64
def test_categorical_crossentropy_and_l2(mode):
    p = T.matrix("p")
    t, one_hot = T.ivector("t"), T.matrix("one_hot")
    l_in = L.InputLayer((None, 3))
    conv = L.Conv1DLayer(L.InputLayer((None, 2, 5)), 3, 2, W=numpy.full((3, 2, 2), 0.5))
    bn = L.BatchNormLayer(conv, gamma=numpy.array([1.0, 2.0, 3.0]))
    penalty = L.regularize_network_params(bn, L.l2)
    outputs = _compiled([p, t, one_hot], [L.categorical_crossentropy(p, t), L.categorical_crossentropy(p, one_hot),
                                          penalty, L.l1(p), L.regularize_layer_params(bn, L.l2)])
    pv = np_softmax(numpy.random.RandomState(8).randn(300, 3))  # more rows than an int8 counts
    tv = numpy.random.RandomState(9).randint(0, 3, 300).astype("int32")
    hot = numpy.eye(3)[tv] * 0.9 + 0.1 / 3
    ce_int, ce_hot, l2_net, l1_p, l2_layer = outputs(pv, tv, hot)
    numpy.testing.assert_allclose(ce_int, -numpy.log(pv[numpy.arange(300), tv]), rtol=1e-12)
    numpy.testing.assert_allclose(ce_hot, -(hot * numpy.log(pv)).sum(axis=1), rtol=1e-12)
    assert l2_net == pytest.approx(12 * 0.25 + 1 + 4 + 9)  # the weights and gamma; no bias, beta, averages
    assert l2_layer == pytest.approx(14)  # the batch normalisation's gamma alone
    assert l1_p == pytest.approx(numpy.abs(pv).sum())
    assert len(L.get_all_layers(l_in)) == 1


@pytest.mark.parametrize("static", [True, False], ids=["sizes-known", "symbolic"])
def test_autocrop_matches_numpy_slicing(static):
    """With the sizes known, constant cuts; without, cuts read from the symbolic shapes (as
    Lasagne's; C mode, as JAX mode compiles only constant ones)."""
    with in_mode("jax" if static and "jax" in available_modes() else "c"):
        _check_autocrop(static)


def _check_autocrop(static):
    a, b, c = T.tensor4("a"), T.tensor4("b"), T.tensor4("c")
    values = [numpy.random.RandomState(k).randn(*shape).astype(engine.floatX())
              for k, shape in enumerate([(1, 2, 7, 8), (1, 3, 4, 5), (1, 1, 6, 3)])]
    shapes = [v.shape for v in values] if static else None
    cropped = L.autocrop([a, b, c], [None, None, "center", "lower"], shapes)
    upper = L.autocrop([a, b, c], [None, "upper", "upper", None], shapes)
    got = _compiled([a, b, c], cropped + upper)(*values)
    va, vb, vc = values
    expected = [va[:, :, 1:5, :3], vb[:, :, 0:4, :3], vc[:, :, 1:5, :3], va[:, 1:, -4:], vb[:, 2:, -4:], vc[:, :, -4:]]
    for g, e in zip(got, expected):
        numpy.testing.assert_array_equal(g, e)
    assert L.autocrop([a, b], None) == [a, b]


# ----------------------------------------------------------------------------------------------
# Several input sizes through one network (FCN-8 trains on crops, validates on whole images)


def test_one_network_compiled_for_two_image_sizes():
    x = T.tensor4("x")
    l_in = L.InputLayer((None, 3, None, None), x)
    conv = L.Conv2DLayer(l_in, 4, 3, pad=5, flip_filters=False, rng=numpy.random.RandomState(0))
    score = L.Deconv2DLayer(L.Pool2DLayer(conv, 2), 2, 4, stride=2, crop="valid", nonlinearity=L.linear,
                            rng=numpy.random.RandomState(1))
    l_tmp = L.InputLayer((None, 2, None, None), x)
    out = L.ElemwiseMergeLayer((l_tmp, score), merge_function=lambda input, deconv: deconv,
                               cropping=[None, None, "center", "center"])
    assert out.output_shape == (None, 2, None, None)
    for shape in [(2, 3, 8, 10), (1, 3, 5, 7)]:
        known = T.specify_shape(x, shape)
        (got,) = _compiled([x], [L.get_output(out, {l_in: known, l_tmp: known})])(numpy.ones(shape, engine.floatX()))
        assert got.shape == (shape[0], 2, *shape[2:])


# ----------------------------------------------------------------------------------------------
# Against Lasagne itself

# What Lasagne printed for the network and training below, written with lasagne.layers, .init,
# .nonlinearities, .objectives, .regularization and .updates in place of dltut's (Lasagne's GitHub
# master, 5d3c63cb, on theano-pymc 1.1.2, floatX float32, after numpy.random.seed(1609)): the three
# training losses, the sum of the deterministic class-1 probabilities, batch normalisation's
# running mean and inverse standard deviation.
LASAGNE_SMALL_SEGMENTER = (
    [0.734652578830719, 0.7223060727119446, 0.7171982526779175],
    141.03240966796875,
    [0.0014175751712173223, -0.06093404442071915, 0.013809720985591412],
    [2.7098639011383057, 1.3133240938186646, 1.2172980308532715],
)


def small_segmenter(input_var):
    """U-Net's and FCN-8's layer kinds in a few layers: a batch-normalised convolution, pooling,
    dropout, a padded cross-correlation, a transposed convolution, a cropped sum and
    concatenation, and the per-pixel softmax."""
    l_in = L.InputLayer((2, 1, 12, 12), input_var)
    c1 = L.batch_norm(L.Conv2DLayer(l_in, 3, 3, pad="same", nonlinearity=L.elu, W=L.HeNormal(gain="relu")))
    drop = L.DropoutLayer(L.Pool2DLayer(c1, 2), p=0.4)
    c2 = L.Conv2DLayer(drop, 4, 3, pad=2, flip_filters=False)
    up = L.Deconv2DLayer(c2, 3, 4, stride=2, crop="valid", nonlinearity=L.linear)
    fused = L.ElemwiseSumLayer((up, c1), cropping=[None, None, "center", "center"])
    concat = L.ConcatLayer([fused, l_in], cropping=(None, None, "center", "center"))
    seg = L.Conv2DLayer(concat, 2, 1, nonlinearity=None)
    flat = L.ReshapeLayer(L.DimshuffleLayer(seg, (0, 2, 3, 1)), (-1, 2))
    return L.NonlinearityLayer(flat, L.softmax)


@pytest.mark.slow  # 34 s cold in C mode; the segmenters' layers are checked against NumPy above
def test_a_small_segmenter_trains_as_on_lasagne(mode):
    """The same weights, dropout masks, losses, Adam steps and running averages as Lasagne's."""
    from dltut import updates

    floatX = engine.floatX()
    previous = L.get_rng()
    L.set_rng(numpy.random.RandomState(1609))  # what numpy.random.seed(1609) makes the global one draw
    try:
        x, y = T.tensor4("x"), T.ivector("y")
        out = small_segmenter(x)
    finally:
        L.set_rng(previous)
    loss = L.categorical_crossentropy(L.get_output(out), y).mean()
    loss = loss + 1e-4 * L.regularize_network_params(out, L.l2)
    learning_rate = engine.shared(numpy.asarray(0.01, dtype=floatX), name="learning_rate")
    train = function([x, y], loss, updates=updates.adam(loss, L.get_all_params(out, trainable=True),
                                                        learning_rate=learning_rate))
    test = function([x], L.get_output(out, deterministic=True))
    rng = numpy.random.RandomState(3)
    xv, yv = rng.rand(2, 1, 12, 12).astype(floatX), rng.randint(0, 2, 288).astype("int32")
    losses = []
    for _ in range(3):
        losses.append(float(train(xv, yv)))
        learning_rate.set_value((learning_rate.get_value() * 0.99).astype(floatX))
    bn = next(layer for layer in L.get_all_layers(out) if isinstance(layer, L.BatchNormLayer))
    expected_losses, expected_sum, expected_mean, expected_inv_std = LASAGNE_SMALL_SEGMENTER
    numpy.testing.assert_allclose(losses, expected_losses, rtol=1e-6)
    assert float(numpy.asarray(test(xv))[:, 1].sum()) == pytest.approx(expected_sum, rel=1e-6)
    numpy.testing.assert_allclose(bn.mean.get_value(), expected_mean, rtol=1e-5, atol=1e-7)
    numpy.testing.assert_allclose(bn.inv_std.get_value(), expected_inv_std, rtol=1e-6)
