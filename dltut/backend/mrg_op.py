"""``MRGDraw``: MRG31k3p draws of a size known only at run time, as one loop in C.

``dltut.random`` draws a symbolic number of elements with a scan of graph steps; in PyTensor's C
mode this op does the same steps (``random._graph_step`` and ``random._graph_integers``, with
the same int64 arithmetic) in one C loop: element ``i`` from stream ``i % n_streams``, each
stream stepped once per element it gives. Its ``perform`` does the same shifts and masks in
NumPy, a step of all drawing streams at a time (tests/test_random.py checks both against
``random.mrg_integers``, which steps by the recurrence's matrices). The op lives in its own
module so that PyTensor can pickle it with its compiled code (it imports PyTensor, which the
theano engine does not have).
"""

import numpy
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp
from pytensor.tensor import as_tensor_variable, vector

M1, M2 = 2147483647, 2147462579  # dltut.random's (which imports this module: not imported here)

MRG_DRAW_C = """
{
    const npy_uint32 M1 = %(M1)du, M2 = %(M2)du;
    npy_int64 n = *(npy_int64 *)PyArray_DATA(%(n)s);
    npy_intp n_streams = PyArray_DIMS(%(rstate)s)[0];
    npy_intp size[1] = {n < 0 ? 0 : n};
    if (PyArray_NDIM(%(rstate)s) != 2 || PyArray_DIMS(%(rstate)s)[1] != 6 || n_streams < 1
            || !PyArray_IS_C_CONTIGUOUS(%(rstate)s)) {
        PyErr_SetString(PyExc_ValueError, "MRGDraw: the state must be C-contiguous (n_streams, 6)");
        %(fail)s
    }
    /* The outputs of the previous call are written again where they fit (as PyTensor's own C
       ops do): fresh arrays of this size cost more in page faults than the draws themselves. */
    if (!%(new_state)s || !PyArray_IS_C_CONTIGUOUS(%(new_state)s)
            || PyArray_NDIM(%(new_state)s) != 2 || PyArray_DIMS(%(new_state)s)[0] != n_streams
            || PyArray_DIMS(%(new_state)s)[1] != 6
            || PyArray_TYPE(%(new_state)s) != PyArray_TYPE(%(rstate)s)
            || ((char *)PyArray_DATA(%(new_state)s) < (char *)PyArray_DATA(%(rstate)s)
                    + PyArray_NBYTES(%(rstate)s)
                && (char *)PyArray_DATA(%(rstate)s) < (char *)PyArray_DATA(%(new_state)s)
                    + PyArray_NBYTES(%(new_state)s))) {  /* it overlaps the state given */
        Py_XDECREF(%(new_state)s);
        %(new_state)s = (PyArrayObject *)PyArray_SimpleNew(2, PyArray_DIMS(%(rstate)s),
                                                            NPY_INT32);
    }
    if (!%(k)s || PyArray_NDIM(%(k)s) != 1 || PyArray_DIMS(%(k)s)[0] != size[0]
            || !PyArray_IS_C_CONTIGUOUS(%(k)s)) {
        Py_XDECREF(%(k)s);
        %(k)s = (PyArrayObject *)PyArray_SimpleNew(1, size, NPY_INT64);
    }
    if (!%(new_state)s || !%(k)s) {
        %(fail)s
    }
    const npy_uint32 *before = (const npy_uint32 *)PyArray_DATA(%(rstate)s);
    npy_uint32 *states = (npy_uint32 *)PyArray_DATA(%(new_state)s);
    npy_int64 *out = (npy_int64 *)PyArray_DATA(%(k)s);
    /* In uint32: no sum below reaches 2**32 (the largest, y1's first, is at most 2**32 - 2),
       and the reductions mod M1 and M2 are masks, not branches (their outcomes are random).
       Element i from stream i %% n_streams: a pass over the streams per n_streams elements, the
       first reading the state given, the others the new one; streams that draw nothing keep
       their state. The streams go BLOCK at a time, their states' columns copied apart so that
       the compiler can compute a block with vector instructions. */
    enum { BLOCK = 64 };
    for (npy_int64 first = 0; first == 0 || first < size[0]; first += n_streams) {
        npy_intp active = size[0] - first < n_streams ? size[0] - first : n_streams;
        const npy_uint32 *from = first == 0 ? before : states;
        npy_int64 *pass = out + first;
        for (npy_intp s0 = 0; s0 < active; s0 += BLOCK) {
            npy_intp nb = active - s0 < BLOCK ? active - s0 : BLOCK;
            npy_uint32 x[6][BLOCK], y1s[BLOCK], y2s[BLOCK];
            const npy_uint32 *rows = from + s0 * 6;
            for (int c = 0; c < 6; ++c) {
                for (npy_intp j = 0; j < nb; ++j) {
                    x[c][j] = rows[j * 6 + c];
                }
            }
            for (npy_intp j = 0; j < nb; ++j) {
                npy_uint32 x12 = x[1][j], x13 = x[2][j], x21 = x[3][j], x23 = x[5][j];
                npy_uint32 y1 = ((x12 & 511u) << 22) + (x12 >> 9) + ((x13 & 16777215u) << 7)
                                + (x13 >> 24);
                y1 -= M1 & -(npy_uint32)(y1 >= M1);
                y1 += x13;
                y1 -= M1 & -(npy_uint32)(y1 >= M1);
                npy_uint32 t1 = ((x21 & 65535u) << 15) + 21069u * (x21 >> 16);
                t1 -= M2 & -(npy_uint32)(t1 >= M2);
                npy_uint32 t2 = ((x23 & 65535u) << 15) + 21069u * (x23 >> 16);
                t2 -= M2 & -(npy_uint32)(t2 >= M2);
                npy_uint32 y2 = t2 + x23;
                y2 -= M2 & -(npy_uint32)(y2 >= M2);
                y2 += t1;
                y2 -= M2 & -(npy_uint32)(y2 >= M2);
                y1s[j] = y1;
                y2s[j] = y2;
                /* y1 - y2, plus M1 where y1 <= y2: in [1, M1], through uint32's wraparound */
                pass[s0 + j] = (npy_uint32)(y1 - y2 + (M1 & -(npy_uint32)(y1 <= y2)));
            }
            npy_uint32 *y = states + s0 * 6;
            for (npy_intp j = 0; j < nb; ++j) {
                y[j * 6] = y1s[j]; y[j * 6 + 1] = x[0][j]; y[j * 6 + 2] = x[1][j];
                y[j * 6 + 3] = y2s[j]; y[j * 6 + 4] = x[3][j]; y[j * 6 + 5] = x[4][j];
            }
        }
        if (first == 0 && active < n_streams) {
            memcpy(states + active * 6, before + active * 6,
                   (n_streams - active) * 6 * sizeof(npy_uint32));
        }
    }
}
"""


