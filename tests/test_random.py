"""dltut.random: the symbolic MRG draws against the NumPy reference in every mode, and the reference
against Theano's own MRG_RandomStream (on the theano engine)."""

import math

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import engine, random
from dltut.engine import T
from dltut.random import (M1, M2, NumpyStreams, RandomStreams, mrg_integers, mrg_uniform,
                          next_rstate, seed_state, substream_states)

# ----------------------------------------------------------------------------------------------
# The reference


def _theano_step(states):
    """rng_mrg.mrg_next_value's int32 arithmetic, wrapping as its C code does, on rows of states."""
    i32 = numpy.int32
    m1, m2 = i32(M1), i32(M2)
    x11, x12, x13, x21, x22, x23 = numpy.asarray(states, dtype="int32").T

    def fix(y, m):
        return numpy.where((y < 0) | (y >= m), y - m, y)

    y1 = (((x12 & i32(511)) << i32(22)) + (x12 >> i32(9))
          + ((x13 & i32(16777215)) << i32(7)) + (x13 >> i32(24)))
    y1 = fix(fix(y1, m1) + x13, m1)
    t1 = fix(((x21 & i32(65535)) << i32(15)) + i32(21069) * (x21 >> i32(16)), m2)
    t2 = fix(((x23 & i32(65535)) << i32(15)) + i32(21069) * (x23 >> i32(16)), m2)
    y2 = fix(fix(t2 + x23, m2) + t1, m2)
    return numpy.stack([y1, x11, x12, y2, x21, x22], axis=1)


def test_step_is_theanos_int32_arithmetic():
    rng = numpy.random.RandomState(0)
    n = 20000
    states = numpy.concatenate([rng.randint(0, M1, (n, 3)), rng.randint(0, M2, (n, 3))], axis=1)
    edges = numpy.array([[M1 - 1] * 3 + [M2 - 1] * 3, [0, 0, 1, 0, 0, 1], [1] * 6,
                         [M1 - 1, 0, M1 - 1, M2 - 1, 0, M2 - 1]])
    states = numpy.concatenate([states, edges]).astype("int32")
    with numpy.errstate(over="ignore"):
        numpy.testing.assert_array_equal(random.step(states), _theano_step(states))


def test_substreams_are_2p72_jumps_and_sites_2p134():
    first = random.seed_state(7)
    rows = random.substream_states(first, 37)
    expected = [first]
    for _ in range(36):
        expected.append(random.jump(expected[-1], random.A1p72, random.A2p72))
    numpy.testing.assert_array_equal(rows, expected)
    # the jump matrices are the one-step matrices to the power 2**72 and 2**134
    for A, m, e, jump in ((random.A1p0, M1, 72, random.A1p72), (random.A2p0, M2, 72, random.A2p72),
                          (random.A1p0, M1, 134, random.A1p134),
                          (random.A2p0, M2, 134, random.A2p134)):
        for _ in range(e):
            A = random._mat_mul_mod(A, A, m)
        numpy.testing.assert_array_equal(A, jump)


def test_skip_ahead_leaves_the_states_that_draws_leave():
    states = random.substream_states(random.seed_state(99), 1000)
    for sizes in ([0], [1], [999, 1000, 1001], [2500, 16, 16, 7]):
        drawn = states
        for size in sizes:
            _, drawn = random.mrg_integers(drawn, size)
        steps = sum(random.draw_steps(size, 1000) for size in sizes)
        numpy.testing.assert_array_equal(random.skip_ahead(states, steps), drawn)


def test_seed_becomes_six_copies():
    numpy.testing.assert_array_equal(random.seed_state(1234), [1234] * 6)
    numpy.testing.assert_array_equal(random.seed_state([1, 2, 3, 4, 5, 6]), [1, 2, 3, 4, 5, 6])
    for bad in (0, -5, M2, [0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0], [M1, 1, 1, 1, 1, 1]):
        with pytest.raises(ValueError, match="seed"):
            random.seed_state(bad)
    with pytest.raises(TypeError, match="seed"):
        random.seed_state([1, 2, 3])


def test_guess_n_streams():
    assert [random.guess_n_streams(size) for size in ((5,), (6,), (7,), (7, 3), (4, 9))] == \
        [5, 6, 1, 3, 6]
    assert random.guess_n_streams((100000,)) == 15360
    assert random.guess_n_streams((numpy.int64(10),)) == 15360  # as Theano: not a Python int
    assert random.guess_n_streams(T.matrix("x").shape) == 15360


