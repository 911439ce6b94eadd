"""Theano's MRG random streams (MRG31k3p, ``MRG_RandomStream``), drawing what Theano drew, bit for bit.

MRG31k3p (L'Ecuyer and Touzin, 2000) combines two multiple recursive generators of order 3,

.. math::
    x_{1,n} = (2^{22} x_{1,n-2} + (2^7 + 1) x_{1,n-3}) \\bmod m_1, \\quad m_1 = 2^{31} - 1

    x_{2,n} = (2^{15} x_{2,n-1} + (2^{15} + 1) x_{2,n-3}) \\bmod m_2, \\quad m_2 = 2^{31} - 21069

and draws :math:`u_n = ((x_{1,n} - x_{2,n}) \\bmod m_1) / 2^{31}` (with ``m_1`` for 0). A state is
the six int32 ``(x_{1,n}, x_{1,n-1}, x_{1,n-2}, x_{2,n}, x_{2,n-1}, x_{2,n-2})``.

How Theano (theano-pymc 1.1.2, ``theano/sandbox/rng_mrg.py``) uses it, and dltut with it:

* ``MRG_RandomStream(seed)`` keeps a master state: an int seed becomes ``[seed] * 6``.
* Each call site (each ``.uniform``, ``.binomial``, ``.normal`` call while the graph is built) takes
  ``n_streams`` substreams at once: the master state and its successors 2**72 steps apart
  (matrices ``A1p72``, ``A2p72``), stored as an int32 ``(n_streams, 6)`` shared variable; then the
  master state jumps 2**134 steps (``A1p134``, ``A2p134``) for the next call site.
* ``n_streams`` is ``guess_n_streams(size)``: for a tuple of Python ints, the number of elements
  ``n``, divided by 6 when ``n > 6``, at most ``60 * 256 = 15360``; for any other size (a tensor,
  ``x.shape``, a tuple holding a variable or a NumPy integer) 15360.
* Element ``i`` of a draw (in C order) comes from stream ``i % n_streams``, at that stream's
  ``i // n_streams``-th step: the streams take turns. A stream advances once per element it draws.
* float64: ``u = k * 2**-31`` with ``k`` in ``[1, m_1]``, exact. float32: ``float32(k) * NORM32``,
  ``NORM32 = float32(4.6566126e-10)``, the largest float32 below ``2**-31``, so ``u < 1`` even when
  ``float32(k)`` rounds to ``2**31``.
* ``uniform`` is ``u * (high - low) + low``; ``binomial`` (``n=1``) is ``uniform < p`` cast to
  ``dtype``; ``normal`` is Box-Muller over one uniform draw of the element count rounded up to even,
  always with 15360 streams: the first half of the uniforms are the radii, the second half the
  angles, the cosines fill the first half of the output and the sines the second half.

The draw returns with the shared state's ``default_update`` set to the advanced state, as Theano's:
``function`` picks it up by itself (PyTensor 3 still does), and so does ``scan`` for draws made
inside its step function. A draw made outside a scan and used inside it (as a fused training step
clones the cost) advances only with ``default_updates(outputs)`` added to the step's updates.

On the ``theano`` engine, :class:`RandomStreams` is Theano's own ``MRG_RandomStream`` with names
and :meth:`~RandomStreams.state` added. On PyTensor the draw is a graph of integer elementwise
operations (Theano's shift-and-mask form of the recurrence, in which no value reaches 2**32; int64,
or uint32 in JAX mode, which then needs no 64-bit integers), so it compiles in the C, Numba and JAX
modes and inside ``scan``. The graph is made for the compile mode current when it is drawn.

Uniforms in (0, 1), binomials and the states are identical in every mode. ``low + u * (high -
low)`` is one multiply-add, which XLA (and C compilers) may fuse with one rounding instead of two:
exact for widths that are powers of two. Normals may differ in the last bits: log, sin and cos
differ by an ulp between C libraries and XLA.

The NumPy functions (:func:`mrg_uniform`, :class:`NumpyStreams`) are an independent reference: they
step with exact int64 modular arithmetic.
"""

import math
import numbers
import warnings

import numpy

from dltut import engine
from dltut.backend import modes

# ----------------------------------------------------------------------------------------------
# MRG31k3p constants, as in rng_mrg.py

