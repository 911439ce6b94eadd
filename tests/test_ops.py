"""dltut.ops against independent references: SciPy's convolve2d and correlate2d, NumPy loops, and
central finite differences, in every compile mode the engine offers; on the theano engine, also
Theano's own conv2d, conv2d_grad_wrt_inputs and pool_2d."""

import functools

import numpy
import pytest
from scipy.signal import convolve2d, correlate2d

from conftest import available_modes, in_mode
from dltut import engine, ops
from dltut.engine import T, function, grad
from dltut.ops import conv2d, conv_output_shape, default_method, pool_2d, pool_output_shape

# (input_shape, filter_shape): odd sizes, 1x1 filters, a filter as large as the image, and
# LeNet's two layers with a small batch (28 - 5 + 1 = 24, 12 - 5 + 1 = 8).
CONV_SHAPES = [
    ((2, 3, 7, 6), (4, 3, 3, 2)),
    ((2, 1, 4, 6), (3, 1, 1, 1)),
    ((1, 2, 5, 4), (2, 2, 5, 4)),
    ((3, 1, 28, 28), (2, 1, 5, 5)),
    ((2, 4, 12, 12), (3, 4, 5, 5)),
]
# (input shape, ws): odd sizes whose last row and column are dropped, LeNet's 24 -> 12 and 8 -> 4.
POOL_SHAPES = [
    ((2, 3, 5, 5), (2, 2)),
    ((1, 2, 7, 8), (3, 2)),
    ((2, 3, 24, 24), (2, 2)),
    ((2, 3, 8, 8), (2, 2)),
]


# the tests that check values to 1e-10 against NumPy's float64 (JAX computes float64 only then)
float64 = pytest.mark.usefixtures("floatX64")


@pytest.fixture(params=engine.MODES)
def mode(request):
    """Compile in each mode the engine offers; restore the previous mode afterwards."""
    if request.param not in engine.modes():
        pytest.skip(f"engine {engine.name()} has no mode {request.param!r}")
    if request.param == "jax":
        pytest.importorskip("jax")
    with in_mode(request.param):
        yield request.param


def _shape_id(shapes):
    return "x".join(str(shape).replace(" ", "") for shape in shapes)


# ----------------------------------------------------------------------------------------------
# NumPy references


def conv_reference(image, filters):
    """Valid true convolution summed over channels, one scipy.signal.convolve2d per pair."""
    return numpy.array(
        [
            [sum(convolve2d(channel, kernel, "valid") for channel, kernel in zip(picture, bank)) for bank in filters]
            for picture in image
        ]
    )


def conv_grads_reference(image, filters, out_grad):
    """Gradients of ``sum(conv2d(image, filters) * out_grad)``.

    The input's is the full cross-correlation of ``out_grad`` with the filters; the filters' is
    the valid cross-correlation of the image with ``out_grad``, flipped back.
    """
    image_grad = numpy.array(
        [
            [sum(correlate2d(g, bank[c], "full") for g, bank in zip(grads, filters)) for c in range(image.shape[1])]
            for grads in out_grad
        ]
    )
    filters_grad = numpy.array(
        [
            [
                sum(correlate2d(picture[c], grads[k], "valid") for picture, grads in zip(image, out_grad))[::-1, ::-1]
                for c in range(image.shape[1])
            ]
            for k in range(filters.shape[0])
        ]
    )
    return image_grad, filters_grad


def pool_reference(image, ws):
    """Max pooling as the elementwise max of the strided views ``image[..., u::w_r, v::w_c]``, one per
    window position ``(u, v)``, and the gradient of ``sum(pool * out_grad)``.

    Every input equal to its window's max gets that window's output gradient, ties included,
    as Theano's MaxPoolGrad.
    """
    w_rows, w_cols = ws
    rows, cols = image.shape[2] // w_rows * w_rows, image.shape[3] // w_cols * w_cols
    views = [(slice(None), slice(None), slice(u, rows, w_rows), slice(v, cols, w_cols)) for u in range(w_rows) for v in range(w_cols)]
    out = numpy.maximum.reduce([image[view] for view in views])

    def backward(out_grad):
        image_grad = numpy.zeros_like(image)
        for view in views:
            image_grad[view] += (image[view] == out) * out_grad
        return image_grad

    return out, backward


# ----------------------------------------------------------------------------------------------
# Compiled functions, one per mode and shape, shared by the tests