def test_uniforms_stay_in_the_open_interval():
    k = numpy.array([1, M1])
    u32 = random.integers_to_uniform(k, "float32")
    assert numpy.float32(M1) == 2.0 ** 31 and u32[1] < 1 and u32[0] > 0
    u64 = random.integers_to_uniform(k, "float64")
    assert u64[1] == (2.0 ** 31 - 1) / 2.0 ** 31 and u64[0] == 2.0 ** -31


def test_element_i_comes_from_stream_i_mod_n_streams():
    states = random.substream_states(random.seed_state(3), 4)
    u, after = random.mrg_uniform(states, 10, "float64")
    for stream in range(4):
        alone, _ = random.mrg_uniform(states[stream:stream + 1], len(range(stream, 10, 4)),
                                      "float64")
        numpy.testing.assert_array_equal(u[stream::4], alone)
    # streams 0 and 1 drew three times, 2 and 3 twice
    numpy.testing.assert_array_equal(after[:2], random.step(random.step(random.step(states[:2]))))
    numpy.testing.assert_array_equal(after[2:], random.step(random.step(states[2:])))


# ----------------------------------------------------------------------------------------------
# The symbolic draws against the reference


def _cases(s, x, fx, mode):
    """[(symbolic draw, reference draws, is normal)]: each a new call site, in this order on both
    sides.

    ``x`` is (20, 784): its shape is a symbolic size with more elements (15,680) than the 15,360
    streams it gets, so the second round of draws is partial."""
    big = (20, 15360)  # 20 steps of each stream: drawn with a scan
    # JAX without 64-bit types (floatX float32) computes float64 in float32
    f64 = "float32" if mode == "jax" and fx == "float32" else "float64"
    cases = [
        (s.uniform((5,)), lambda r: r.uniform((5,), dtype=fx, draws=2)),
        (s.uniform((7, 3), dtype="float32"), lambda r: r.uniform((7, 3), dtype="float32", draws=2)),
        (s.uniform((13,), low=-1.0, high=1.0, dtype=f64),
         lambda r: r.uniform((13,), -1.0, 1.0, dtype=f64, draws=2)),
        (s.uniform(x.shape), lambda r: r.uniform((20, 784), dtype=fx, nstreams=15360, draws=2)),
        (s.binomial(size=(4, 9), p=0.7, dtype="int32"),
         lambda r: r.binomial((4, 9), p=0.7, dtype="int32", floatX=fx, draws=2)),
        (s.binomial(size=x.shape, p=0.3, dtype=fx),
         lambda r: r.binomial((20, 784), p=0.3, dtype=fx, floatX=fx, nstreams=15360, draws=2)),
        (s.normal((5, 3)), lambda r: r.normal((5, 3), dtype=fx, draws=2)),
        (s.normal(x.shape, avg=1.0, std=2.0),
         lambda r: r.normal((20, 784), 1.0, 2.0, dtype=fx, draws=2)),
        (s.uniform(big, dtype="float32"), lambda r: r.uniform(big, dtype="float32", draws=2)),
        # 7,680 streams: 6 whole steps (a loop in JAX mode), then 4 streams of a seventh
        (s.uniform((4, 11521), dtype="float32"),
         lambda r: r.uniform((4, 11521), dtype="float32", draws=2)),
    ]
    if mode != "jax":  # truncation picks values by a data-dependent count
        cases.append((s.normal((7,), dtype="float32", truncate=True),
                      lambda r: r.normal((7,), dtype="float32", truncate=True, draws=2)))
    return [(draw, expect, "normal" in expect.__code__.co_names) for draw, expect in cases]


def _assert_draw(got, expected, normal):
    got = numpy.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if normal:
        # log, cos and sin may be an ulp apart between C libraries, numba and XLA, and PyTensor's
        # C code multiplies float32 values by float32 constants in double (2 pi as 6.2831855)
        tol = 1e-5 if expected.dtype == "float32" else 1e-13
        numpy.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    else:
        numpy.testing.assert_array_equal(got, expected)


