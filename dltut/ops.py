"""Convolution and max pooling, the two ops LeNet needs that PyTensor 3 no longer ships.

Both are written with plain tensor operations that PyTensor and theano-pymc share (``reshape``,
``dimshuffle``, slicing, ``stack``, indexing by an integer array, ``dot``, ``max``), so their
gradients come from the engine's own ``grad`` and they compile in every mode (``c``, ``numba``,
``jax``).

``conv2d`` is Theano's ``conv2d`` in its default ``"valid"`` mode, a true convolution: the filter
is flipped in both spatial axes. ``pool_2d`` is Theano's ``pool_2d`` for the one case the tutorials
use: non-overlapping max pooling that drops the trailing rows and columns a window cannot fill.

Shapes are 4-tuples of Python ints, ``(batch, channels, rows, cols)`` for images and
``(n_filters, channels, f_rows, f_cols)`` for filters; ``conv_output_shape`` and
``pool_output_shape`` give the sizes the next layer needs:

>>> conv_output_shape((500, 1, 28, 28), (20, 1, 5, 5))  # 28 - 5 + 1 = 24
(500, 20, 24, 24)
>>> pool_output_shape((500, 20, 24, 24), (2, 2))  # 24 // 2 = 12
(500, 20, 12, 12)
"""

import numbers

import numpy

from dltut import engine
from dltut.engine import T

# ----------------------------------------------------------------------------------------------
# Shapes


def _check_shape(what, shape):
    """``shape`` as a tuple of four positive Python ints, or a ValueError naming it."""
    shape = tuple(shape)
    if len(shape) != 4 or not all(isinstance(n, numbers.Integral) and n > 0 for n in shape):
        raise ValueError(f"{what} {shape!r} must be 4 positive ints")
    return tuple(int(n) for n in shape)


def _check_window(ws):
    ws = tuple(ws)
    if len(ws) != 2 or not all(isinstance(n, numbers.Integral) and n > 0 for n in ws):
        raise ValueError(f"ws {ws!r} must be 2 positive ints (window rows, window cols)")
    return tuple(int(n) for n in ws)


def conv_output_shape(image_shape, filter_shape):
    """The shape of ``conv2d``'s output in valid mode.

    ``(batch, channels, rows, cols)`` convolved with ``(n_filters, channels, f_rows, f_cols)``
    gives ``(batch, n_filters, rows - f_rows + 1, cols - f_cols + 1)``: a filter fits at that
    many offsets along each axis.
    """
    image_shape = _check_shape("image_shape", image_shape)
    filter_shape = _check_shape("filter_shape", filter_shape)
    batch, channels, rows, cols = image_shape
    n_filters, filter_channels, f_rows, f_cols = filter_shape
    if filter_channels != channels:
        raise ValueError(
            f"filter_shape {filter_shape!r} has {filter_channels} channels, but image_shape "
            f"{image_shape!r} has {channels}: filter_shape[1] must equal image_shape[1]"
        )
    if f_rows > rows or f_cols > cols:
        raise ValueError(
            f"filter_shape {filter_shape!r} is larger than image_shape {image_shape!r}: "
            f"a valid convolution needs f_rows <= {rows} and f_cols <= {cols}"
        )
    return (batch, n_filters, rows - f_rows + 1, cols - f_cols + 1)