@functools.cache
def conv_step(mode, input_shape, filter_shape, method=None):
    """Compiled ``(image, filters, out_grad) -> (out, d image, d filters)`` of
    ``cost = sum(conv2d(image, filters) * out_grad)``."""
    image = T.tensor4("image", dtype="float64")
    filters = T.tensor4("filters", dtype="float64")
    out_grad = T.tensor4("out_grad", dtype="float64")
    out = conv2d(image, filters, input_shape, filter_shape, method=method)
    cost = (out * out_grad).sum()
    step = function([image, filters, out_grad], [out, *grad(cost, [image, filters])])
    return lambda *values: [numpy.asarray(value) for value in step(*values)]


@functools.cache
def pool_step(mode, shape, ws):
    """Compiled ``(image, out_grad) -> (out, d image)`` of ``cost = sum(pool_2d(image) * out_grad)``."""
    image = T.tensor4("image", dtype="float64")
    out_grad = T.tensor4("out_grad", dtype="float64")
    # A static shape, as JAX mode needs: conv2d's output has one.
    out = pool_2d(image.reshape(shape), ws=ws, ignore_border=True)
    step = function([image, out_grad], [out, grad((out * out_grad).sum(), image)])
    return lambda *values: [numpy.asarray(value) for value in step(*values)]


def _random_conv_values(input_shape, filter_shape, seed=0):
    rng = numpy.random.default_rng(seed)
    out_shape = conv_output_shape(input_shape, filter_shape)
    return (rng.standard_normal(input_shape), rng.standard_normal(filter_shape), rng.standard_normal(out_shape))


# ----------------------------------------------------------------------------------------------
# conv2d


@float64
@pytest.mark.parametrize("input_shape, filter_shape", CONV_SHAPES, ids=_shape_id)
def test_conv2d_matches_scipy(mode, input_shape, filter_shape):
    image, filters, out_grad = _random_conv_values(input_shape, filter_shape)
    out, _, _ = conv_step(mode, input_shape, filter_shape)(image, filters, out_grad)
    assert out.shape == conv_output_shape(input_shape, filter_shape)
    numpy.testing.assert_allclose(out, conv_reference(image, filters), rtol=1e-10, atol=1e-10)


@float64
def test_conv2d_flips_the_filter(mode):
    """A true convolution: the filter's bottom-right tap meets the window's top-left pixel."""
    image = numpy.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]
    filters = numpy.array([[1.0, 2.0], [3.0, 0.0]]).reshape(1, 1, 2, 2)
    out, _, _ = conv_step(mode, (1, 1, 3, 3), (1, 1, 2, 2))(image, filters, numpy.zeros((1, 1, 2, 2)))
    # Flipped filter [[0 3] [2 1]]: top-left 0*1 + 3*2 + 2*4 + 1*5 = 19; cross-correlation would give 17.
    numpy.testing.assert_allclose(out[0, 0], [[19.0, 25.0], [37.0, 43.0]])


