"""``IncRows``: ``x[idx] += y`` for a matrix ``x``, as one loop in C (PyTensor's C mode).

PyTensor's ``AdvancedIncSubtensor1`` has C code for vectors only; on a matrix (the gradient of an
embedding lookup, ``emb[idxs]``) the C mode runs its Python ``perform``, NumPy's ``add.at``,
about a tenth of rnnslu's update (docs/speed.md, "The C mode"). ``IncRows`` adds the rows of
``y`` to the rows ``idx`` of ``x`` in the order of ``idx``, as ``add.at`` does (the same
additions, in the same order; a negative index counts from the end, one out of range is an
IndexError). ``engine`` puts it in place of ``AdvancedIncSubtensor1`` in the C mode where ``x``
and ``y`` are float matrices of one dtype and ``y`` has a row per index.
"""

from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp
from pytensor.tensor import as_tensor_variable

INC_ROWS_C = """
{
    npy_intp n_rows = PyArray_DIMS(%(x)s)[0], n_cols = PyArray_DIMS(%(x)s)[1];
    npy_intp n_idx = PyArray_DIMS(%(idx)s)[0];
    if (PyArray_DIMS(%(y)s)[0] != n_idx || PyArray_DIMS(%(y)s)[1] != n_cols) {
        PyErr_Format(PyExc_ValueError, "IncRows: y has shape (%%ld, %%ld), expected (%%ld, %%ld)",
                     (long)PyArray_DIMS(%(y)s)[0], (long)PyArray_DIMS(%(y)s)[1], (long)n_idx,
                     (long)n_cols);
        %(fail)s
    }
    Py_XDECREF(%(out)s);
    if (%(inplace)d) {
        %(out)s = %(x)s;
        Py_INCREF(%(out)s);
    } else {
        %(out)s = (PyArrayObject *)PyArray_NewCopy(%(x)s, NPY_CORDER);
        if (!%(out)s) {
            %(fail)s
        }
    }
    npy_intp out_s0 = PyArray_STRIDES(%(out)s)[0], out_s1 = PyArray_STRIDES(%(out)s)[1];
    npy_intp y_s0 = PyArray_STRIDES(%(y)s)[0], y_s1 = PyArray_STRIDES(%(y)s)[1];
    char *out_data = PyArray_BYTES(%(out)s);
    const char *y_data = PyArray_BYTES(%(y)s);
    for (npy_intp i = 0; i < n_idx; ++i) {
        npy_int64 row = (npy_int64)*(%(idx_type)s *)PyArray_GETPTR1(%(idx)s, i);
        if (row < 0) row += n_rows;
        if (row < 0 || row >= n_rows) {
            PyErr_Format(PyExc_IndexError, "index %%lld is out of bounds for %%ld rows",
                         (long long)*(%(idx_type)s *)PyArray_GETPTR1(%(idx)s, i),
                         (long)n_rows);
            %(fail)s
        }
        char *to = out_data + row * out_s0;
        const char *from = y_data + i * y_s0;
        for (npy_intp c = 0; c < n_cols; ++c) {
            *(%(dtype)s *)(to + c * out_s1) += *(const %(dtype)s *)(from + c * y_s1);
        }
    }
}
"""


def _takes(x, y, idx):
    """Whether ``IncRows`` takes these variables: float matrices of one dtype, an integer
    vector."""
    return (x.ndim == 2 and y.ndim == 2 and idx.ndim == 1 and x.dtype == y.dtype
            and x.dtype in ("float32", "float64") and idx.dtype.startswith("int"))


class IncRows(COp):
    """``x[idx] += y`` (``x`` and ``y`` float matrices of one dtype, ``idx`` an integer vector
    with a row of ``y`` each); ``inplace`` writes into ``x``."""

    __props__ = ("inplace",)

    def __init__(self, inplace=False):
        self.inplace = bool(inplace)
        if self.inplace:
            self.destroy_map = {0: [0]}

    def make_node(self, x, y, idx):
        x, y, idx = map(as_tensor_variable, (x, y, idx))
        if not _takes(x, y, idx):
            raise TypeError(f"IncRows: float matrices of one dtype and an integer vector, got "
                            f"{x.type}, {y.type}, {idx.type}")
        return Apply(self, [x, y, idx], [x.type()])

    def perform(self, node, inputs, outputs):
        import numpy

        x, y, idx = inputs
        out = x if self.inplace else x.copy()
        numpy.add.at(out, idx, y)
        outputs[0][0] = out

    def c_code(self, node, name, inputs, outputs, sub):
        (x, y, idx), (out,) = inputs, outputs
        return INC_ROWS_C % dict(x=x, y=y, idx=idx, out=out, fail=sub["fail"],
                                 inplace=int(self.inplace),
                                 dtype=node.inputs[0].type.dtype_specs()[1],
                                 idx_type=node.inputs[2].type.dtype_specs()[1])

    def c_code_cache_version(self):
        return (1,)


def replacement(node):
    """``IncRows`` in place of the ``AdvancedIncSubtensor1`` ``node`` where it applies, else
    None."""
    op = node.op
    x, y, idx = node.inputs
    if op.set_instead_of_inc or not _takes(x, y, idx) or any(y.type.broadcastable) \
            or node.outputs[0].type != x.type:
        return None
    return [IncRows(inplace=op.inplace)(x, y, idx)]