def pool_output_shape(shape, ws=(2, 2)):
    """The shape of ``pool_2d``'s output: ``(batch, channels, rows // ws[0], cols // ws[1])``.

    Rows and columns that do not fill a whole window are dropped (``ignore_border=True``).
    """
    shape = _check_shape("shape", shape)
    ws = _check_window(ws)
    batch, channels, rows, cols = shape
    return (batch, channels, rows // ws[0], cols // ws[1])


# ----------------------------------------------------------------------------------------------
# Convolution


def conv2d(input, filters, input_shape, filter_shape, *, method=None):
    r"""Valid 2-D convolution of a batch of multi-channel images with a bank of filters.

    .. math::

        out[b, k, i, j] = \sum_{c, u, v} filters[k, c, u, v] \,
                                         input[b, c, i + f_r - 1 - u, j + f_c - 1 - v]

    for ``0 <= i < rows - f_r + 1`` and ``0 <= j < cols - f_c + 1``: a true convolution, as
    Theano's ``conv2d`` and ``scipy.signal.convolve2d``, which flip the filter in both spatial
    axes and slide it over every position where it fits entirely (a cross-correlation, as in
    most later libraries, would read ``input[b, c, i + u, j + v]``).

    ``input`` is ``(batch, channels, rows, cols)`` and ``filters`` ``(n_filters, channels,
    f_rows, f_cols)``; ``input_shape`` and ``filter_shape`` are those shapes as Python ints,
    which fix every size in the graph (JAX mode needs them static). The output has
    ``conv_output_shape(input_shape, filter_shape)``: ``(500, 1, 28, 28)`` digits and
    ``(20, 1, 5, 5)`` filters give ``(500, 20, 24, 24)``, as ``28 - 5 + 1 = 24``.

    Computed as one matrix product (im2col): the im2col matrix has a row per filter entry
    ``(c, u, v)`` and a column per output pixel ``(i, j, b)``, holding the input value that
    entry meets there; ``filters`` reshaped to ``(n_filters, channels * f_rows * f_cols)``
    multiplies all columns at once. The gradients are the engine's.

    ``method`` chooses how that matrix is built, ``"slices"`` or ``"gather"``; ``"patches"``
    builds its transpose, a row per output pixel ``(b, i, j)`` gathered from each image as it
    lies, and multiplies it by the filters' transpose; ``"xla"``, for PyTensor's JAX mode, is JAX's
    own convolution (``dltut.backend.xla_conv``; cuDNN on NVIDIA GPUs) instead of im2col. By default,
    ``default_method()``: slices in PyTensor's C mode, patches in its JAX mode, the gather
    elsewhere.
    """
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape)
    _, channels, f_rows, f_cols = filter_shape
    method = _check_method(default_method() if method is None else method)
    if method == "xla":
        if engine.name() != "pytensor":
            raise ValueError(f"conv2d method 'xla' needs PyTensor's JAX backend; engine "
                             f"{engine.name()} has none: use method 'slices' or 'gather'")
        from dltut.backend import xla_conv

        return xla_conv.conv2d(input.reshape(input_shape), filters.reshape(filter_shape))
    kernel = filters.reshape((n_filters, channels * f_rows * f_cols))
    if method == "patches":
        patches = _patches(input, input_shape, filter_shape)
        out = T.dot(patches, kernel.T)  # (batch * out_rows * out_cols, n_filters)
        return out.reshape((batch, out_rows, out_cols, n_filters)).dimshuffle(0, 3, 1, 2)
    # (channels, rows, cols, batch): an image pixel's values over the batch lie side by side.
    pixels = input.reshape(input_shape).dimshuffle(1, 2, 3, 0)
    columns = IM2COL[method](pixels, input_shape, filter_shape)
    out = T.dot(kernel, columns)  # (n_filters, out_rows * out_cols * batch)
    return out.reshape((n_filters, out_rows, out_cols, batch)).dimshuffle(3, 0, 1, 2)


# Two ways to build the same im2col matrix, ``(channels * f_rows * f_cols, out_rows * out_cols *
# batch)``, whose row ``(c, u, v)`` and column ``(i, j, b)`` hold ``input[b, c, i + f_rows - 1 - u,
# j + f_cols - 1 - v]``. The flip lives in which pixels are read, so the filters are used as they
# are and their gradient is a plain reshape. Slices suit PyTensor's C mode, where the gather's
# gradient (a scatter-add of rows) is slow; the gather suits theano-pymc, and numba, which
# compiles the slices' gradient (one IncSubtensor per tap) for minutes. Both read the pixels
# transposed, which XLA does slowly on the CPU: JAX mode uses ``_patches`` (below), which reads
# each image as it lies (docs/speed.md, "LeNet's convolution").


def _im2col_by_slices(pixels, input_shape, filter_shape):
    """Stack the ``f_rows * f_cols`` shifted views of ``pixels`` ``(channels, rows, cols, batch)``."""
    batch, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    out_rows, out_cols = rows - f_rows + 1, cols - f_cols + 1
    shifted = [
        pixels[:, row : row + out_rows, col : col + out_cols, :]
        for row in range(f_rows - 1, -1, -1)  # row = f_rows - 1 - u
        for col in range(f_cols - 1, -1, -1)  # col = f_cols - 1 - v
    ]
    columns = T.stack(shifted, axis=1)  # (channels, f_rows * f_cols, out_rows, out_cols, batch)
    return columns.reshape((channels * f_rows * f_cols, out_rows * out_cols * batch))


def _im2col_by_gather(pixels, input_shape, filter_shape):
    """Gather the rows of ``pixels`` ``(channels * rows * cols, batch)`` by a constant index."""
    batch, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    out_rows, out_cols = rows - f_rows + 1, cols - f_cols + 1
    pixel = _pixel_index(input_shape, filter_shape, "cuvij")
    columns = pixels.reshape((channels * rows * cols, batch))[pixel]
    return columns.reshape((channels * f_rows * f_cols, out_rows * out_cols * batch))


