"""Convolution, transposed convolution and max pooling: the ops the convolutional tutorials need
that PyTensor 3 no longer ships.

They are written with plain tensor operations that PyTensor and theano-pymc share (``reshape``,
``dimshuffle``, slicing, ``stack``, indexing by an integer array, ``inc_subtensor``, ``dot``,
``max``), so their gradients come from the engine's own ``grad`` and they compile in every mode
(``c``, ``numba``, ``jax``).

``conv2d`` is Theano's ``conv2d``: by default a ``"valid"`` true convolution (the filter is flipped
in both spatial axes), and with Theano's ``border_mode`` (zero padding), ``subsample`` (stride)
and ``filter_flip`` (``False``: a cross-correlation) as Lasagne's convolution layers call it.
``conv2d_grad_wrt_inputs`` is Theano's transposed convolution, the adjoint of ``conv2d`` (what
Lasagne's ``TransposedConv2DLayer`` computes). ``pool_2d`` is Theano's max pooling, with its
``stride``, ``pad`` and ``ignore_border``.

Shapes are 4-tuples of Python ints, ``(batch, channels, rows, cols)`` for images and
``(n_filters, channels, f_rows, f_cols)`` for filters; the batch may be ``None`` (any batch: the
graph reshapes with ``-1`` there). ``conv_output_shape`` and ``pool_output_shape`` give the sizes
the next layer needs:

>>> conv_output_shape((500, 1, 28, 28), (20, 1, 5, 5))  # 28 - 5 + 1 = 24
(500, 20, 24, 24)
>>> pool_output_shape((500, 20, 24, 24), (2, 2))  # 24 // 2 = 12
(500, 20, 12, 12)
>>> conv_output_shape((None, 3, 7, 7), (8, 3, 3, 3), border_mode="half", subsample=2)
(None, 8, 4, 4)
"""

import numbers

import numpy

from dltut import engine
from dltut.engine import T

# ----------------------------------------------------------------------------------------------
# Shapes


def _check_shape(what, shape, batch=False):
    """``shape`` as a tuple of four positive Python ints (the first may be None where ``batch``),
    or a ValueError naming it."""
    shape = tuple(shape)
    first = 1 if batch and len(shape) == 4 and shape[0] is None else 0
    if len(shape) != 4 or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                                  and n > 0 for n in shape[first:]):
        raise ValueError(f"{what} {shape!r} must be 4 positive ints"
                         + (" (the batch may be None)" if batch else ""))
    return (None,) * first + tuple(int(n) for n in shape[first:])


def _check_pair(what, value, smallest=1):
    """An int or a pair of ints, each at least ``smallest``, as a pair; else a ValueError."""
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(pair) != 2 or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                                 and n >= smallest for n in pair):
        raise ValueError(f"{what} {value!r} must be an int or a pair of ints >= {smallest}")
    return tuple(int(n) for n in pair)


def _check_window(ws):
    ws = tuple(ws)
    if len(ws) != 2 or not all(isinstance(n, numbers.Integral) and n > 0 for n in ws):
        raise ValueError(f"ws {ws!r} must be 2 positive ints (window rows, window cols)")
    return tuple(int(n) for n in ws)