@float64
@pytest.mark.parametrize("input_shape, filter_shape", CONV_SHAPES, ids=_shape_id)
def test_conv2d_gradients_match_numpy(mode, input_shape, filter_shape):
    image, filters, out_grad = _random_conv_values(input_shape, filter_shape)
    _, image_grad, filters_grad = conv_step(mode, input_shape, filter_shape)(image, filters, out_grad)
    expected_image_grad, expected_filters_grad = conv_grads_reference(image, filters, out_grad)
    numpy.testing.assert_allclose(image_grad, expected_image_grad, rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(filters_grad, expected_filters_grad, rtol=1e-10, atol=1e-10)


@float64
@pytest.mark.parametrize("input_shape, filter_shape", CONV_SHAPES[:1] + CONV_SHAPES[-1:], ids=_shape_id)
def test_conv2d_gradients_match_finite_differences(mode, input_shape, filter_shape):
    """Central differences of the cost, computed from the compiled forward, at random entries."""
    step = conv_step(mode, input_shape, filter_shape)
    image, filters, out_grad = _random_conv_values(input_shape, filter_shape, seed=1)
    _, image_grad, filters_grad = step(image, filters, out_grad)
    rng = numpy.random.default_rng(2)
    eps = 1e-6

    def cost(image, filters):
        return (step(image, filters, out_grad)[0] * out_grad).sum()

    for value, analytic, which in ((image, image_grad, 0), (filters, filters_grad, 1)):
        for flat in rng.choice(value.size, size=min(8, value.size), replace=False):
            index = numpy.unravel_index(flat, value.shape)
            plus, minus = value.copy(), value.copy()
            plus[index] += eps
            minus[index] -= eps
            args_plus = (plus, filters) if which == 0 else (image, plus)
            args_minus = (minus, filters) if which == 0 else (image, minus)
            numeric = (cost(*args_plus) - cost(*args_minus)) / (2 * eps)
            assert numeric == pytest.approx(analytic[index], rel=1e-5, abs=1e-6)


@float64
@pytest.mark.parametrize("method", ["slices", "gather", "patches"])
def test_conv2d_im2col_formulations_agree(mode, method):
    """Each formulation the mode does not pick by default gives the same values and gradients."""
    if method == default_method():
        pytest.skip(f"{method} is the default in mode {mode}: the tests above check it")
    if mode == "numba" and method == "slices":
        pytest.skip("numba compiles the gradient of the slices for many minutes")
    input_shape, filter_shape = CONV_SHAPES[0]
    values = _random_conv_values(input_shape, filter_shape)
    default = conv_step(mode, input_shape, filter_shape)(*values)
    for got, expected in zip(conv_step(mode, input_shape, filter_shape, method)(*values), default):
        numpy.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _check_against_numpy(step, input_shape, filter_shape):
    image, filters, out_grad = _random_conv_values(input_shape, filter_shape)
    out, image_grad, filters_grad = step(image, filters, out_grad)
    expected_image_grad, expected_filters_grad = conv_grads_reference(image, filters, out_grad)
    numpy.testing.assert_allclose(out, conv_reference(image, filters), rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(image_grad, expected_image_grad, rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(filters_grad, expected_filters_grad, rtol=1e-10, atol=1e-10)


@pytest.fixture
def jax_mode():
    if "jax" not in available_modes():
        pytest.skip("JAX mode not available")
    with in_mode("jax"):
        yield "jax"


@float64
@pytest.mark.parametrize("input_shape, filter_shape", CONV_SHAPES, ids=_shape_id)
def test_conv2d_xla_matches_numpy(jax_mode, input_shape, filter_shape):
    """JAX's own convolution (method "xla"): values and both gradients, as the im2col ones."""
    _check_against_numpy(conv_step(jax_mode, input_shape, filter_shape, "xla"), input_shape,
                         filter_shape)


@float64
def test_conv2d_xla_runs_outside_jax_mode():
    """Its ``perform`` runs the same JAX function, so a graph built with it compiles in C mode."""
    if "jax" not in available_modes():
        pytest.skip("JAX mode not available")
    with in_mode("c"):
        _check_against_numpy(conv_step("c", *CONV_SHAPES[0], "xla"), *CONV_SHAPES[0])


# ----------------------------------------------------------------------------------------------
# pool_2d


@float64
@pytest.mark.parametrize("shape, ws", POOL_SHAPES, ids=_shape_id)
def test_pool_2d_matches_numpy(mode, shape, ws):
    rng = numpy.random.default_rng(3)
    image, out_grad = rng.standard_normal(shape), rng.standard_normal(pool_output_shape(shape, ws))
    out, image_grad = pool_step(mode, shape, ws)(image, out_grad)
    expected_out, backward = pool_reference(image, ws)
    assert out.shape == pool_output_shape(shape, ws)
    numpy.testing.assert_array_equal(out, expected_out)
    numpy.testing.assert_array_equal(image_grad, backward(out_grad))


@float64
def test_pool_2d_gradient_goes_to_every_tied_max(mode):
    """As Theano's MaxPoolGrad: each input equal to its window's max gets the output gradient."""
    image = numpy.zeros((2, 3, 5, 5))
    image[0, 0, :2, :2] = [[1.0, 1.0], [0.0, 1.0]]  # three tied maxima
    image[0, 1, 2:4, 2:4] = 4.0  # a whole window tied
    image[1, 2, 4, :] = 9.0  # the dropped last row plays no part
    out_grad = numpy.arange(1.0, 1 + 2 * 3 * 2 * 2).reshape(2, 3, 2, 2)
    out, image_grad = pool_step(mode, (2, 3, 5, 5), (2, 2))(image, out_grad)
    expected_out, backward = pool_reference(image, (2, 2))
    numpy.testing.assert_array_equal(out, expected_out)
    numpy.testing.assert_array_equal(image_grad, backward(out_grad))
    numpy.testing.assert_array_equal(image_grad[0, 0, :2, :2], [[1.0, 1.0], [0.0, 1.0]])
    numpy.testing.assert_array_equal(image_grad[0, 1, 2:4, 2:4], numpy.full((2, 2), out_grad[0, 1, 1, 1]))
    assert not image_grad[1, 2, 4, :].any()


# ----------------------------------------------------------------------------------------------
# LeNet's first layer at full batch, in float32 as it trains


def test_lenet_layer0_conv_pool_float32(mode):
    input_shape, filter_shape = (500, 1, 28, 28), (20, 1, 5, 5)
    conv_shape = conv_output_shape(input_shape, filter_shape)  # 28 - 5 + 1 = 24
    image = T.tensor4("image", dtype="float32")
    filters = T.tensor4("filters", dtype="float32")
    pooled = pool_2d(conv2d(image, filters, input_shape, filter_shape), ws=(2, 2), ignore_border=True)
    layer = function([image, filters], pooled)
    rng = numpy.random.default_rng(4)
    image_value = rng.random(input_shape, dtype="float32")
    filters_value = rng.uniform(-0.2, 0.2, filter_shape).astype("float32")
    out = numpy.asarray(layer(image_value, filters_value))
    assert out.dtype == numpy.float32
    assert out.shape == pool_output_shape(conv_shape, (2, 2)) == (500, 20, 12, 12)
    expected, _ = pool_reference(conv_reference(image_value.astype("float64"), filters_value), (2, 2))
    numpy.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# Shapes and errors (nothing is compiled)


def test_output_shapes():
    assert conv_output_shape((500, 1, 28, 28), (20, 1, 5, 5)) == (500, 20, 24, 24)
    assert pool_output_shape((500, 20, 24, 24), (2, 2)) == (500, 20, 12, 12)
    assert conv_output_shape((500, 20, 12, 12), (50, 20, 5, 5)) == (500, 50, 8, 8)
    assert pool_output_shape((500, 50, 8, 8), (2, 2)) == (500, 50, 4, 4)
    assert pool_output_shape((1, 1, 5, 7), (2, 3)) == (1, 1, 2, 2)


@pytest.mark.parametrize(
    "input_shape, filter_shape, message",
    [
        ((500, 1, 28, 28), (20, 3, 5, 5), "filter_shape\\[1\\] must equal image_shape\\[1\\]"),
        ((1, 1, 4, 4), (1, 1, 5, 3), "f_rows <= 4 and f_cols <= 4"),
        ((1, 1, 4, 4), (1, 1, 3, 5), "f_rows <= 4 and f_cols <= 4"),
        ((28, 28), (20, 1, 5, 5), "image_shape \\(28, 28\\) must be 4 positive ints"),
        ((1, 1, 28, 28), (20, 1, 5), "filter_shape \\(20, 1, 5\\) must be 4 positive ints"),
        ((1, 1, 28.0, 28), (20, 1, 5, 5), "must be 4 positive ints"),
    ],
)
def test_conv2d_rejects_bad_shapes(input_shape, filter_shape, message):
    with pytest.raises(ValueError, match=message):
        conv2d(T.tensor4("image"), T.tensor4("filters"), input_shape, filter_shape)


def test_set_default_method():
    by_mode = default_method()
    try:
        ops.set_default_method("xla")
        assert default_method() == "xla"
        with pytest.raises(ValueError, match="unknown conv2d method 'fft'"):
            ops.set_default_method("fft")
        assert default_method() == "xla"
    finally:
        ops.set_default_method(None)
    assert default_method() == by_mode


def test_conv2d_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown conv2d method 'fft': choose one of slices, "
                                         "gather, patches, xla"):
        conv2d(T.tensor4("image"), T.tensor4("filters"), (1, 1, 4, 4), (1, 1, 2, 2), method="fft")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "average_exc_pad"}, "only 'max'"),
        ({"ignore_border": False}, "needs the input's rows and columns as ints"),
        ({"stride": (1, 1)}, "pass input_shape \\(got None"),
        ({"pad": (1, 0), "ignore_border": False}, "needs ignore_border=True"),
        ({"pad": (2, 0)}, "pad \\(2, 0\\) must be smaller than ws \\(2, 2\\)"),
        ({"ws": (2,)}, "ws \\(2,\\) must be 2 positive ints"),
        ({"ws": (0, 2)}, "must be 2 positive ints"),
    ],
)
def test_pool_2d_rejects_what_it_does_not_implement(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pool_2d(T.tensor4("image"), **kwargs)


def test_pool_2d_accepts_stride_equal_to_ws():
    pool_2d(T.tensor4("image"), ws=(3, 2), stride=(3, 2))


# ----------------------------------------------------------------------------------------------
# Padding, strides and cross-correlation (Theano's border_mode, subsample, filter_flip)

# (input_shape, filter_shape, border_mode, subsample, filter_flip): each padding Theano names, an
# int and a pair, strides that do and do not divide the padded image, both flips.
GEOMETRIES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), "half", (1, 1), False),
    ((2, 2, 6, 5), (3, 2, 2, 3), "full", (2, 1), True),
    ((1, 2, 7, 8), (2, 2, 3, 2), (2, 1), (2, 3), False),
    ((2, 1, 5, 5), (2, 1, 3, 3), 1, (3, 2), True),
]