def _patches(input, input_shape, filter_shape):
    """The transposed im2col matrix, ``(batch * out_rows * out_cols, channels * f_rows *
    f_cols)``: row ``(b, i, j)``, column ``(c, u, v)`` holds ``input[b, c, i + f_rows - 1 - u,
    j + f_cols - 1 - v]``, gathered by one constant index from each image's own pixels. Its reads
    stay within an image, where the others' read the images' pixels transposed (see the
    comment above)."""
    batch, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    out_rows, out_cols = rows - f_rows + 1, cols - f_cols + 1
    pixel = _pixel_index(input_shape, filter_shape, "ijcuv")
    gathered = input.reshape((batch, channels * rows * cols))[:, pixel]
    return gathered.reshape((batch * out_rows * out_cols, channels * f_rows * f_cols))


def _pixel_index(input_shape, filter_shape, axes):
    """The flat ``(c, row, col)`` pixel that filter entry ``(c, u, v)`` meets at output pixel
    ``(i, j)``, ``row = i + f_rows - 1 - u`` and ``col = j + f_cols - 1 - v``: an int array
    over ``axes`` (the letters ``c, u, v, i, j`` in the order wanted), flattened."""
    _, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    sizes = {"c": channels, "u": f_rows, "v": f_cols, "i": rows - f_rows + 1,
             "j": cols - f_cols + 1}
    grids = dict(zip(axes, numpy.ix_(*(range(sizes[axis]) for axis in axes))))
    c, u, v, i, j = (grids[axis] for axis in "cuvij")
    return ((c * rows + i + f_rows - 1 - u) * cols + j + f_cols - 1 - v).reshape(-1)


IM2COL = {"slices": _im2col_by_slices, "gather": _im2col_by_gather}
METHODS = (*IM2COL, "patches", "xla")
_default_method = None  # set_default_method's choice; None: by engine and mode


def default_method():
    """The method ``conv2d`` uses by default in the current engine and mode."""
    if _default_method is not None:
        return _default_method
    if engine.name() == "pytensor":
        return {"c": "slices", "jax": "patches"}.get(engine.mode(), "gather")
    return "gather"


def set_default_method(method):
    """Make ``method`` (one of ``METHODS``) ``conv2d``'s default, or ``None`` to choose by mode.

    For comparisons such as ``benchmarks/bench_gpu.py``'s: the models call ``conv2d`` with the
    default method, so this changes the models built afterwards.
    """
    global _default_method
    _default_method = None if method is None else _check_method(method)


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"unknown conv2d method {method!r}: choose one of "
                         f"{', '.join(METHODS)} (or None)")
    return method


# ----------------------------------------------------------------------------------------------
# Pooling


def pool_2d(input, ws=(2, 2), ignore_border=True, stride=None, mode="max"):
    r"""Non-overlapping max pooling over the last two axes, as Theano's ``pool_2d``.

    .. math::

        out[b, c, i, j] = \max_{0 \le u < w_r, \; 0 \le v < w_c} input[b, c, i w_r + u, j w_c + v]

    ``input`` ``(batch, channels, rows, cols)`` gives ``(batch, channels, rows // w_r,
    cols // w_c)``: with ``ignore_border=True`` the trailing rows and columns that do not fill a
    window are dropped (``24 -> 12``, ``5 -> 2``). Only what the tutorials use is supported:
    ``mode="max"``, ``ignore_border=True`` and ``stride`` equal to ``ws``.

    The gradient sends each output's gradient to every input in its window that equals the
    window's max, ties included, as Theano's ``MaxPoolGrad`` does: the engine's gradient of
    ``max`` is ``eq(input, max) * g``.

    Written as a reshape to ``(batch, channels, rows // w_r, w_r, cols // w_c, w_c)`` and a
    ``max`` over the window axes. In JAX mode the input needs a static shape (``conv2d``'s
    output has one; otherwise ``reshape`` it with Python ints first).
    """
    ws = _check_window(ws)
    if mode != "max":
        raise ValueError(f"mode {mode!r} is not supported: only 'max' pooling is implemented")
    if ignore_border is not True:
        raise ValueError(
            f"ignore_border={ignore_border!r} is not supported: only ignore_border=True "
            f"(drop the rows and columns that do not fill a window) is implemented"
        )
    if stride is not None and tuple(stride) != ws:
        raise ValueError(
            f"stride {tuple(stride)!r} is not supported: only non-overlapping windows, "
            f"stride == ws {ws!r} (or None), are implemented"
        )
    w_rows, w_cols = ws
    batch, channels, rows, cols = input.shape
    out_rows, out_cols = rows // w_rows, cols // w_cols
    windows = input[:, :, : out_rows * w_rows, : out_cols * w_cols].reshape(
        (batch, channels, out_rows, w_rows, out_cols, w_cols)
    )
    return windows.max(axis=(3, 5))