def border_padding(border_mode, filter_shape):
    """Theano's ``border_mode`` as the zeros added on each side, ``(pad_rows, pad_cols)``:
    ``"valid"`` none, ``"full"`` ``f - 1``, ``"half"`` ``f // 2``, an int or a pair as given."""
    _, _, f_rows, f_cols = filter_shape
    named = {"valid": (0, 0), "full": (f_rows - 1, f_cols - 1), "half": (f_rows // 2, f_cols // 2)}
    if isinstance(border_mode, str):
        if border_mode not in named:
            raise ValueError(f"border_mode {border_mode!r}: choose 'valid', 'full', 'half', an "
                             f"int or a pair of ints")
        return named[border_mode]
    return _check_pair("border_mode", border_mode, smallest=0)


def conv_output_shape(image_shape, filter_shape, border_mode="valid", subsample=(1, 1)):
    """The shape of ``conv2d``'s output.

    ``(batch, channels, rows, cols)`` convolved with ``(n_filters, channels, f_rows, f_cols)``
    gives ``(batch, n_filters, (rows + 2 p_r - f_rows) // s_r + 1, ...)``, with ``p`` the
    padding of ``border_mode`` and ``s`` the stride ``subsample``: in valid mode (``p = 0``,
    ``s = 1``) a filter fits at ``rows - f_rows + 1`` offsets along the rows.
    """
    image_shape = _check_shape("image_shape", image_shape, batch=True)
    filter_shape = _check_shape("filter_shape", filter_shape)
    batch, channels, rows, cols = image_shape
    n_filters, filter_channels, f_rows, f_cols = filter_shape
    if filter_channels != channels:
        raise ValueError(
            f"filter_shape {filter_shape!r} has {filter_channels} channels, but image_shape "
            f"{image_shape!r} has {channels}: filter_shape[1] must equal image_shape[1]"
        )
    pad_rows, pad_cols = border_padding(border_mode, filter_shape)
    stride_rows, stride_cols = _check_pair("subsample", subsample)
    rows, cols = rows + 2 * pad_rows, cols + 2 * pad_cols
    if f_rows > rows or f_cols > cols:
        padded = "" if border_mode == "valid" else f" padded by {(pad_rows, pad_cols)}"
        raise ValueError(
            f"filter_shape {filter_shape!r} is larger than image_shape {image_shape!r}{padded}: "
            f"a valid convolution needs f_rows <= {rows} and f_cols <= {cols}"
        )
    return (batch, n_filters, (rows - f_rows) // stride_rows + 1,
            (cols - f_cols) // stride_cols + 1)


def pool_output_length(length, ws, stride, pad, ignore_border):
    """The pooled length of an axis of ``length``, as Theano's ``Pool.out_shape`` computes it:
    with ``ignore_border``, the windows that fit in the padded axis; without, a last window
    overlapping the end is kept."""
    if ignore_border:
        return max(0, (length + 2 * pad - ws) // stride + 1)
    if stride >= ws:
        return (length - 1) // stride + 1
    return max(0, (length - 1 - ws + stride) // stride) + 1


def pool_output_shape(shape, ws=(2, 2), ignore_border=True, stride=None, pad=(0, 0)):
    """The shape of ``pool_2d``'s output: ``(batch, channels, rows // ws[0], cols // ws[1])`` for
    non-overlapping windows (``stride=None``) without padding.

    With ``ignore_border=True`` the rows and columns that do not fill a whole window are dropped;
    in general an axis of ``n`` gives ``(n + 2 pad - ws) // stride + 1``
    (``pool_output_length``).
    """
    shape = _check_shape("shape", shape, batch=True)
    ws = _check_window(ws)
    stride = ws if stride is None else _check_pair("stride", stride)
    pad = _check_pair("pad", pad, smallest=0)
    batch, channels, rows, cols = shape
    return (batch, channels,
            *(pool_output_length(n, w, s, p, ignore_border)
              for n, w, s, p in zip((rows, cols), ws, stride, pad)))


def _reshaped(shape):
    """``shape`` for ``reshape``: a batch of None becomes -1."""
    return tuple(-1 if n is None else n for n in shape)


def _batch(shape, variable):
    """The batch size: ``shape[0]`` where known, else ``variable``'s (a 4-d tensor as the caller
    passed it: JAX mode takes a shape read from an input as static, not one computed after a
    reshape)."""
    return variable.shape[0] if shape[0] is None else shape[0]


def _zero_padded(image, image_shape, pad, batch):
    """``image`` ``(batch, channels, rows, cols)`` with ``pad`` rows and columns of zeros on
    each side."""
    _, channels, rows, cols = image_shape
    pad_rows, pad_cols = pad
    zeros = T.zeros((batch, channels, rows + 2 * pad_rows,
                     cols + 2 * pad_cols), dtype=image.dtype)
    return T.set_subtensor(zeros[:, :, pad_rows:pad_rows + rows, pad_cols:pad_cols + cols], image)


def _step(stride):
    """A slice step: None for 1, so that unstrided graphs are as before strides existed."""
    return None if stride == 1 else stride


# ----------------------------------------------------------------------------------------------
# Convolution


def conv2d(input, filters, input_shape, filter_shape, border_mode="valid", subsample=(1, 1),
           filter_flip=True, *, method=None):
    r"""2-D convolution of a batch of multi-channel images with a bank of filters, as Theano's.

    .. math::

        out[b, k, i, j] = \sum_{c, u, v} filters[k, c, u, v] \,
                          \tilde x[b, c, i s_r + f_r - 1 - u, j s_c + f_c - 1 - v]

    where :math:`\tilde x` is ``input`` with ``border_mode``'s zeros around it and ``s`` the
    stride ``subsample``: a true convolution, as Theano's ``conv2d`` and
    ``scipy.signal.convolve2d``, which flip the filter in both spatial axes. With
    ``filter_flip=False`` it is a cross-correlation (``flip_filters=False`` in Lasagne), which
    reads :math:`\tilde x[b, c, i s_r + u, j s_c + v]`. ``border_mode`` is ``"valid"`` (no
    padding: the filter slides over every position where it fits entirely), ``"full"``
    (``f - 1`` zeros), ``"half"`` (``f // 2``: Lasagne's ``"same"``), an int or a pair.

    ``input`` is ``(batch, channels, rows, cols)`` and ``filters`` ``(n_filters, channels,
    f_rows, f_cols)``; ``input_shape`` and ``filter_shape`` are those shapes as Python ints (the
    batch may be None), which fix every size in the graph (JAX mode needs them static). The
    output has ``conv_output_shape(input_shape, filter_shape, border_mode, subsample)``:
    ``(500, 1, 28, 28)`` digits and ``(20, 1, 5, 5)`` filters give ``(500, 20, 24, 24)``, as
    ``28 - 5 + 1 = 24``.

    Computed as one matrix product (im2col): the im2col matrix has a row per filter entry
    ``(c, u, v)`` and a column per output pixel ``(i, j, b)``, holding the input value that
    entry meets there (zero in the padding); ``filters`` reshaped to ``(n_filters, channels *
    f_rows * f_cols)`` multiplies all columns at once. The gradients are the engine's.

    ``method`` chooses how that matrix is built, ``"slices"`` or ``"gather"``; ``"patches"``
    builds its transpose, a row per output pixel ``(b, i, j)`` gathered from each image as it
    lies, and multiplies it by the filters' transpose; ``"xla"``, for PyTensor's JAX mode, is JAX's
    own convolution (``dltut.backend.xla_conv``; cuDNN on NVIDIA GPUs) instead of im2col (padded
    before, and strided by keeping every ``s``-th output). By default, ``default_method()``:
    slices in PyTensor's C mode, patches in its JAX mode (JAX's own convolution where an image's
    patches exceed ``PATCH_ENTRIES_LIMIT`` values), the gather elsewhere.
    """
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape,
                                                             border_mode, subsample)
    input_shape = _check_shape("input_shape", input_shape, batch=True)
    filter_shape = tuple(filter_shape)
    _, channels, f_rows, f_cols = filter_shape
    pad, stride = border_padding(border_mode, filter_shape), _check_pair("subsample", subsample)
    method = _method_for(method, out_rows * out_cols * channels * f_rows * f_cols)
    if method == "xla":
        if engine.name() != "pytensor":
            raise ValueError(f"conv2d method 'xla' needs PyTensor's JAX backend; engine "
                             f"{engine.name()} has none: use method 'slices' or 'gather'")
        from dltut.backend import xla_conv

        image = input.reshape(_reshaped(input_shape))
        if pad != (0, 0):
            image = _zero_padded(image, input_shape, pad, _batch(input_shape, input))
        kernel = filters.reshape(filter_shape)
        if not filter_flip:  # XlaConv flips: flip first, for a cross-correlation
            kernel = kernel[:, :, ::-1, ::-1]
        out = xla_conv.conv2d(image, kernel)
        if stride != (1, 1):
            out = out[:, :, ::_step(stride[0]), ::_step(stride[1])]
        return out
    geometry = (pad, stride, filter_flip)
    kernel = filters.reshape((n_filters, channels * f_rows * f_cols))
    if method == "patches":
        patches = _patches(input, input_shape, filter_shape, geometry, _batch(input_shape, input))
        out = T.dot(patches, kernel.T)  # (batch * out_rows * out_cols, n_filters)
        return out.reshape(_reshaped((batch, out_rows, out_cols, n_filters))).dimshuffle(0, 3, 1, 2)
    # (channels, rows, cols, batch): an image pixel's values over the batch lie side by side.
    pixels = input.reshape(_reshaped(input_shape)).dimshuffle(1, 2, 3, 0)
    columns = IM2COL[method](pixels, input_shape, filter_shape, geometry,
                             _batch(input_shape, input))
    out = T.dot(kernel, columns)  # (n_filters, out_rows * out_cols * batch)
    return out.reshape(_reshaped((n_filters, out_rows, out_cols, batch))).dimshuffle(3, 0, 1, 2)


# Two ways to build the same im2col matrix, ``(channels * f_rows * f_cols, out_rows * out_cols *
# batch)``, whose row ``(c, u, v)`` and column ``(i, j, b)`` hold ``input[b, c, i s_r + a_u - p_r,
# j s_c + a_v - p_c]`` (zero outside the image), with the tap's offset ``a_u = f_rows - 1 - u``
# (a true convolution) or ``u`` (``filter_flip=False``). The flip lives in which pixels are read,
# so the filters are used as they are and their gradient is a plain reshape. Slices suit
# PyTensor's C mode, where the gather's gradient (a scatter-add of rows) is slow; the gather
# suits theano-pymc, and numba, which compiles the slices' gradient (one IncSubtensor per tap)
# for minutes. Both read the pixels transposed, which XLA does slowly on the CPU: JAX mode uses
# ``_patches`` (below), which reads each image as it lies (docs/speed.md, "LeNet's convolution").


def _offsets(f_size, flip):
    """Where each tap ``u = 0 .. f_size - 1`` reads, relative to its window's first pixel."""
    return [f_size - 1 - u if flip else u for u in range(f_size)]


def _im2col_by_slices(pixels, input_shape, filter_shape, geometry, n_batch):
    """Stack the ``f_rows * f_cols`` shifted (strided) views of ``pixels`` ``(channels, rows,
    cols, batch)``, zero-padded first where ``geometry`` pads (``n_batch``: the batch size)."""
    batch, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    (pad_rows, pad_cols), (stride_rows, stride_cols), flip = geometry
    _, _, out_rows, out_cols = conv_output_shape(input_shape, filter_shape, (pad_rows, pad_cols),
                                                 (stride_rows, stride_cols))
    if (pad_rows, pad_cols) != (0, 0):
        zeros = T.zeros((channels, rows + 2 * pad_rows, cols + 2 * pad_cols, n_batch),
                        dtype=pixels.dtype)
        pixels = T.set_subtensor(
            zeros[:, pad_rows:pad_rows + rows, pad_cols:pad_cols + cols, :], pixels)
    shifted = [
        pixels[:, row : row + (out_rows - 1) * stride_rows + 1 : _step(stride_rows),
               col : col + (out_cols - 1) * stride_cols + 1 : _step(stride_cols), :]
        for row in _offsets(f_rows, flip)
        for col in _offsets(f_cols, flip)
    ]
    columns = T.stack(shifted, axis=1)  # (channels, f_rows * f_cols, out_rows, out_cols, batch)
    return columns.reshape((channels * f_rows * f_cols, -1 if batch is None
                            else out_rows * out_cols * batch))


def _im2col_by_gather(pixels, input_shape, filter_shape, geometry, n_batch):
    """Gather the rows of ``pixels`` ``(channels * rows * cols, batch)`` by a constant index (a
    row of zeros added for the padding)."""
    batch, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    pixel, padded = _pixel_index(input_shape, filter_shape, "cuvij", geometry)
    flat = pixels.reshape((channels * rows * cols, -1 if batch is None else batch))
    if padded:
        flat = T.concatenate([flat, T.zeros((1, n_batch), dtype=flat.dtype)], axis=0)
    columns = flat[pixel]
    n_columns = pixel.size // (channels * f_rows * f_cols)  # out_rows * out_cols
    return columns.reshape((channels * f_rows * f_cols, -1 if batch is None else n_columns * batch))


def _patches(input, input_shape, filter_shape, geometry, n_batch):
    """The transposed im2col matrix, ``(batch * out_rows * out_cols, channels * f_rows *
    f_cols)``: row ``(b, i, j)``, column ``(c, u, v)`` holds the pixel the im2col matrix holds
    there, gathered by one constant index from each image's own pixels (and a zero added after
    them for the padding). Its reads stay within an image, where the others' read the images'
    pixels transposed (see the comment above)."""
    batch, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    pixel, padded = _pixel_index(input_shape, filter_shape, "ijcuv", geometry)
    flat = input.reshape((-1 if batch is None else batch, channels * rows * cols))
    if padded:
        flat = T.concatenate([flat, T.zeros((n_batch, 1), dtype=flat.dtype)], axis=1)
    gathered = flat[:, pixel]
    n_rows = pixel.size // (channels * f_rows * f_cols)  # out_rows * out_cols
    return gathered.reshape((-1 if batch is None else n_rows * batch, channels * f_rows * f_cols))


def _pixel_index(input_shape, filter_shape, axes, geometry):
    """The flat ``(c, row, col)`` pixel that filter entry ``(c, u, v)`` meets at output pixel
    ``(i, j)``, ``row = i s_r + a_u - p_r`` and ``col = j s_c + a_v - p_c`` (``_offsets``): an
    int array over ``axes`` (the letters ``c, u, v, i, j`` in the order wanted), flattened; and
    whether any falls in the padding, where it is ``channels * rows * cols`` (one past the
    image: a zero appended)."""
    _, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    pad, stride, flip = geometry
    _, _, out_rows, out_cols = conv_output_shape(input_shape, filter_shape, pad, stride)
    sizes = {"c": channels, "u": f_rows, "v": f_cols, "i": out_rows, "j": out_cols}
    grids = dict(zip(axes, numpy.ix_(*(range(sizes[axis]) for axis in axes))))
    c, u, v, i, j = (grids[axis] for axis in "cuvij")
    row = i * stride[0] + numpy.asarray(_offsets(f_rows, flip))[u] - pad[0]
    col = j * stride[1] + numpy.asarray(_offsets(f_cols, flip))[v] - pad[1]
    pixel = (c * rows + row) * cols + col
    inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    pixel = numpy.where(inside, pixel, channels * rows * cols).reshape(-1)
    return pixel, not inside.all()


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


# In JAX mode the patches (and col2im, the transposed convolution's) are cut by a constant index
# with an entry per pixel of every patch of an image, which XLA keeps in the program with the
# gathered matrices: at U-Net's and FCN-8's sizes they exhaust the memory (docs/speed.md).
# Past this many entries an image, JAX's own convolution runs instead.
PATCH_ENTRIES_LIMIT = 2 ** 22


def _method_for(method, entries):
    """``method``, or the default for a convolution whose patches hold ``entries`` values an
    image: ``default_method()``, but JAX's own convolution where patches would be too large."""
    if method is not None:
        return _check_method(method)
    chosen = default_method()
    if chosen == "patches" and _default_method is None and entries > PATCH_ENTRIES_LIMIT:
        return "xla"
    return chosen


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
# Transposed convolution


def conv2d_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape, border_mode="valid",
                           subsample=(1, 1), filter_flip=True, *, method=None):
    r"""The transposed convolution: the gradient of ``conv2d`` with respect to its input, as
    Theano's ``conv2d_grad_wrt_inputs``.

    .. math::

        out[b, c, r, q] = \sum_{k, u, v, i, j \,:\, i s_r + a_u - p_r = r, \;
                                                   j s_c + a_v - p_c = q}
                          filters[k, c, u, v] \, output\_grad[b, k, i, j]

    with ``a_u = f_r - 1 - u`` (``filter_flip=True``) or ``u``, ``p`` the padding of
    ``border_mode`` and ``s`` the stride ``subsample``: every input pixel of the convolution
    ``conv2d(x, filters, input_shape, filter_shape, border_mode, subsample, filter_flip)`` gets
    back what it sent to each output, weighted alike, so that :math:`\langle conv2d(x), y
    \rangle = \langle x, conv2d\_grad\_wrt\_inputs(y) \rangle`. A strided one upsamples: it is
    Lasagne's ``TransposedConv2DLayer`` (``Deconv2DLayer``), whose ``crop`` is this
    ``border_mode``.

    ``output_grad`` has the convolution's output shape, ``conv_output_shape(input_shape,
    filter_shape, border_mode, subsample)``, and the result ``input_shape`` (Python ints, the
    batch may be None): with a stride, several input sizes give the same output size, and
    ``input_shape`` says which. ``filters`` is ``(n_filters, channels, f_rows, f_cols)`` as the
    convolution's, so ``output_grad`` has ``n_filters`` channels and the result ``channels``.

    Computed as col2im, the adjoint of im2col: one matrix product gives each filter entry's
    contribution at each ``output_grad`` pixel, ``(channels * f_rows * f_cols, out_rows *
    out_cols * batch)``, and one scatter-add (``inc_subtensor`` by a constant index) sums them
    into the zero-padded image, whose padding is then cut away. ``method="xla"`` (PyTensor's JAX
    mode) instead spreads ``output_grad`` ``s`` pixels apart in a zero image and runs JAX's own
    convolution over it with the filters transposed; any other method is col2im.
    """
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape,
                                                             border_mode, subsample)
    input_shape = _check_shape("input_shape", input_shape, batch=True)
    filter_shape = tuple(filter_shape)
    _, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    pad, stride = border_padding(border_mode, filter_shape), _check_pair("subsample", subsample)
    grad = output_grad.reshape(_reshaped((batch, n_filters, out_rows, out_cols)))
    if _method_for(method, out_rows * out_cols * channels * f_rows * f_cols) == "xla":
        return _transposed_by_xla(grad, filters.reshape(filter_shape), input_shape, filter_shape,
                                  pad, stride, filter_flip, _batch(input_shape, output_grad))
    kernel = filters.reshape((n_filters, channels * f_rows * f_cols))
    # (n_filters, out_rows * out_cols * batch): a grad pixel's values over the batch side by side
    columns = grad.dimshuffle(1, 2, 3, 0).reshape((n_filters, -1))
    contributions = T.dot(kernel.T, columns)  # (channels * f_rows * f_cols, out_rows * ...)
    padded_rows, padded_cols = rows + 2 * pad[0], cols + 2 * pad[1]
    c, u, v, i, j = numpy.ix_(range(channels), range(f_rows), range(f_cols), range(out_rows),
                              range(out_cols))
    row = i * stride[0] + numpy.asarray(_offsets(f_rows, filter_flip))[u]
    col = j * stride[1] + numpy.asarray(_offsets(f_cols, filter_flip))[v]
    pixel = ((c * padded_rows + row) * padded_cols + col).reshape(-1)
    n_batch = _batch(input_shape, output_grad)
    image = T.zeros((channels * padded_rows * padded_cols, n_batch), dtype=contributions.dtype)
    image = T.inc_subtensor(image[pixel], contributions.reshape((pixel.size, -1)))
    image = image.reshape((channels, padded_rows, padded_cols, -1 if batch is None else batch))
    image = image[:, pad[0]:pad[0] + rows, pad[1]:pad[1] + cols, :]
    return image.dimshuffle(3, 0, 1, 2)


def _transposed_by_xla(grad, filters, input_shape, filter_shape, pad, stride, filter_flip, n_batch):
    """The transposed convolution as a valid convolution (``xla_conv``) of ``grad`` placed every
    ``stride`` pixels, ``f - 1 - p`` from the start of a zero image ``f - 1`` larger than the
    result (cut where that is negative), with the filters' two channel axes swapped."""
    if engine.name() != "pytensor":
        raise ValueError(f"conv2d_grad_wrt_inputs method 'xla' needs PyTensor's JAX backend; "
                         f"engine {engine.name()} has none: leave method None")
    from dltut.backend import xla_conv

    batch, channels, rows, cols = input_shape
    n_filters, _, f_rows, f_cols = filter_shape
    sizes = (rows + f_rows - 1, cols + f_cols - 1)
    taken, placed = [], []
    out_sizes = conv_output_shape(input_shape, filter_shape, pad, stride)[2:]
    for size, f_size, p, s, n in zip(sizes, (f_rows, f_cols), pad, stride, out_sizes):
        start = f_size - 1 - p  # where grad pixel 0 goes
        first = 0 if start >= 0 else (-start + s - 1) // s
        last = min(n, (size - 1 - start) // s + 1)  # one past the last that fits
        taken.append(slice(first, max(first, last)))
        placed.append(slice(start + first * s, start + (max(first, last) - 1) * s + 1, _step(s)))
    zeros = T.zeros((n_batch, n_filters, *sizes), dtype=grad.dtype)
    spread = T.set_subtensor(zeros[:, :, placed[0], placed[1]], grad[:, :, taken[0], taken[1]])
    kernel = filters.dimshuffle(1, 0, 2, 3)
    if filter_flip:  # XlaConv flips: flip first, for the transpose of a true convolution
        kernel = kernel[:, :, ::-1, ::-1]
    return xla_conv.conv2d(spread, kernel)


# ----------------------------------------------------------------------------------------------
# Pooling


def pool_2d(input, ws=(2, 2), ignore_border=True, stride=None, pad=(0, 0), mode="max",
            input_shape=None):
    r"""Max pooling over the last two axes, as Theano's ``pool_2d``.

    .. math::

        out[\ldots, i, j] = \max_{0 \le u < w_r, \; 0 \le v < w_c}
                            input[\ldots, i s_r + u - p_r, j s_c + v - p_c]

    over the pixels of each window that lie in the image (the padding ``pad`` takes no part in
    the max, as in Theano). ``stride=None`` is ``ws``: non-overlapping windows, so ``(batch,
    channels, rows, cols)`` gives ``(batch, channels, rows // w_r, cols // w_c)``: with
    ``ignore_border=True`` the trailing rows and columns that do not fill a window are dropped
    (``24 -> 12``, ``5 -> 2``); with ``ignore_border=False`` a last window overlapping the end is
    kept (``5 -> 3``; no padding then, as in Theano). ``pool_output_shape`` gives the sizes.

    The gradient sends each output's gradient to every input in its window that equals the
    window's max, ties included, as Theano's ``MaxPoolGrad`` does: the engine's gradient of
    ``max`` is ``eq(input, max) * g``.

    Non-overlapping windows without padding are a reshape to ``(..., rows // w_r, w_r,
    cols // w_c, w_c)`` and a ``max`` over the window axes; other windows the max of the
    ``w_r * w_c`` strided views, one per window position, of the input surrounded by
    :math:`-\infty`. In JAX mode the input needs a static shape (``conv2d``'s output has one;
    otherwise ``reshape`` it with Python ints first), and for the strided views the rows and
    columns must be known: from ``input_shape`` (its last two entries), or the input's type.
    """
    ws = _check_window(ws)
    if mode != "max":
        raise ValueError(f"mode {mode!r} is not supported: only 'max' pooling is implemented")
    stride = ws if stride is None else _check_pair("stride", stride)
    pad = _check_pair("pad", pad, smallest=0)
    if pad != (0, 0) and not ignore_border:
        raise ValueError(f"pad {pad!r} needs ignore_border=True, as in Theano")
    if any(p >= w for p, w in zip(pad, ws)):
        raise ValueError(f"pad {pad!r} must be smaller than ws {ws!r}, as in Theano")
    if stride == ws and pad == (0, 0) and ignore_border:
        return _pool_windows_apart(input, ws, input_shape)
    rows, cols = _spatial_sizes(input, input_shape)
    out_shape = [pool_output_length(n, w, s, p, ignore_border)
                 for n, w, s, p in zip((rows, cols), ws, stride, pad)]
    # the image, with -inf around it: the pad before, and after as far as the last window reads
    sizes = [max(n + 2 * p, (o - 1) * s + w) for n, p, o, s, w in zip((rows, cols), pad, out_shape,
                                                                          stride, ws)]
    lead = (slice(None),) * (input.ndim - 2)
    if sizes != [rows, cols]:
        known = [None] * (input.ndim - 2) if input_shape is None else list(input_shape)[:-2]
        shape = [input.shape[k] if size is None else size for k, size in enumerate(known)] + sizes
        fill = T.alloc(numpy.asarray(-numpy.inf, dtype=input.dtype), *shape)
        input = T.set_subtensor(fill[lead + (slice(pad[0], pad[0] + rows),
                                             slice(pad[1], pad[1] + cols))], input)
    views = [input[lead + (slice(u, u + (out_shape[0] - 1) * stride[0] + 1, _step(stride[0])),
                           slice(v, v + (out_shape[1] - 1) * stride[1] + 1, _step(stride[1])))]
             for u in range(ws[0]) for v in range(ws[1])]
    return T.max(T.stack(views), axis=0)


def _pool_windows_apart(input, ws, input_shape=None):
    """Non-overlapping windows, no padding, the last partial ones dropped: a reshape and a max
    (with ``input_shape``'s ints for the sizes it knows, as JAX mode needs)."""
    w_rows, w_cols = ws
    batch, channels, rows, cols = input.shape
    if input_shape is not None:  # the sizes known, as constants
        batch, channels, rows, cols = (symbolic if known is None else known
                                       for symbolic, known in zip(input.shape, input_shape))
    out_rows, out_cols = rows // w_rows, cols // w_cols
    windows = input[:, :, : out_rows * w_rows, : out_cols * w_cols].reshape(
        (batch, channels, out_rows, w_rows, out_cols, w_cols)
    )
    return windows.max(axis=(3, 5))


def _spatial_sizes(input, input_shape):
    """The input's rows and columns as Python ints: from ``input_shape``, else its type."""
    sizes = tuple(input_shape)[-2:] if input_shape is not None else \
        tuple(getattr(input.type, "shape", (None, None)))[-2:]
    if len(sizes) != 2 or not all(isinstance(n, numbers.Integral) and n > 0 for n in sizes):
        raise ValueError(f"pool_2d with strides, padding or ignore_border=False needs the "
                         f"input's rows and columns as ints: pass input_shape (got "
                         f"{input_shape!r}, and the input's type knows {sizes!r})")
    return tuple(int(n) for n in sizes)