def _reduce(y, m):
    return numpy.where(y >= m, y - m, y)


def _step(x):
    """One step of each row of the int64 ``(streams, 6)`` states ``x``, as the C loop does it."""
    x11, x12, x13, x21, x22, x23 = x.T
    y1 = ((x12 & 511) << 22) + (x12 >> 9) + ((x13 & 16777215) << 7) + (x13 >> 24)
    y1 = _reduce(_reduce(y1, M1) + x13, M1)
    t1 = _reduce(((x21 & 65535) << 15) + 21069 * (x21 >> 16), M2)
    t2 = _reduce(((x23 & 65535) << 15) + 21069 * (x23 >> 16), M2)
    y2 = _reduce(_reduce(t2 + x23, M2) + t1, M2)
    return numpy.stack([y1, x11, x12, y2, x21, x22], axis=1)


class MRGDraw(COp):
    """``(new_state, k)``: ``n`` integer draws ``k`` in [1, M1] (int64 scalar ``n``) from the
    int32 ``(n_streams, 6)`` state ``rstate``, and the state after them."""

    __props__ = ()

    def make_node(self, rstate, n):
        rstate, n = as_tensor_variable(rstate), as_tensor_variable(n)
        return Apply(self, [rstate, n], [rstate.type(), vector(dtype="int64")])

    def connection_pattern(self, node):
        return [[False, False], [False, False]]  # integers: no gradient flows through

    def perform(self, node, inputs, outputs):
        states, n = numpy.array(inputs[0], dtype="int64"), int(inputs[1])
        draws = []
        for start in range(0, max(n, 0), len(states)):
            active = min(n - start, len(states))
            states[:active] = _step(states[:active])
            y1, y2 = states[:active, 0], states[:active, 3]
            draws.append(numpy.where(y1 <= y2, y1 + M1 - y2, y1 - y2))
        outputs[0][0] = states.astype("int32")
        outputs[1][0] = numpy.concatenate(draws) if draws else numpy.zeros(0, "int64")

    def c_code(self, node, name, inputs, outputs, sub):
        (rstate, n), (new_state, k) = inputs, outputs
        return MRG_DRAW_C % dict(rstate=rstate, n=n, new_state=new_state, k=k, fail=sub["fail"],
                                 M1=M1, M2=M2)

    def c_code_cache_version(self):
        return (4,)


mrg_draw = MRGDraw()
