"""Time conv2d forward + backward on LeNet's two layer shapes, per compile mode, dtype and formulation.

    python benchmarks/bench_ops.py                       # every mode, both dtypes
    python benchmarks/bench_ops.py --modes jax --dtypes float32 --impls slices,gather

Each compiled function returns the convolution and the gradients of ``sum(out ** 2) / 2`` with
respect to the input and the filters; the time is the best (and median) of ``--repeats`` calls,
after a first call that is counted as compile time. Formulations:

* ``slices``: ``dltut.ops.conv2d(..., method="slices")``: the im2col matrix stacked from the
  ``f_rows * f_cols`` shifted slices of the input laid out ``(channels, rows, cols, batch)``,
  then one ``dot``.
* ``gather``: ``dltut.ops.conv2d(..., method="gather")``: the same matrix by one gather of
  input rows with a constant per-image index, then one ``dot``.
* ``patches``: ``dltut.ops.conv2d(..., method="patches")``: the transposed matrix, a row per
  output pixel, by one gather from each image as it lies, then one ``dot``.
* ``gather_flat``: one gather from the flattened input, with a batch-sized index.
* ``slices_cbhw``: the shifted slices of the input laid out ``(channels, batch, rows, cols)``.
* ``slices_tensordot``: the shifted slices stacked on a new axis 2, one ``tensordot``.
* ``taps``: a loop over the filter taps accumulating one ``tensordot`` per tap.
* ``xla``: ``dltut.ops.conv2d(..., method="xla")``: JAX's own convolution, timed in JAX mode only
  (cuDNN's on a GPU: ``--modes jax --impls gather,xla`` there).

Every call of every formulation is interleaved with the others', so a busy machine slows them
alike. The slice-based formulations take many minutes to compile in numba mode (one
``IncSubtensor`` per tap in the gradient); they are skipped there unless ``--slow-numba``.

Best ms per forward + backward, PyTensor 3.0.7 on a shared 2-core CPU (noisy: medians ran
1.2-3x higher), from which ``conv2d`` takes slices in PyTensor's C mode and the gather otherwise
(theano-pymc 1.1.2's C mode, float32: slices 265 and 796 ms, gather 164 and 600 ms):

    layer          dtype     c: slices  gather   jax: slices  gather   numba: gather
    1x28x28 -> 20  float32         86     159           212     216        232-281
    20x12x12 -> 50 float32        228     314           318     292        305-764
    1x28x28 -> 20  float64        136     196           492     501        257-689
    20x12x12 -> 50 float64        403     374           633     588        529-652

A later run with ``patches`` (float32, one run, the same machine), from which JAX mode takes
patches:

    layer          c: slices  gather  patches   jax: slices  gather  patches
    1x28x28 -> 20          64     134      164           159     148       93
    20x12x12 -> 50        219     294      402           183     212      193
"""

import argparse
import functools
import time

import numpy

from dltut import engine
from dltut.engine import T, function, grad
from dltut.ops import conv2d, conv_output_shape

LENET_LAYERS = (
    ((500, 1, 28, 28), (20, 1, 5, 5)),  # layer 0: 28 - 5 + 1 = 24
    ((500, 20, 12, 12), (50, 20, 5, 5)),  # layer 1: 12 - 5 + 1 = 8
)
SLICE_BASED = ("slices", "slices_cbhw", "slices_tensordot", "taps")


def _shifted_slices(image, filter_shape, out_rows, out_cols):
    """The ``f_rows * f_cols`` views ``image[..., u:u + out_rows, v:v + out_cols]``."""
    _, _, f_rows, f_cols = filter_shape
    return [
        image[:, :, u : u + out_rows, v : v + out_cols] for u in range(f_rows) for v in range(f_cols)
    ]


def _filter_product(filters, columns, input_shape, filter_shape):
    """The flipped filters times a (channels * f_rows * f_cols, batch * out_rows * out_cols) im2col
    matrix, as the (batch, n_filters, out_rows, out_cols) convolution."""
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape)
    _, channels, f_rows, f_cols = filter_shape
    columns = columns.reshape((channels * f_rows * f_cols, batch * out_rows * out_cols))
    kernel = filters[:, :, ::-1, ::-1].reshape((n_filters, channels * f_rows * f_cols))
    out = T.dot(kernel, columns)
    return out.reshape((n_filters, batch, out_rows, out_cols)).dimshuffle(1, 0, 2, 3)


def conv2d_gather_flat(input, filters, input_shape, filter_shape):
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape)
    _, channels, rows, cols = input_shape
    _, _, f_rows, f_cols = filter_shape
    c, u, v, b, i, j = numpy.ix_(
        range(channels), range(f_rows), range(f_cols), range(batch), range(out_rows), range(out_cols)
    )
    index = ((b * channels + c) * rows + i + u) * cols + j + v
    columns = input.reshape(input_shape).flatten()[index.reshape(-1)]
    return _filter_product(filters, columns, input_shape, filter_shape)


