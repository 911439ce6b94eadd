"""``conv2d`` as JAX's own convolution, for PyTensor's JAX mode (``conv2d(..., method="xla")``).

``dltut.ops.conv2d`` builds a convolution from plain tensor operations (im2col), which every
engine and mode compiles. In JAX mode, XLA can instead run one native convolution,
``jax.lax.conv_general_dilated`` (cuDNN on NVIDIA GPUs), and its two gradients. This module wraps
them as one PyTensor ``Op``, ``XlaConv``, in three roles: the convolution itself and its gradient
with respect to the input or to the filters. JAX computes the gradients (``jax.vjp``), so the
three agree with each other exactly as JAX's own ``grad`` would.

The convolution is Theano's: valid, with the filter flipped in both spatial axes, as
``dltut.ops.conv2d`` documents. ``perform`` runs the same JAX function on the CPU, so a graph
built here also computes outside JAX mode, though there it is no faster than im2col.
"""

import numpy
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.jax.dispatch import jax_funcify
from pytensor.tensor import as_tensor_variable
from pytensor.tensor.type import TensorType


def conv2d(input, filters):
    """Valid true convolution of ``input`` ``(batch, channels, rows, cols)`` with ``filters``
    ``(n_filters, channels, f_rows, f_cols)``; both need static shapes."""
    return XlaConv()(input, filters)


class XlaConv(Op):
    """The convolution (``wrt=None``, inputs ``input, filters``), or its gradient with respect to
    ``"input"`` or ``"filters"`` (inputs ``input, filters, output_grad``)."""

    __props__ = ("wrt",)

    def __init__(self, wrt=None):
        if wrt not in (None, "input", "filters"):
            raise ValueError(f"wrt must be None, 'input' or 'filters', got {wrt!r}")
        self.wrt = wrt

    def make_node(self, input, filters, *output_grad):
        inputs = [as_tensor_variable(value) for value in (input, filters, *output_grad)]
        if len(inputs) != (2 if self.wrt is None else 3):
            raise TypeError(f"XlaConv(wrt={self.wrt!r}) takes {2 if self.wrt is None else 3} "
                            f"inputs, got {len(inputs)}")
        if any(value.ndim != 4 for value in inputs):
            raise TypeError(f"XlaConv needs 4-d tensors, got {[value.ndim for value in inputs]}")
        if self.wrt == "input":
            out_type = inputs[0].type
        elif self.wrt == "filters":
            out_type = inputs[1].type
        else:
            (batch, _, rows, cols), (n_filters, _, f_rows, f_cols) = (
                inputs[0].type.shape, inputs[1].type.shape)
            shape = (batch, n_filters,
                     None if None in (rows, f_rows) else rows - f_rows + 1,
                     None if None in (cols, f_cols) else cols - f_cols + 1)
            out_type = TensorType(inputs[0].dtype, shape=shape)
        return Apply(self, inputs, [out_type()])

    def perform(self, node, inputs, output_storage):
        value = jax_function(self.wrt)(*inputs)
        output_storage[0][0] = numpy.asarray(value, dtype=node.outputs[0].dtype)

    def pullback(self, inputs, outputs, output_grads):
        if self.wrt is not None:
            raise NotImplementedError("XlaConv: second derivatives are not implemented")
        input, filters = inputs
        (output_grad,) = output_grads
        return [XlaConv("input")(input, filters, output_grad),
                XlaConv("filters")(input, filters, output_grad)]


def jax_function(wrt):
    """The JAX function ``XlaConv(wrt)`` computes."""
    import jax

    def convolve(input, filters):
        flipped = filters[:, :, ::-1, ::-1]  # a true convolution, as Theano's conv2d
        return jax.lax.conv_general_dilated(input, flipped, window_strides=(1, 1),
                                            padding="VALID")

    if wrt is None:
        return convolve

    def gradient(input, filters, output_grad):
        _, pullback = jax.vjp(convolve, input, filters)
        input_grad, filters_grad = pullback(output_grad)
        return input_grad if wrt == "input" else filters_grad

    return gradient


@jax_funcify.register(XlaConv)
def _jax_funcify_xla_conv(op, **kwargs):
    return jax_function(op.wrt)
