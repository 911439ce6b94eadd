"""JAX mode for graphs whose shapes are known only when they run (PyTensor only).

PyTensor's JAX mode compiles a graph to one ``jax.jit`` program. JAX traces that program again for
each new shape of its inputs, with every shape a constant of the trace; but the graph's own
arithmetic on shapes (a scan's number of steps, its output buffer's size, a reshape's target:
``x.shape[0] * 16``) runs as JAX operations, and under ``jit`` every JAX operation yields a traced
value, which JAX refuses as a shape. So PyTensor's JAX mode needs every shape constant when the
graph is built, and a function of sequences of many lengths had to be built once per length.

``mode()`` evaluates that arithmetic while JAX traces: a node whose outputs are integer scalars or
vectors (shapes and sizes) and whose inputs are all known (constants, or the shapes of traced
arrays) is computed by its own NumPy ``perform``, and its value enters the trace as a constant; a
reshape takes such a value as its target shape. Every other node is PyTensor's JAX code as it was,
so the program computes the same operations; only the graph is built once, and JAX compiles one
program per input shape (``jax.jit``'s own cache).
"""

import numpy


def _is_shape_arithmetic(node):
    return all(getattr(out.type, "dtype", "")[:3] in ("int", "uin", "boo") and out.type.ndim <= 1
               for out in node.outputs)


def _funcify(op, node=None, **kwargs):
    """``jax_funcify``, with shape arithmetic on known values done by NumPy."""
    import jax
    import jax.numpy as jnp
    from pytensor.graph.basic import Constant
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.link.jax.dispatch.shape import JAXShapeTuple
    from pytensor.tensor.shape import Reshape

    if isinstance(op, Reshape) and not isinstance(node.inputs[1], Constant):
        def reshape(x, shape):  # PyTensor's JAX reshape refuses a computed shape
            if isinstance(shape, jax.core.Tracer):
                raise TypeError(f"{node}: its target shape depends on the values of the inputs")
            return jnp.reshape(x, tuple(int(s) for s in numpy.asarray(shape)))
        return reshape

    try:
        jax_fn = jax_funcify(op, node=node, **kwargs)
    except NotImplementedError:  # an arange of computed bounds (sized from an unknown axis)
        if node is None or not _is_shape_arithmetic(node):
            raise

        def jax_fn(*values):  # reached only with traced values: NumPy computes known ones below
            raise TypeError(f"{node}: its values depend on the values of the inputs")
    if node is None or isinstance(op, JAXShapeTuple) or not _is_shape_arithmetic(node):
        return jax_fn

    def shape_arithmetic(*values):
        if any(isinstance(value, jax.core.Tracer) for value in values):
            return jax_fn(*values)
        outputs = _perform(node, [numpy.asarray(value, dtype=variable.type.dtype)
                                  for value, variable in zip(values, node.inputs)])
        return outputs[0] if len(outputs) == 1 else tuple(outputs)
    return shape_arithmetic


def _perform(node, values):
    """The outputs of ``node`` on the NumPy ``values``, by its op's ``perform``; an element-wise
    op of more operands than a NumPy ufunc takes (32: a fused chain of shape arithmetic) by its
    scalar op, element by element."""
    from pytensor.tensor.elemwise import Elemwise

    if isinstance(node.op, Elemwise) and len(node.inputs) + len(node.outputs) > 32:
        arrays = numpy.broadcast_arrays(*values)
        shape = arrays[0].shape if arrays else ()
        results = [numpy.empty(shape, dtype=out.type.dtype) for out in node.outputs]
        for index in numpy.ndindex(shape):
            scalars = node.op.scalar_op.impl(*(array[index] for array in arrays))
            for result, scalar in zip(results, scalars if len(results) > 1 else (scalars,)):
                result[index] = scalar
        return results
    outputs = [[None] for _ in node.outputs]
    node.op.perform(node, values, outputs)
    return [out[0] for out in outputs]


def _linker():
    from pytensor.link.jax.dispatch import jax_typify
    from pytensor.link.jax.linker import JAXLinker
    from pytensor.link.utils import fgraph_to_python
    from pytensor.tensor.random.type import RandomType

    class ShapesAtRunTimeJAXLinker(JAXLinker):
        def fgraph_convert(self, fgraph, input_storage, storage_map, **kwargs):
            if any(isinstance(variable.type, RandomType) for variable in fgraph.inputs):
                # PyTensor's own random generators: its linker's handling (dltut's are MRG)
                return super().fgraph_convert(fgraph, input_storage, storage_map, **kwargs)
            self.scalar_shape_inputs = ()
            return fgraph_to_python(fgraph, _funcify, type_conversion_fn=jax_typify,
                                    fgraph_name="jax_funcified_fgraph",
                                    input_storage=input_storage, storage_map=storage_map,
                                    **kwargs)

    return ShapesAtRunTimeJAXLinker()


_MODE = None


def mode():
    """PyTensor's JAX mode (its rewrites), with shapes evaluated while JAX traces."""
    global _MODE
    if _MODE is None:
        from pytensor.compile.mode import Mode, get_mode

        _MODE = Mode(linker=_linker(), optimizer=get_mode("JAX").provided_optimizer)
    return _MODE