def conv2d_slices_cbhw(input, filters, input_shape, filter_shape):
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape)
    _, channels, f_rows, f_cols = filter_shape
    by_channel = input.reshape(input_shape).dimshuffle(1, 0, 2, 3)
    columns = T.stack(_shifted_slices(by_channel, filter_shape, out_rows, out_cols), axis=1)
    return _filter_product(filters, columns, input_shape, filter_shape)


def conv2d_slices_tensordot(input, filters, input_shape, filter_shape):
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape)
    _, channels, f_rows, f_cols = filter_shape
    image = input.reshape(input_shape)
    columns = T.stack(_shifted_slices(image, filter_shape, out_rows, out_cols), axis=2)
    columns = columns.reshape((batch, channels * f_rows * f_cols, out_rows, out_cols))
    kernel = filters[:, :, ::-1, ::-1].reshape((n_filters, channels * f_rows * f_cols))
    return T.tensordot(columns, kernel, axes=[[1], [1]]).dimshuffle(0, 3, 1, 2)


def conv2d_taps(input, filters, input_shape, filter_shape):
    batch, n_filters, out_rows, out_cols = conv_output_shape(input_shape, filter_shape)
    _, _, f_rows, f_cols = filter_shape
    image = input.reshape(input_shape)
    flipped = filters[:, :, ::-1, ::-1]
    out = 0
    for u in range(f_rows):
        for v in range(f_cols):
            tap = image[:, :, u : u + out_rows, v : v + out_cols]
            out = out + T.tensordot(flipped[:, :, u, v], tap, axes=[[1], [1]])
    return out.dimshuffle(1, 0, 2, 3)  # (n_filters, batch, ...) -> (batch, n_filters, ...)


IMPLS = {
    "slices": functools.partial(conv2d, method="slices"),
    "gather": functools.partial(conv2d, method="gather"),
    "patches": functools.partial(conv2d, method="patches"),
    "gather_flat": conv2d_gather_flat,
    "slices_cbhw": conv2d_slices_cbhw,
    "slices_tensordot": conv2d_slices_tensordot,
    "taps": conv2d_taps,
    "xla": functools.partial(conv2d, method="xla"),
}


def _wait(outputs):
    """Block until JAX's asynchronous results are computed; other modes return NumPy arrays."""
    for value in outputs:
        getattr(value, "block_until_ready", lambda: None)()
    return outputs


def compile_step(impl, input_shape, filter_shape, dtype):
    """``(input, filters) -> (out, d input, d filters)`` of ``cost = sum(out ** 2) / 2``."""
    input = T.tensor4("input", dtype=dtype)
    filters = T.tensor4("filters", dtype=dtype)
    out = IMPLS[impl](input, filters, input_shape, filter_shape)
    cost = (out**2).sum() / 2
    return function([input, filters], [out, *grad(cost, [input, filters])])


def time_layer(impls, input_shape, filter_shape, dtype, repeats, rng):
    """{impl: (compile s, best ms, median ms)}, the calls of the impls interleaved."""
    values = (
        rng.standard_normal(input_shape).astype(dtype),
        rng.standard_normal(filter_shape).astype(dtype),
    )
    steps, compile_s = {}, {}
    for impl in impls:
        started = time.perf_counter()
        steps[impl] = compile_step(impl, input_shape, filter_shape, dtype)
        _wait(steps[impl](*values))  # the first call compiles in numba and JAX modes
        compile_s[impl] = time.perf_counter() - started
    times = {impl: [] for impl in impls}
    for _ in range(repeats):
        for impl, step in steps.items():
            started = time.perf_counter()
            _wait(step(*values))
            times[impl].append(1000 * (time.perf_counter() - started))
    return {impl: (compile_s[impl], min(times[impl]), numpy.median(times[impl])) for impl in impls}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(engine.modes()))
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--slow-numba", action="store_true", help="also compile the slice-based ones in numba")
    args = parser.parse_args()
    rng = numpy.random.default_rng(1234)
    print(f"{'mode':6} {'dtype':8} {'layer':20} {'impl':17} {'best ms':>8} {'median':>8} {'compile s':>9}")
    for mode in args.modes.split(","):
        engine.set_mode(mode)
        impls = [impl for impl in args.impls.split(",") if impl != "xla" or mode == "jax"]
        if mode == "numba" and not args.slow_numba:
            skipped = [impl for impl in impls if impl in SLICE_BASED]
            impls = [impl for impl in impls if impl not in SLICE_BASED]
            if skipped:
                print(f"numba: skipped {', '.join(skipped)} (their gradients compile for many minutes; --slow-numba)")
        for dtype in args.dtypes.split(","):
            for input_shape, filter_shape in LENET_LAYERS:
                layer = f"{input_shape[1]}x{input_shape[2]}x{input_shape[3]} -> {filter_shape[0]}"
                timings = time_layer(impls, input_shape, filter_shape, dtype, args.repeats, rng)
                for impl, (compile_s, best, median) in timings.items():
                    print(f"{mode:6} {dtype:8} {layer:20} {impl:17} {best:8.1f} {median:8.1f} {compile_s:9.1f}", flush=True)


if __name__ == "__main__":
    main()