def _geometry_id(case):
    input_shape, filter_shape, border_mode, subsample, flip = case
    return f"{_shape_id((input_shape, filter_shape))}-{border_mode}-s{subsample[0]}{subsample[1]}-{'conv' if flip else 'corr'}"


def geometry_reference(image, filters, border_mode, subsample, filter_flip):
    """Zero-pad the image with NumPy, then SciPy's valid convolve2d (or correlate2d), keeping
    every ``subsample``-th output."""
    pad = ops.border_padding(border_mode, filters.shape)
    padded = numpy.pad(image, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    reference = convolve2d if filter_flip else correlate2d
    full = numpy.array([[sum(reference(channel, kernel, "valid") for channel, kernel in zip(picture, bank))
                         for bank in filters] for picture in padded])
    return full[:, :, ::subsample[0], ::subsample[1]]


def transposed_reference(out_grad, filters, input_shape, border_mode, subsample, filter_flip):
    """The adjoint by a loop over ``out_grad``'s pixels: each adds its filters' values, weighted,
    to the window of the padded image it was computed from (flipped for a true convolution)."""
    pad = ops.border_padding(border_mode, filters.shape)
    _, _, f_rows, f_cols = filters.shape
    batch, channels, rows, cols = input_shape
    image = numpy.zeros((batch, channels, rows + 2 * pad[0], cols + 2 * pad[1]))
    taps = filters[:, :, ::-1, ::-1] if filter_flip else filters
    for i in range(out_grad.shape[2]):
        for j in range(out_grad.shape[3]):
            r, q = i * subsample[0], j * subsample[1]
            image[:, :, r:r + f_rows, q:q + f_cols] += numpy.einsum("bk,kcuv->bcuv", out_grad[:, :, i, j], taps)
    return image[:, :, pad[0]:pad[0] + rows, pad[1]:pad[1] + cols]


@functools.cache
def geometry_step(mode, case, method=None, transposed=False, batch_known=True):
    """Compiled ``(x, filters, g) -> (out, d x, d filters)`` of ``cost = sum(op(x, filters) * g)``
    for ``conv2d`` (or ``conv2d_grad_wrt_inputs``, whose ``x`` has the convolution's output
    shape) with the geometry of ``case``."""
    input_shape, filter_shape, border_mode, subsample, flip = case
    shape = input_shape if batch_known else (None, *input_shape[1:])
    x, filters, g = (T.tensor4(name, dtype="float64") for name in ("x", "filters", "g"))
    op = ops.conv2d_grad_wrt_inputs if transposed else conv2d
    out = op(x, filters, shape, filter_shape, border_mode, subsample, flip, method=method)
    cost = (out * g).sum()
    step = function([x, filters, g], [out, *grad(cost, [x, filters])])
    return lambda *values: [numpy.asarray(value) for value in step(*values)]


def _geometry_values(case, seed=0):
    input_shape, filter_shape, border_mode, subsample, _ = case
    rng = numpy.random.default_rng(seed)
    out_shape = conv_output_shape(input_shape, filter_shape, border_mode, subsample)
    return rng.standard_normal(input_shape), rng.standard_normal(filter_shape), rng.standard_normal(out_shape)


@float64
@pytest.mark.parametrize("case", GEOMETRIES, ids=_geometry_id)
def test_conv2d_geometry_matches_scipy(mode, case):
    """Values and both gradients: the image's is the transposed convolution of the output
    gradient (checked by the loop above), the filters' by finite differences below."""
    image, filters, out_grad = _geometry_values(case)
    input_shape, _, border_mode, subsample, flip = case
    out, image_grad, _ = geometry_step(mode, case)(image, filters, out_grad)
    numpy.testing.assert_allclose(out, geometry_reference(image, filters, border_mode, subsample, flip),
                                  rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(image_grad, transposed_reference(out_grad, filters, input_shape, border_mode,
                                                                   subsample, flip), rtol=1e-10, atol=1e-10)


@float64
@pytest.mark.parametrize("method", ["slices", "gather", "patches", "xla"])
def test_conv2d_geometry_methods_agree(mode, method):
    """Every method, with the batch given and (but in JAX mode, which compiles for static shapes
    only) left None, gives the default's values and gradients."""
    if method == "xla" and mode != "jax":
        pytest.skip("the xla method is for PyTensor's JAX mode")
    if mode == "numba" and method == "slices":
        pytest.skip("numba compiles the gradient of the slices for many minutes")
    case = GEOMETRIES[2]
    values = _geometry_values(case)
    default = geometry_step(mode, case)(*values)
    for batch_known in (True,) if mode == "jax" else (True, False):  # JAX: static shapes
        for got, expected in zip(geometry_step(mode, case, method, batch_known=batch_known)(*values), default):
            numpy.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _finite_differences(step, values, which, rng, count=6, eps=1e-6):
    """Central differences of ``sum(out * g)`` at ``count`` random entries of ``values[which]``,
    with the analytic gradients ``step`` returns there."""
    analytic = step(*values)[1 + which]
    for flat in rng.choice(values[which].size, size=min(count, values[which].size), replace=False):
        index = numpy.unravel_index(flat, values[which].shape)
        shifted = []
        for sign in (1, -1):
            moved = [value.copy() for value in values]
            moved[which][index] += sign * eps
            shifted.append((step(*moved)[0] * values[2]).sum())
        assert (shifted[0] - shifted[1]) / (2 * eps) == pytest.approx(analytic[index], rel=1e-5, abs=1e-6)


@float64
@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "transposed"])
def test_geometry_gradients_match_finite_differences(mode, transposed):
    case = GEOMETRIES[1]
    image, filters, out_grad = _geometry_values(case, seed=1)
    values = [out_grad, filters, image] if transposed else [image, filters, out_grad]
    step = geometry_step(mode, case, transposed=transposed)
    rng = numpy.random.default_rng(2)
    for which in (0, 1):
        _finite_differences(step, values, which, rng)