def _check_against_reference(streams, seed, mode):
    fx = engine.floatX()
    x = T.matrix("x", shape=(20, 784)) if mode == "jax" else T.matrix("x")
    cases = _cases(streams, x, fx, mode)
    f = engine.function([x], [draw for draw, _, _ in cases])
    reference = NumpyStreams(seed)
    expected = [expect(reference) for _, expect, _ in cases]
    normal = [is_normal for _, _, is_normal in cases]
    for call in range(2):  # the second call draws on from where the default updates left off
        for got, draws, is_normal in zip(f(numpy.zeros((20, 784), fx)), expected, normal):
            _assert_draw(got, draws[call], is_normal)
    states = [shared.get_value() for shared, *_ in streams.state_updates]
    for got, state in zip(states, reference.site_states):
        numpy.testing.assert_array_equal(got, state)  # each stream advanced as far as Theano's


def _runs():
    """(mode, floatX, seed) combinations: numba compiles slowly, so it gets one."""
    runs = [("c", "float64", 1), ("c", "float32", 1234), ("numba", "float64", 1234),
            ("jax", "float32", 1), ("jax", "float64", 2147462578)]
    slow = {("c", "float32", 1234)}  # CI time: the C mode's float64 case is the fast suite's
    return [pytest.param(*run, id="-".join(map(str, run)),
                         marks=[pytest.mark.slow] if run in slow else []) for run in runs]


@pytest.fixture
def restore_floatX():
    previous = engine.floatX()
    yield
    engine.set_floatX(previous)


def _enter(mode, floatX):
    if mode not in available_modes():
        pytest.skip(f"mode {mode} not available on engine {engine.name()}")
    engine.set_floatX(floatX)


@pytest.mark.parametrize("mode, floatX, seed", _runs())
def test_draws_match_the_reference(restore_floatX, mode, floatX, seed):
    _enter(mode, floatX)
    with in_mode(mode):
        _check_against_reference(RandomStreams(seed), seed, mode)


@pytest.mark.parametrize("floatX", ["float64", "float32"])
def test_theano_mrg_random_stream_matches_the_reference(restore_floatX, floatX):
    if engine.name() != "theano":
        pytest.skip("compares with Theano's own MRG_RandomStream: theano engine only")
    from theano.sandbox.rng_mrg import MRG_RandomStream

    engine.set_floatX(floatX)
    for seed in (1, 1234, 2147462578):
        _check_against_reference(MRG_RandomStream(seed), seed, "c")


@pytest.mark.usefixtures("floatX64")
def test_a_symbolic_size_the_graph_fixes_steps_only_the_drawing_streams():
    """``x.shape`` of a static-shaped ``x`` keeps Theano's 15,360 streams for a symbolic size,
    but is drawn without a scan, stepping only the streams that draw (15,680 elements: the
    second round is 320 streams): the draws and every stream's state are Theano's."""
    if engine.name() != "pytensor":
        pytest.skip("static shapes and dltut's own draw graph are PyTensor's")
    x = T.matrix("x", shape=(20, 784))
    s = RandomStreams(7)
    u = s.uniform(x.shape, dtype="float64")
    f = engine.function([x], u)
    assert not any("Scan" in type(node.op).__name__ for node in f.maker.fgraph.toposort())
    reference = NumpyStreams(7)
    expected = reference.uniform((20, 784), dtype="float64", nstreams=15360, draws=2)
    for call in range(2):
        numpy.testing.assert_array_equal(f(numpy.zeros((20, 784))), expected[call])
    numpy.testing.assert_array_equal(s.state_updates[0][0].get_value(), reference.site_states[0])


@pytest.mark.usefixtures("floatX64")
def test_a_size_known_at_run_time_of_one_step_or_more(mode):
    """Symbolic sizes of at most 15,360 elements (one step of each stream) and of more, one call
    site each, drawn alternately (the C mode draws them in one C loop, ``mrg_op.MRGDraw``, the
    Numba mode in a scan): the draws and every stream's state are Theano's."""
    if engine.name() != "pytensor":
        pytest.skip("dltut's own draw graph is PyTensor's")
    if mode == "jax":
        pytest.skip("JAX mode draws only sizes the graph fixes")
    x, y = T.matrix("x"), T.matrix("y")
    s = RandomStreams(11)
    f = engine.function([x, y], [s.uniform(x.shape, dtype="float64"),
                                 s.uniform(y.shape, dtype="float64")])
    rstate, site_states = seed_state(11), []
    for _ in range(2):  # the two call sites' streams, as RandomStreams(11) took them
        site_states.append(substream_states(rstate, 15360))
        rstate = next_rstate(rstate)
    for shapes in (((100, 150), (100, 154)), ((3, 5), (7, 2195)), ((0, 5), (100, 150))):
        got = f(*(numpy.zeros(shape) for shape in shapes))
        for site, shape in enumerate(shapes):
            u, site_states[site] = mrg_uniform(site_states[site], math.prod(shape), "float64")
            numpy.testing.assert_array_equal(got[site], u.reshape(shape))
    for site in range(2):
        numpy.testing.assert_array_equal(s.state_updates[site][0].get_value(), site_states[site])