M1 = 2147483647  # 2**31 - 1, modulus of the first component
M2 = 2147462579  # 2**31 - 21069, modulus of the second
MAX_STREAMS = 60 * 256  # Theano's cap on a call site's streams, and its guess for a tensor size
NORM64 = 4.656612873077392578125e-10  # 2**-31
NORM32 = numpy.float32(4.6566126e-10)  # float32 just below 2**-31: float32(2**31) * NORM32 < 1

# one step: x_n = A x_{n-1} on (x_n, x_{n-1}, x_{n-2})
A1p0 = numpy.array([[0, 4194304, 129], [1, 0, 0], [0, 1, 0]], dtype="int64")
A2p0 = numpy.array([[32768, 0, 32769], [1, 0, 0], [0, 1, 0]], dtype="int64")
# 2**72 steps: from one substream to the next
A1p72 = numpy.array([[1516919229, 758510237, 499121365],
                     [1884998244, 1516919229, 335398200],
                     [601897748, 1884998244, 358115744]], dtype="int64")
A2p72 = numpy.array([[1228857673, 1496414766, 954677935],
                     [1133297478, 1407477216, 1496414766],
                     [2002613992, 1639496704, 1407477216]], dtype="int64")
# 2**134 steps: from one call site's first substream to the next call site's
A1p134 = numpy.array([[1702500920, 1849582496, 1656874625],
                      [828554832, 1702500920, 1512419905],
                      [1143731069, 828554832, 102237247]], dtype="int64")
A2p134 = numpy.array([[796789021, 1464208080, 607337906],
                      [1241679051, 1431130166, 1464208080],
                      [1401213391, 1178684362, 1431130166]], dtype="int64")


# ----------------------------------------------------------------------------------------------
# The NumPy reference


def seed_state(seed):
    """The master state of ``MRG_RandomStream(seed)``: an int -> ``[seed] * 6``, or six ints.

    As Theano: an int must be nonzero and below ``M2``; of six ints, the first three must be below
    ``M1`` and not all 0, the last three below ``M2`` and not all 0. Negative values, which Theano
    accepts but which leave MRG31k3p's ranges, are refused.
    """
    if isinstance(seed, numbers.Integral):
        if seed == 0:
            raise ValueError(f"seed should not be 0: got {seed}")
        if not 0 < seed < M2:
            raise ValueError(f"seed should be between 1 and {M2 - 1}: got {seed}")
        return numpy.full(6, seed, dtype="int32")
    values = [int(v) for v in seed]
    if len(values) != 6:
        raise TypeError(f"seed should be 1 integer or 6 integers: got {seed!r}")
    for part, limit in ((values[:3], M1), (values[3:], M2)):
        if all(v == 0 for v in part):
            raise ValueError(f"seed {values}: the first and the last 3 values must not all be 0")
        if any(not 0 <= v < limit for v in part):
            raise ValueError(f"seed {values}: values must be in [0, {limit}) ({M1} for the "
                             f"first 3, {M2} for the last 3)")
    return numpy.array(values, dtype="int32")


def _mat_vec_mod(A, v, m):
    """``A @ v mod m`` for the 3-vectors on the last axis of ``v``, as Theano's DotModulo:
    each product reduced, then the sum."""
    v = numpy.asarray(v, dtype="int64")
    return ((A * v[..., None, :]) % m).sum(axis=-1) % m


def _mat_mul_mod(A, B, m):
    return numpy.array([[sum(int(A[i, k]) * int(B[k, j]) for k in range(3)) % m
                         for j in range(3)] for i in range(3)], dtype="int64")


def jump(states, A1, A2):
    """States (..., 6) advanced by the matrices ``A1`` (first component) and ``A2`` (second)."""
    states = numpy.asarray(states)
    return numpy.concatenate([_mat_vec_mod(A1, states[..., :3], M1),
                              _mat_vec_mod(A2, states[..., 3:], M2)], axis=-1).astype("int32")


def substream_states(rstate, n_streams):
    """``(n_streams, 6)``: ``rstate`` and its successors, each 2**72 steps after the one before
    (Theano's ``get_substream_rstates``, computed by doubling instead of one row at a time)."""
    if not 0 < n_streams < 2 ** 31:
        raise ValueError(f"n_streams must be a positive int32: got {n_streams}")
    rows = numpy.asarray(rstate, dtype="int32")[None, :]
    A1, A2 = A1p72, A2p72  # the jump from the first of the rows to the first after them
    while len(rows) < n_streams:
        rows = numpy.concatenate([rows, jump(rows, A1, A2)])
        A1, A2 = _mat_mul_mod(A1, A1, M1), _mat_mul_mod(A2, A2, M2)
    return rows[:n_streams]