@float64
@pytest.mark.parametrize("case", GEOMETRIES, ids=_geometry_id)
def test_conv2d_grad_wrt_inputs_is_the_adjoint(mode, case):
    """The loop above, and the inner-product identity <conv2d(x), y> = <x, conv2d_grad_wrt_inputs(y)>
    with conv2d compiled too; the batch left None (but in JAX mode)."""
    image, filters, out_grad = _geometry_values(case, seed=3)
    input_shape, _, border_mode, subsample, flip = case
    step = geometry_step(mode, case, transposed=True, batch_known=mode == "jax")
    out, _, _ = step(out_grad, filters, image)
    assert out.shape == input_shape
    numpy.testing.assert_allclose(out, transposed_reference(out_grad, filters, input_shape, border_mode, subsample,
                                                            flip), rtol=1e-10, atol=1e-10)
    forward, _, _ = geometry_step(mode, case)(image, filters, out_grad)
    assert (forward * out_grad).sum() == pytest.approx((image * out).sum(), rel=1e-12)


@float64
def test_conv2d_grad_wrt_inputs_xla_matches_col2im(jax_mode):
    for case in GEOMETRIES:
        image, filters, out_grad = _geometry_values(case, seed=4)
        values = (out_grad, filters, image)
        expected = geometry_step(jax_mode, case, transposed=True)(*values)
        got = geometry_step(jax_mode, case, "xla", transposed=True)(*values)
        for a, b in zip(got, expected):
            numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_conv_output_shape_geometry():
    assert conv_output_shape((None, 3, 7, 7), (8, 3, 3, 3), "half", 2) == (None, 8, 4, 4)
    assert conv_output_shape((1, 3, 7, 6), (8, 3, 3, 2), "full") == (1, 8, 9, 7)
    assert conv_output_shape((1, 3, 7, 6), (8, 3, 3, 3), (100, 1), (1, 2)) == (1, 8, 205, 3)
    # FCN-8's first layer: 100 zeros around a 3x3 convolution grow each side by 198
    assert conv_output_shape((None, 3, 288, 384), (64, 3, 3, 3), 100) == (None, 64, 486, 582)
    with pytest.raises(ValueError, match="border_mode 'same': choose 'valid', 'full', 'half'"):
        conv_output_shape((1, 1, 5, 5), (1, 1, 3, 3), "same")
    with pytest.raises(ValueError, match="subsample \\(0, 1\\) must be an int or a pair of ints >= 1"):
        conv_output_shape((1, 1, 5, 5), (1, 1, 3, 3), subsample=(0, 1))
    with pytest.raises(ValueError, match="padded by \\(1, 1\\): a valid convolution needs f_rows <= 4"):
        conv_output_shape((1, 1, 2, 2), (1, 1, 5, 3), 1)