def test_the_c_loop_and_its_python_perform_are_numpys_draws():
    """``MRGDraw`` compiled (its C code) and run by PyTensor's Python linker (its ``perform``)
    gives ``mrg_integers``' draws and states, for sizes of 0, part of a step, whole steps and
    more."""
    if engine.name() != "pytensor":
        pytest.skip("MRGDraw is a PyTensor op")
    import pytensor
    from dltut.backend.mrg_op import mrg_draw

    states = substream_states(seed_state(5), 1000)
    n = T.lscalar("n")
    rstate = T.matrix("rstate", dtype="int32")
    outputs = mrg_draw(rstate, n)
    compiled = [pytensor.function([rstate, n], outputs, mode=pytensor.compile.mode.Mode(
        linker=linker, optimizer="fast_run")) for linker in ("c", "py")]
    for size in (0, 1, 999, 1000, 1001, 2500):
        k, new_states = mrg_integers(states, size)
        for function in compiled:
            got_states, got_k = function(states, size)
            numpy.testing.assert_array_equal(got_k, k)
            numpy.testing.assert_array_equal(got_states, new_states)
            assert got_k.dtype == numpy.int64 and got_states.dtype == numpy.int32


# ----------------------------------------------------------------------------------------------
# Updates, scan, checkpoints


@pytest.mark.usefixtures("floatX64")
def test_draws_inside_a_scan_advance_as_calls_do(mode):
    s = RandomStreams(99)
    rows, updates = engine.scan(lambda: s.uniform((4,), dtype="float64"), n_steps=3)
    f = engine.function([], rows, updates=updates)
    expected = NumpyStreams(99).uniform((4,), dtype="float64", draws=6)
    numpy.testing.assert_array_equal(f(), expected[:3])
    numpy.testing.assert_array_equal(f(), expected[3:])


@pytest.mark.usefixtures("floatX64")
def test_a_draw_cloned_into_a_scan_advances_with_default_updates(mode):
    """A fused training step clones a cost drawn outside the scan (dltut.compiled): with
    default_updates in its updates, n steps draw what n calls of the unfused function draw."""
    data = numpy.arange(18, dtype="float64").reshape(3, 6)
    x = T.vector("x")
    noisy = x * RandomStreams(5).binomial(size=(6,), p=0.5, dtype="float64")
    states = random.default_updates([noisy])
    assert len(states) == 1

    def step(row):
        out, *new = engine.clone_replace([noisy] + [new for _, new in states], {x: row})
        return out, dict(zip([state for state, _ in states], new))

    rows, updates = engine.scan(step, sequences=[T.constant(data)])
    fused = engine.function([], rows, updates=updates)
    unfused_noisy = x * RandomStreams(5).binomial(size=(6,), p=0.5, dtype="float64")
    unfused = engine.function([x], unfused_noisy)
    for _ in range(2):
        numpy.testing.assert_array_equal(fused(), [unfused(row) for row in data])


def test_state_and_set_state_replay_the_draws():
    s = RandomStreams(42)
    f = engine.function([], [s.uniform((3,)), s.normal((2, 2))])
    saved = s.state()
    assert sorted(saved) == ["mrg_rstate_0", "mrg_rstate_1", "rstate"]
    first = f()
    s.set_state(saved)
    for got, expected in zip(f(), first):
        numpy.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="call sites"):
        s.set_state({"rstate": saved["rstate"]})


def test_seed_restarts_every_call_site():
    s = RandomStreams(42)
    f = engine.function([], [s.uniform((3,)), s.binomial(size=(4,))])
    first = f()
    f()
    s.seed()
    for got, expected in zip(f(), first):
        numpy.testing.assert_array_equal(got, expected)