def _mat_pow_mod(A, power, m):
    result = numpy.eye(3, dtype="int64")
    while power:
        if power & 1:
            result = _mat_mul_mod(result, A, m)
        A, power = _mat_mul_mod(A, A, m), power >> 1
    return result


def draw_steps(n, n_streams):
    """How many times each of ``n_streams`` streams steps in a draw of ``n`` elements (element
    ``i`` from stream ``i % n_streams``)."""
    return numpy.maximum(0, -(-(n - numpy.arange(n_streams)) // n_streams))


def skip_ahead(states, steps):
    """``states`` (n_streams, 6) with row ``i`` stepped ``steps[i]`` times, by the recurrence's
    matrices raised to that power: the states that many draws of each stream leave."""
    states = numpy.array(states, dtype="int32")
    steps = numpy.broadcast_to(numpy.asarray(steps, dtype="int64"), (len(states),))
    for count in numpy.unique(steps[steps > 0]):
        rows = steps == count
        states[rows] = jump(states[rows], _mat_pow_mod(A1p0, int(count), M1),
                            _mat_pow_mod(A2p0, int(count), M2))
    return states


def next_rstate(rstate):
    """The master state for the next call site: 2**134 steps on (Theano's ``inc_rstate``)."""
    return jump(rstate, A1p134, A2p134)


def guess_n_streams(size):
    """Theano's ``guess_n_streams``: streams of a call site drawing ``size``.

    A tuple or list of Python ints with ``n`` elements: ``n // 6`` when ``n > 6``, else ``n``, at
    most 15360. Anything else (a tensor, a tuple holding a variable or a NumPy integer): 15360.
    """
    if isinstance(size, (tuple, list)) and all(isinstance(s, int) for s in size):
        n = math.prod(size)
        return min(n // 6 if n > 6 else n, MAX_STREAMS)
    return MAX_STREAMS


def step(states):
    """One MRG31k3p step of each stream (rows of ``states``), in exact int64 arithmetic."""
    x = numpy.asarray(states, dtype="int64")
    y1 = (A1p0[0, 1] * x[:, 1] + A1p0[0, 2] * x[:, 2]) % M1
    y2 = (A2p0[0, 0] * x[:, 3] + A2p0[0, 2] * x[:, 5]) % M2
    return numpy.stack([y1, x[:, 0], x[:, 1], y2, x[:, 3], x[:, 4]], axis=1).astype("int32")


def mrg_integers(states, n):
    """``n`` draws from the streams ``states`` as integers ``k`` in [1, M1] (the uniform is
    ``k / 2**31``), element ``i`` from stream ``i % n_streams``; and the advanced states."""
    states = numpy.array(states, dtype="int32")
    n_streams = len(states)
    draws = []
    for start in range(0, n, n_streams):
        active = min(n - start, n_streams)
        states[:active] = step(states[:active])
        x1, x2 = states[:active, 0].astype("int64"), states[:active, 3].astype("int64")
        draws.append(numpy.where(x1 <= x2, x1 - x2 + M1, x1 - x2))
    return numpy.concatenate(draws) if draws else numpy.zeros(0, "int64"), states


def integers_to_uniform(k, dtype):
    """Theano's conversion of the integers ``k`` to uniforms of ``dtype``."""
    if dtype == "float32":
        return numpy.asarray(k).astype("float32") * NORM32
    if dtype == "float64":
        return numpy.asarray(k).astype("float64") * NORM64
    raise ValueError(f"MRG uniforms are float32 or float64, not {dtype!r}")


def mrg_uniform(states, n, dtype):
    """``n`` uniforms of ``dtype`` from ``states`` (Theano's ``mrg_uniform`` op); new states."""
    k, states = mrg_integers(states, n)
    return integers_to_uniform(k, dtype), states


def box_muller(u, dtype):
    """Normals from an even number of uniforms, as Theano's ``normal``: ``(z0, z1)`` from the
    first half (radii) and the second half (angles) of ``u``."""
    half = len(u) // 2
    r = numpy.sqrt(numpy.asarray(-2.0, dtype) * _rounded(numpy.log, u[:half]))
    theta = numpy.asarray(2.0 * numpy.pi, dtype) * u[half:]
    return r, _rounded(numpy.cos, theta), _rounded(numpy.sin, theta)


def _rounded(f, x):
    """``f(x)`` correctly rounded to float32 for float32 ``x`` (computed in float64), as the C
    library's logf, sinf, cosf give it; NumPy's own float32 versions can be an ulp off."""
    return f(x.astype("float64")).astype("float32") if x.dtype == "float32" else f(x)


class NumpyStreams:
    """``MRG_RandomStream`` in NumPy, drawing at once: the reference the tests compare against.

    Each method call is one call site. ``draws=k`` returns the list of the first ``k`` draws of
    that call site (what ``k`` calls of a compiled function return), else the first draw.
    ``dtype=None`` is float64 (pass ``floatX`` explicitly).
    """

    def __init__(self, seed=12345):
        self.rstate = seed_state(seed)
        self.site_states = []  # each call site's states after its draws

    def _call_site(self, n_streams):
        self.site_states.append(substream_states(self.rstate, n_streams))
        self.rstate = next_rstate(self.rstate)
        return len(self.site_states) - 1

    def _uniforms(self, size, dtype, n_streams, draws):
        site = self._call_site(n_streams)
        out = []
        for _ in range(draws or 1):
            u, self.site_states[site] = mrg_uniform(self.site_states[site], math.prod(size), dtype)
            out.append(u.reshape(size))
        return out

    @staticmethod
    def _one_or_all(out, draws):
        return out if draws else out[0]

    def uniform(self, size, low=0.0, high=1.0, dtype=None, nstreams=None, draws=None):
        dtype = dtype or "float64"
        low, high = numpy.asarray(low, dtype), numpy.asarray(high, dtype)
        n_streams = nstreams or guess_n_streams(size)
        out = [u * (high - low) + low for u in self._uniforms(tuple(size), dtype, n_streams, draws)]
        return self._one_or_all(out, draws)

    def binomial(self, size, p=0.5, dtype="int64", floatX="float64", nstreams=None, draws=None):
        """``uniform(size) < p`` cast to ``dtype``; the uniforms are ``floatX``, and so is a Python
        float ``p`` (as the engines' constants are)."""
        p = numpy.asarray(p, floatX if isinstance(p, float) else None)
        n_streams = nstreams or guess_n_streams(size)
        out = [(u < p).astype(dtype) for u in self._uniforms(tuple(size), floatX, n_streams, draws)]
        return self._one_or_all(out, draws)

    def normal(self, size, avg=0.0, std=1.0, dtype=None, nstreams=None, draws=None,
               truncate=False):
        dtype = dtype or "float64"
        size = (size,) if isinstance(size, numbers.Integral) else tuple(size)
        n = math.prod(size)
        even = n + n % 2
        avg, std = numpy.asarray(avg, dtype), numpy.asarray(std, dtype)
        uniforms = self._uniforms((even,), dtype, nstreams or MAX_STREAMS, draws)
        fixes = self._call_site(nstreams or MAX_STREAMS) if truncate else None
        out = []
        for u in uniforms:
            r, cos, sin = box_muller(u, dtype)
            z0, z1 = r * cos, r * sin
            if truncate:
                bad0, bad1 = numpy.abs(z0) > 2.0, numpy.abs(z1) > 2.0
                n_fix = int(bad0.sum() + bad1.sum())
                lower = numpy.asarray(1.0 / numpy.e ** 2, dtype)
                u_fix, self.site_states[fixes] = mrg_uniform(self.site_states[fixes], n_fix, dtype)
                u_fix = u_fix * (numpy.asarray(1.0, dtype) - lower) + lower
                r_fix = numpy.sqrt(numpy.asarray(-2.0, dtype) * _rounded(numpy.log, u_fix))
                n0 = int(bad0.sum())
                z = numpy.concatenate([z0[~bad0], r_fix[:n0] * cos[bad0],
                                       z1[~bad1], r_fix[n0:] * sin[bad1]])
            else:
                z = numpy.concatenate([z0, z1])
            out.append(z[:n].reshape(size) * std + avg)
        return self._one_or_all(out, draws)


# ----------------------------------------------------------------------------------------------
# The symbolic draw (PyTensor)

_UNROLL_STEPS = 16  # a draw of a known size with at most this many steps per stream is unrolled
_UNROLL_STEPS_JAX = 2  # in JAX mode: see _graph_draw


def _state_dtype():
    """The integer type the draw computes in.

    int64 in the C and Numba modes: no value of the recurrence reaches 2**33, so nothing wraps.
    (uint32 does not do there: PyTensor's rewrites turn ``y - m`` into ``y + (2**32 - m)``, and its
    Numba code computes such fused expressions in int64, without the wraparound.) uint32 in JAX
    mode, which has no 64-bit integers unless x64 is on, and whose uint32 arithmetic wraps.
    """
    return "uint32" if engine.mode() == "jax" else "int64"


def _const(value, dtype):
    return engine.T.constant(numpy.dtype(dtype).type(value))


def _reduce(y, m):
    """``y mod m`` for ``y`` in [0, 2 m)."""
    m = _const(m, y.dtype)
    return engine.T.switch(y >= m, y - m, y)


def _graph_step(x11, x12, x13, x21, x22, x23):
    """One MRG31k3p step on vectors of uint32 or int64 values, with Theano's shifts and masks (as
    multiplications and divisions by powers of two): no intermediate value reaches 2**32."""
    def c(value):
        return _const(value, x11.dtype)

    # 2**22 x12 + 2**7 x13 mod m1, as 2**31 = 1 mod m1
    y1 = ((x12 & c(511)) * c(2 ** 22) + x12 // c(2 ** 9)
          + (x13 & c(16777215)) * c(2 ** 7) + x13 // c(2 ** 24))
    y1 = _reduce(_reduce(y1, M1) + x13, M1)
    # 2**15 x mod m2, as 2**31 = 21069 mod m2
    t1 = _reduce((x21 & c(65535)) * c(2 ** 15) + c(21069) * (x21 // c(2 ** 16)), M2)
    t2 = _reduce((x23 & c(65535)) * c(2 ** 15) + c(21069) * (x23 // c(2 ** 16)), M2)
    y2 = _reduce(_reduce(t2 + x23, M2) + t1, M2)
    return y1, x11, x12, y2, x21, x22


def _graph_integers(x):
    """The draw ``k`` in [1, M1] from a stepped state (six integer vectors)."""
    x1, x2 = x[0], x[3]
    return engine.T.switch(x1 <= x2, (x1 + _const(M1, x1.dtype)) - x2, x1 - x2)


def _graph_draw(rstate, n, n_streams):
    """``(new_rstate, k)``: ``n`` integer draws (int scalar or Python int) from the int32
    ``(n_streams, 6)`` state ``rstate``, element ``i`` from stream ``i % n_streams``."""
    T = engine.T
    if engine.mode() == "c" and engine.name() == "pytensor":
        # one loop in C (MRGDraw), several times faster than the fused graph steps below
        from dltut.backend.mrg_op import mrg_draw

        return mrg_draw(rstate, T.cast(n, "int64"))
    state = T.cast(rstate, _state_dtype())
    # XLA fuses a chain of unrolled steps by computing each step again for every use, so its
    # cost grows much faster than the steps: in JAX mode a loop past 2 steps (docs/speed.md,
    # "JAX mode")
    limit = _UNROLL_STEPS_JAX if engine.mode() == "jax" else _UNROLL_STEPS
    if not isinstance(n, int) or -(-n // n_streams) > limit:
        new_state, k = _graph_draw_scan(state, n, n_streams)
        return T.cast(new_state, "int32"), k
    x = [state[:, c] for c in range(6)]
    rows = []
    for start in range(0, n, n_streams):
        if n - start >= n_streams:
            x = list(_graph_step(*x))
            rows.append(_graph_integers(x))
        else:  # the last, partial row: only the first streams draw (and step)
            active = n - start
            stepped = _graph_step(*[column[:active] for column in x])
            rows.append(_graph_integers(stepped))
            x = [T.concatenate([new, old[active:]]) for new, old in zip(stepped, x)]
    return T.cast(T.stack(x, axis=1), "int32"), T.concatenate(rows)


def _graph_draw_scan(state, n, n_streams):
    """``(new_state, k)`` of ``_graph_draw`` for a symbolic ``n``: a scan of ceil(n / n_streams)
    steps (at least one), the streams past the last element left as they are in the last step.
    The state is carried as its six columns: no interleaving copy at each step."""
    T = engine.T
    n_steps = T.maximum((n + (n_streams - 1)) // n_streams, 1)
    remaining = n - n_streams * T.arange(n_steps)  # elements left at each step
    streams = T.arange(n_streams)

    def one_step(left, *x):
        stepped = _graph_step(*x)
        active = streams < left
        return ([T.switch(active, new, old) for new, old in zip(stepped, x)]
                + [_graph_integers(stepped)])

    outputs, _ = engine.scan(one_step, sequences=[remaining],
                             outputs_info=[state[:, c] for c in range(6)] + [None],
                             name="mrg_uniform")
    return T.stack([column[-1] for column in outputs[:6]], axis=1), outputs[6].flatten()[:n]


def _graph_uniform(rstate, size, ndim, dtype, n_streams):
    """``(new_rstate, u)``: uniforms of ``dtype`` and shape ``size`` (Python ints, or scalar
    variables, or one vector variable) from the state ``rstate``."""
    T = engine.T
    static = _static_size(size)
    if static is not None:  # n_streams stays what the caller's (maybe symbolic) size gave
        shape = static
        n = math.prod(shape)
    else:
        shape = T.as_tensor_variable(size if not isinstance(size, tuple) else list(size), ndim=1)
        n = T.prod(T.cast(shape, "int64"))
    new_rstate, k = _graph_draw(rstate, n, n_streams)
    new_rstate = T.specify_shape(new_rstate, (n_streams, 6))
    if dtype not in ("float32", "float64"):
        raise ValueError(f"MRG uniforms are float32 or float64, not {dtype!r}")
    if dtype == "float32":
        # float32(k) * NORM32 rounded once, as float32(k) * 2**-31 - float32(k) * 2**-55: both
        # terms are exact, in float64 and in float32 alike. Neither the plain float32 product
        # nor the float64 one cast down is safe everywhere: PyTensor's C code writes a float32
        # constant as an 8-digit double literal (4.6566126e-10) and multiplies in double by that
        # other number; JAX without x64 computes float64 in float32, and XLA fuses the product
        # into the multiply-add of uniform()'s low and high (one rounding instead of two).
        f = T.cast(T.cast(k, "float32"), "float64")
        u = T.cast(f * T.constant(numpy.float64(2.0 ** -31))
                   - f * T.constant(numpy.float64(2.0 ** -55)), "float32")
    else:
        u = T.cast(k, "float64") * T.constant(numpy.float64(NORM64))
    return new_rstate, T.reshape(u, shape, ndim=ndim)


def _static_size(size):
    """``size`` as a tuple of Python ints when the graph fixes its value (ints, or the shape of
    a variable whose type has a static shape, such as a product of static-shaped shared
    variables), else None. A draw of a known size steps only the streams that draw."""
    from pytensor.tensor.exceptions import NotScalarConstantError  # the graph is PyTensor's

    T = engine.T
    if isinstance(size, tuple) and all(isinstance(s, numbers.Integral) for s in size):
        return tuple(int(s) for s in size)
    try:
        entries = list(size) if isinstance(size, tuple) else [
            size[i] for i in range(T.get_vector_length(size))]
        return tuple(int(T.get_underlying_scalar_constant_value(s)) for s in entries)
    except (NotScalarConstantError, ValueError):  # a value or a length the graph leaves open
        return None


def _check_size(size):
    """Theano's normal() size: an int, a tuple or list of ints and scalar variables, or a vector
    variable; returned as a tuple of Python ints when all are known, else as a vector variable."""
    T = engine.T
    if isinstance(size, numbers.Integral):
        size = (size,)
    if isinstance(size, (tuple, list)):
        for s in size:
            if isinstance(s, numbers.Integral) and s <= 0:
                raise ValueError(f"size {size!r}: dimensions must be positive")
        if all(isinstance(s, numbers.Integral) for s in size):
            return tuple(int(s) for s in size)
        return T.as_tensor_variable(list(size), ndim=1)
    if getattr(size, "ndim", None) == 1:
        return size
    if getattr(size, "ndim", None) == 0:
        return T.stack([size])
    raise ValueError(f"size must be an int, a tuple of ints or a vector variable, not {size!r}")


def default_updates(outputs):
    """``[(state, new_state)]`` of the random streams drawn in the graphs of ``outputs``.

    ``function`` applies these by itself; a ``scan`` step that clones a graph drawn outside the
    scan returns them (cloned alike) in its updates, so that each step advances the streams as one
    call of the unfused function does.
    """
    return modes.default_updates(outputs)


class _Checkpoint:
    """``state()``/``set_state()`` over ``self.rstate`` and the call sites' shared states."""

    def _name_site(self, rstate):
        rstate.name = f"{self.name}_rstate_{len(self.state_updates) - 1}"

    def state(self):
        """``{"rstate": master state, name of each call site's state: its value}`` (copies)."""
        values = {"rstate": numpy.array(self.rstate)}
        for shared, *_ in self.state_updates:
            values[shared.name] = shared.get_value(borrow=False)
        return values

    def set_state(self, values):
        """Restore what :meth:`state` returned, for the same call sites in the same order."""
        names = ["rstate"] + [shared.name for shared, *_ in self.state_updates]
        if sorted(values) != sorted(names):
            raise ValueError(f"random stream states {sorted(values)} do not match this "
                             f"RandomStreams' call sites {sorted(names)}: build the same model "
                             f"with the same seed before restoring")
        for shared, *_ in self.state_updates:
            old = shared.get_value(borrow=True)
            new = numpy.asarray(values[shared.name])
            if new.shape != old.shape:
                raise ValueError(f"{shared.name}: state of shape {new.shape}, expected {old.shape}")
            shared.set_value(new.astype("int32"))
        self.rstate = numpy.asarray(values["rstate"], dtype="int32")


class RandomStreams(_Checkpoint):
    """Theano's ``MRG_RandomStream(seed)``: symbolic uniform, binomial and normal draws.

    Each draw's state is an int32 ``(n_streams, 6)`` shared variable named
    ``{name}_rstate_{i}`` (``i``: the call site, from 0) whose ``default_update`` advances it; a
    compiled function draws anew at each call. On the ``theano`` engine this is Theano's own
    ``MRG_RandomStream`` (with the names, ``state`` and ``set_state``).
    """

    def __new__(cls, seed=12345, name="mrg"):
        if cls is RandomStreams and engine.name() == "theano":
            return _theano_streams_class()(seed, name)
        return super().__new__(cls)

    def __init__(self, seed=12345, name="mrg"):
        self.name = name
        self.default_instance_seed = seed
        self.state_updates = []  # (state, new state, size, n_streams) of each call site
        self.set_rstate(seed)

    def set_rstate(self, seed):
        self.rstate = seed_state(seed)

    def seed(self, seed=None):
        """Restart every call site's streams from ``seed`` (the first seed when None)."""
        self.set_rstate(self.default_instance_seed if seed is None else seed)
        for shared, _, _, n_streams in self.state_updates:
            shared.set_value(self.get_substream_rstates(n_streams))

    def updates(self):
        return [(shared, new) for shared, new, *_ in self.state_updates]

    def inc_rstate(self):
        self.rstate = next_rstate(self.rstate)

    def get_substream_rstates(self, n_streams, dtype=None, inc_rstate=True):
        states = substream_states(self.rstate, n_streams)
        if inc_rstate:
            self.inc_rstate()
        return states

    def n_streams(self, size):
        return guess_n_streams(size)

    def _uniform01(self, size, ndim, dtype, n_streams):
        """A new call site drawing uniforms in (0, 1)."""
        states = self.get_substream_rstates(n_streams)
        # of static shape, as the updated state is: a default update must have the same type
        shared = engine.backend().shared(states, shape=states.shape)
        new_rstate, u = _graph_uniform(shared, size, ndim, dtype, n_streams)
        self.state_updates.append((shared, new_rstate, size, n_streams))
        self._name_site(shared)
        shared.tag.is_rng = True
        with warnings.catch_warnings():
            # PyTensor 3 deprecates setting it (not using it: function and scan still apply it)
            warnings.simplefilter("ignore", DeprecationWarning)
            shared.default_update = new_rstate
        u.rstate, u.update = shared, (shared, new_rstate)
        return u

    def _floats(self, dtype, *values):
        T = engine.T
        values = [T.as_tensor_variable(v) for v in values]
        if dtype is None:
            dtype = engine.backend().scalar.upcast(engine.floatX(), *(v.dtype for v in values))
        undefined_grad = engine.backend().gradient.undefined_grad
        return dtype, [undefined_grad(T.cast(v, dtype)) for v in values]

    def uniform(self, size, low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None):
        """Uniforms in (low, high) of shape ``size`` (a tuple of ints and scalar variables, or a
        vector variable such as ``x.shape``); ``dtype`` at least floatX."""
        dtype, (low, high) = self._floats(dtype, low, high)
        if isinstance(size, tuple):
            for s in size:
                if not isinstance(s, numbers.Integral) and getattr(s, "ndim", None) != 0:
                    raise TypeError(f"size {size!r}: entries must be ints or scalar variables")
                if isinstance(s, numbers.Integral) and s <= 0:
                    raise ValueError(f"size {size!r}: dimensions must be positive")
        elif getattr(size, "ndim", None) != 1:
            raise TypeError(f"size must be a tuple of ints or a vector variable (x.shape), "
                            f"got {size!r} of type {type(size).__name__}")
        u = self._uniform01(size, ndim, dtype, nstreams or self.n_streams(size))
        return u * (high - low) + low

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", nstreams=None):
        """1 with probability ``p``, else 0: ``uniform(size) < p`` cast to ``dtype``."""
        if n != 1:
            raise NotImplementedError(f"binomial with n={n}: only n=1 is drawn, as in Theano")
        p = engine.backend().gradient.undefined_grad(engine.T.as_tensor_variable(p))
        x = self.uniform(size=size, ndim=ndim, nstreams=nstreams)
        return engine.T.cast(x < p, dtype)

    def normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
               truncate=False):
        """Normals by Box-Muller; ``truncate`` redraws the radii of values beyond 2 (not 2
        standard deviations of avg and std: before scaling), as Theano does."""
        T = engine.T
        size = _check_size(size)
        dtype, (avg, std) = self._floats(dtype, avg, std)
        n_streams = nstreams or MAX_STREAMS  # Theano's guess for its symbolic (n_even,)
        n = math.prod(size) if isinstance(size, tuple) else T.prod(T.cast(size, "int64"))
        even = n + n % 2
        half = even // 2
        uniform = self._uniform01((even,), 1, dtype, n_streams)
        r = T.sqrt(-2.0 * T.log(uniform[:half]))
        theta = numpy.array(2.0 * numpy.pi, dtype=dtype) * uniform[half:]
        cos_theta, sin_theta = T.cos(theta), T.sin(theta)
        z0, z1 = r * cos_theta, r * sin_theta
        if truncate:
            to_fix0 = (z0 < -2.0) | (z0 > 2.0)
            to_fix1 = (z1 < -2.0) | (z1 > 2.0)
            z0_valid, z1_valid = z0[T.nonzero(~to_fix0)], z1[T.nonzero(~to_fix1)]
            to_fix0, to_fix1 = T.nonzero(to_fix0)[0], T.nonzero(to_fix1)[0]
            lower = T.constant(1.0 / numpy.e ** 2, dtype=dtype)
            u_fix = self._uniform01((to_fix0.size + to_fix1.size,), 1, dtype, n_streams)
            u_fix = u_fix * (T.constant(1.0, dtype=dtype) - lower) + lower
            r_fix = T.sqrt(-2.0 * T.log(u_fix))
            samples = T.concatenate([z0_valid, r_fix[: to_fix0.size] * cos_theta[to_fix0],
                                     z1_valid, r_fix[to_fix0.size:] * sin_theta[to_fix1]])
        else:
            samples = T.concatenate([z0, z1])
        samples = T.reshape(samples[:n], size, ndim=ndim)
        return samples * std + avg


def _theano_streams_class():
    """Theano's ``MRG_RandomStream`` with named states, ``state`` and ``set_state``."""
    from theano.sandbox.rng_mrg import MRG_RandomStream

    class TheanoRandomStreams(_Checkpoint, MRG_RandomStream):
        def __init__(self, seed=12345, name="mrg"):
            self.name = name
            MRG_RandomStream.__init__(self, seed)

        def uniform(self, *args, **kwargs):
            r = MRG_RandomStream.uniform(self, *args, **kwargs)
            self._name_site(self.state_updates[-1][0])
            return r

    return TheanoRandomStreams