# ----------------------------------------------------------------------------------------------
# pool_2d with strides, padding and ignore_border=False

# (shape, ws, stride, pad, ignore_border)
POOL_GEOMETRIES = [
    ((2, 3, 7, 6), (3, 2), (2, 1), (0, 0), True),
    ((1, 2, 5, 7), (2, 3), (2, 2), (1, 1), True),
    ((2, 1, 5, 7), (2, 2), None, (0, 0), False),
    ((1, 2, 6, 5), (3, 2), (1, 3), (0, 0), False),
]


def pool_geometry_reference(image, ws, stride, pad, ignore_border):
    """A loop over the windows as Theano's ``Pool.perform`` bounds them: in the padded image,
    cut to the image (the padding takes no part), the max; and the gradient of ``sum(out * g)``."""
    stride = ws if stride is None else stride
    rows, cols = image.shape[2:]
    out_shape = pool_output_shape(image.shape, ws, ignore_border, stride, pad)
    out = numpy.empty(out_shape)
    windows = {}
    for i in range(out_shape[2]):
        for j in range(out_shape[3]):
            r0, q0 = max(i * stride[0] - pad[0], 0), max(j * stride[1] - pad[1], 0)
            r1, q1 = min(i * stride[0] - pad[0] + ws[0], rows), min(j * stride[1] - pad[1] + ws[1], cols)
            windows[i, j] = (slice(r0, r1), slice(q0, q1))
            out[:, :, i, j] = image[:, :, r0:r1, q0:q1].max(axis=(2, 3))

    def backward(out_grad):
        image_grad = numpy.zeros_like(image)
        for (i, j), (rs, qs) in windows.items():
            tied = image[:, :, rs, qs] == out[:, :, i, j, None, None]
            image_grad[:, :, rs, qs] += tied * out_grad[:, :, i, j, None, None]
        return image_grad

    return out, backward


@functools.cache
def pool_geometry_step(mode, case):
    shape, ws, stride, pad, ignore_border = case
    image = T.tensor4("image", dtype="float64")
    out_grad = T.tensor4("out_grad", dtype="float64")
    out = pool_2d(image, ws=ws, ignore_border=ignore_border, stride=stride, pad=pad, input_shape=shape)
    step = function([image, out_grad], [out, grad((out * out_grad).sum(), image)])
    return lambda *values: [numpy.asarray(value) for value in step(*values)]


@float64
@pytest.mark.parametrize("case", POOL_GEOMETRIES, ids=lambda case: f"{_shape_id(case[:2])}-s{case[2]}-p{case[3]}-ib{case[4]}")
def test_pool_2d_geometry_matches_numpy(mode, case):
    shape, ws, stride, pad, ignore_border = case
    rng = numpy.random.default_rng(5)
    image = rng.standard_normal(shape)
    image[0, 0, :2, :2] = 1.0  # ties
    out_shape = pool_output_shape(shape, ws, ignore_border, stride, pad)
    out_grad = rng.standard_normal(out_shape)
    out, image_grad = pool_geometry_step(mode, case)(image, out_grad)
    expected, backward = pool_geometry_reference(image, ws, stride, pad, ignore_border)
    assert out.shape == out_shape
    numpy.testing.assert_array_equal(out, expected)
    numpy.testing.assert_allclose(image_grad, backward(out_grad), rtol=1e-12, atol=1e-12)


def test_pool_output_shape_geometry():
    assert pool_output_shape((1, 1, 5, 7), (2, 2), ignore_border=False) == (1, 1, 3, 4)
    assert pool_output_shape((1, 1, 6, 5), (3, 2), False, (1, 3)) == (1, 1, 4, 2)
    assert pool_output_shape((None, 1, 5, 7), (2, 3), True, (2, 2), (1, 1)) == (None, 1, 3, 4)


# ----------------------------------------------------------------------------------------------
# On the theano engine: Theano's own ops, as Lasagne calls them


theano_only = pytest.mark.skipif(engine.name() != "theano", reason="Theano's own ops exist on the theano engine only")


@float64
@theano_only
@pytest.mark.parametrize("case", GEOMETRIES, ids=_geometry_id)
def test_geometry_matches_theano(case):
    from theano.tensor.nnet import conv2d as theano_conv2d
    from theano.tensor.nnet.abstract_conv import conv2d_grad_wrt_inputs as theano_transposed

    input_shape, filter_shape, border_mode, subsample, flip = case
    image, filters, out_grad = _geometry_values(case, seed=6)
    x, w, g = (T.tensor4(name, dtype="float64") for name in "xwg")
    ours = function([x, w, g], [conv2d(x, w, input_shape, filter_shape, border_mode, subsample, flip),
                                ops.conv2d_grad_wrt_inputs(g, w, input_shape, filter_shape, border_mode,
                                                           subsample, flip)])
    theirs = function([x, w, g], [
        theano_conv2d(x, w, input_shape, filter_shape, border_mode=border_mode, subsample=subsample,
                      filter_flip=flip),
        theano_transposed(g, w, input_shape, filter_shape, border_mode=border_mode, subsample=subsample,
                          filter_flip=flip)])
    for a, b in zip(ours(image, filters, out_grad), theirs(image, filters, out_grad)):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@float64
@theano_only
@pytest.mark.parametrize("case", POOL_GEOMETRIES, ids=lambda case: f"{case[0]}-{case[1]}-{case[2]}-{case[3]}-{case[4]}")
def test_pool_geometry_matches_theano(case):
    from theano.tensor.signal.pool import pool_2d as theano_pool_2d

    shape, ws, stride, pad, ignore_border = case
    image = T.tensor4("image", dtype="float64")
    out_grad = T.tensor4("out_grad", dtype="float64")
    outputs = []
    for out in (pool_2d(image, ws, ignore_border, stride, pad, input_shape=shape),
                theano_pool_2d(image, ws=ws, ignore_border=ignore_border, stride=stride, pad=pad, mode="max")):
        outputs += [out, grad((out * out_grad).sum(), image)]
    step = function([image, out_grad], outputs)
    rng = numpy.random.default_rng(7)
    values = rng.standard_normal(shape) - 3.0  # below zero: the padding takes no part in the max
    ours_out, ours_grad, theirs_out, theirs_grad = step(values, rng.standard_normal(pool_output_shape(
        shape, ws, ignore_border, stride, pad)))
    numpy.testing.assert_array_equal(ours_out, theirs_out)
    numpy.testing.assert_allclose(ours_grad, theirs_grad, rtol=1e-12, atol=1e-12)


def _convolutions(variable):
    """The kinds of the graph's convolution nodes: "xla" for JAX's own, "gathered" for a
    product of gathered patches (an AdvancedSubtensor) or a col2im scatter (AdvancedIncSubtensor)."""
    from pytensor.graph.traversal import ancestors

    kinds = set()
    for node in {v.owner for v in ancestors([variable]) if v.owner is not None}:
        name = type(node.op).__name__
        if name == "XlaConv":
            kinds.add("xla")
        elif name in ("AdvancedSubtensor", "AdvancedSubtensor1", "AdvancedIncSubtensor",
                      "AdvancedIncSubtensor1"):
            kinds.add("gathered")
    return kinds


@float64
def test_jax_mode_convolves_large_images_with_jaxs_own_convolution(jax_mode, monkeypatch):
    """By default, JAX mode's patches stop at PATCH_ENTRIES_LIMIT values an image (their constant
    indexes filled U-Net's memory at 512x512): past it, conv2d and conv2d_grad_wrt_inputs build
    JAX's own convolution, with the same values; a method given or set by set_default_method
    stands."""
    input_shape, filter_shape = (2, 3, 9, 8), (4, 3, 3, 3)
    entries = 7 * 6 * 3 * 3 * 3  # out_rows * out_cols * channels * f_rows * f_cols
    image, filters = T.tensor4("image"), T.tensor4("filters")
    values = [numpy.random.RandomState(3).rand(*shape) for shape in (input_shape, filter_shape)]

    def built(method=None):
        out = conv2d(image, filters, input_shape, filter_shape, method=method)
        back = ops.conv2d_grad_wrt_inputs(out, filters, input_shape, filter_shape, method=method)
        return out, back

    assert all(_convolutions(v) == {"gathered"} for v in built())  # under the limit
    below = function([image, filters], list(built()))(*values)
    monkeypatch.setattr(ops, "PATCH_ENTRIES_LIMIT", entries - 1)
    assert all(_convolutions(v) == {"xla"} for v in built())  # past it
    for got, expected in zip(function([image, filters], list(built()))(*values), below):
        numpy.testing.assert_allclose(got, expected, rtol=1e-12)
    assert all(_convolutions(v) == {"gathered"} for v in built("patches"))  # a method given
    try:
        ops.set_default_method("patches")
        assert all(_convolutions(v) == {"gathered"} for v in built())
    finally:
        ops.set_default_method(None)
