"""dltut.engine's own decisions: the default mode, the BLAS threads, the compile cache, and
compiling a JAX function ahead of its first call."""

import importlib.util
import logging
import os
import subprocess
import sys

import numpy
import pytest

from conftest import available_modes, in_mode
from dltut import engine
from dltut.backend import modes


@pytest.fixture
def fresh_threads(monkeypatch):
    """Decide the BLAS threads anew in the test, from the environment the test sets."""
    for variable in ("DLTUT_BLAS_THREADS", *modes._THREAD_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(modes, "_blas_threads", None)


def test_default_mode_is_jax_where_jax_is_installed(monkeypatch):
    if engine.name() != "pytensor":
        assert engine.default_mode()[0] == "c"
        return
    has_jax = importlib.util.find_spec("jax") is not None
    assert engine.default_mode()[0] == ("jax" if has_jax else "c")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    mode, why = engine.default_mode()
    assert mode == "c" and "JAX is not installed" in why


def _floatX_in_a_new_process(flag=None):
    """``[floatX, reason]`` as a new process of this engine reports them, with no config file
    and the engine's flags variable as set here minus any floatX, plus ``flag``."""
    prefix = engine.name().upper()
    env = dict(os.environ, DLTUT_ENGINE=engine.name(), **{f"{prefix}RC": os.devnull})
    flags = [item for item in env.get(f"{prefix}_FLAGS", "").split(",")
             if item and not item.startswith("floatX")]
    env[f"{prefix}_FLAGS"] = ",".join(flags + ([flag] if flag else []))
    code = "from dltut import engine; print(engine.floatX(), '|', engine.floatX_reason())"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return run.stdout.strip().split(" | ")


def test_floatX_is_float32_unless_the_engines_flags_say():
    # the engines' own default is float64
    assert _floatX_in_a_new_process() == ["float32", "dltut's default"]
    floatX, why = _floatX_in_a_new_process("floatX=float64")
    assert floatX == "float64" and "flags" in why


def test_one_blas_thread_by_default(fresh_threads):
    assert engine.blas_threads() == (1, "dltut's default (set DLTUT_BLAS_THREADS to change it)")


def test_dltut_blas_threads_decides(fresh_threads, monkeypatch):
    monkeypatch.setenv("DLTUT_BLAS_THREADS", "3")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert engine.blas_threads() == (3, "DLTUT_BLAS_THREADS")


def test_a_users_openblas_setting_is_left_alone(fresh_threads, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert engine.blas_threads() == (None, "OPENBLAS_NUM_THREADS=2 is set")


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_dltut_blas_threads(fresh_threads, monkeypatch, value):
    monkeypatch.setenv("DLTUT_BLAS_THREADS", value)
    with pytest.raises(ValueError, match=f"DLTUT_BLAS_THREADS='{value}' must be a positive"):
        engine.blas_threads()


def test_limit_blas_threads_reaches_the_loaded_blas(fresh_threads, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    numpy.ones((2, 2)) @ numpy.ones((2, 2))  # NumPy's BLAS is loaded
    with threadpoolctl.threadpool_limits(2, user_api="blas"):  # restored afterwards
        monkeypatch.setenv("DLTUT_BLAS_THREADS", "1")
        engine.limit_blas_threads()
        pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert pools and all(p["num_threads"] == 1 for p in pools)


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DLTUT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert engine.cache_dir() == str(tmp_path / "dltut")
    monkeypatch.setenv("DLTUT_CACHE", str(tmp_path / "mine"))
    assert engine.cache_dir() == str(tmp_path / "mine")


def test_compile_ahead_compiles_without_running(xla_compiles):
    if "jax" not in available_modes():
        pytest.skip("JAX mode not available")
    with in_mode("jax"):
        counter = engine.shared(numpy.asarray(5.0, dtype=engine.floatX()), "counter")
        step = engine.backend().tensor.scalar("step", dtype=engine.floatX())
        f = engine.function([step], counter + step, updates=[(counter, counter + step)])
        xla_compiles()
        engine.compile_ahead(f)
        assert xla_compiles() == 1 and counter.get_value() == 5.0  # compiled, not run
        assert f(2.0) == 7.0 and counter.get_value() == 7.0
        assert xla_compiles() == 0  # the call ran the program compiled ahead


@pytest.mark.parametrize("mode", [m for m in ("c", "jax") if m in available_modes()])
def test_softmax_and_its_log_and_gradient_against_numpy(mode):
    """In the C mode they are compiled in C with the graph around them (no op of PyTensor's
    that runs an inner function from Python); JAX keeps its own softmax."""
    T = engine.T
    with in_mode(mode):
        x = T.matrix("x", dtype=engine.floatX())
        y = T.vector("y", dtype="int64")
        p = engine.softmax(x)
        nll = -T.mean(T.log(p)[T.arange(x.shape[0]), y])  # rnnslu's: PyTensor makes LogSoftmax
        f = engine.function([x, y], [p, nll, engine.grad(nll, x)])
        if mode == "c" and engine.name() == "pytensor":  # (Theano's softmax ops are C ops)
            names = {type(node.op).__name__ for node in f.maker.fgraph.apply_nodes}
            assert not names & {"Softmax", "LogSoftmax"}, names
        rng = numpy.random.RandomState(0)
        a = rng.normal(scale=3, size=(5, 7)).astype(engine.floatX())
        labels = rng.randint(0, 7, size=5)
        e = numpy.exp(a.astype("float64") - a.max(axis=1, keepdims=True))
        softmax = e / e.sum(axis=1, keepdims=True)
        expected_nll = -numpy.log(softmax[numpy.arange(5), labels]).mean()
        expected_grad = (softmax - numpy.eye(7)[labels]) / 5
        got_p, got_nll, got_grad = f(a, labels)
        tol = 1e-5 if engine.floatX() == "float32" else 1e-12
        numpy.testing.assert_allclose(got_p, softmax, rtol=tol)
        numpy.testing.assert_allclose(got_nll, expected_nll, rtol=tol)
        numpy.testing.assert_allclose(got_grad, expected_grad, rtol=tol, atol=tol)


def test_the_c_mode_keeps_its_intermediate_arrays_between_calls():
    # PyTensor's CVM would free them after each use and allocate them again at the next call
    if engine.name() != "pytensor":
        pytest.skip("theano-pymc's C mode is its own FAST_RUN")
    x = engine.T.vector("x", dtype=engine.floatX())
    with in_mode("c"):
        assert engine.compile_mode() == "CVM_NOGC"
        f = engine.function([x], ((x + 1) * x).sum())
    assert f.vm.allow_gc is False
    assert f(numpy.arange(3, dtype=engine.floatX())) == 8


def test_float32_jax_runs_do_not_warn_of_float64():
    """A float32 sum's float64 accumulator (PyTensor's acc_dtype) is float32 in JAX without
    64-bit types; that is no news to a user, and no warning reaches them."""
    if "jax" not in available_modes():
        pytest.skip("JAX mode not available")
    import warnings

    previous = engine.floatX()
    engine.set_floatX("float32")
    try:
        with in_mode("jax"), warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            modes._prepare_jax()  # its filters come after catch_warnings' reset
            x = engine.backend().tensor.matrix("x", dtype="float32")
            b = engine.shared(numpy.zeros(2, dtype="float32"), "b")
            # the bias's gradient sums the rows: Sum{axis=0, acc=float64}
            f = engine.function([x], engine.grad(((x + b) ** 2).sum(), b))
            assert f(numpy.ones((3, 2), dtype="float32")).tolist() == [6.0, 6.0]
            # an int64 index vector (the negative log-likelihood's) is int32 there
            y = engine.backend().tensor.ivector("y")
            g = engine.function([x, y], x[engine.backend().tensor.arange(y.shape[0]), y])
            assert g(numpy.eye(2, dtype="float32"), numpy.array([1, 1], dtype="int32")).tolist() \
                == [0.0, 1.0]
    finally:
        engine.set_floatX(previous)


@pytest.mark.parametrize("before, after", [
    (None, "--xla_cpu_copy_insertion_use_region_analysis=true"),
    ("--xla_dump_to=/tmp/x", "--xla_dump_to=/tmp/x --xla_cpu_copy_insertion_use_region_analysis=true"),
    ("--xla_cpu_copy_insertion_use_region_analysis=false",
     "--xla_cpu_copy_insertion_use_region_analysis=false"),  # the user's choice stands
])
def test_xla_flags_are_added_unless_set(monkeypatch, before, after):
    pytest.importorskip("jaxlib")
    if before is None:
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    else:
        monkeypatch.setenv("XLA_FLAGS", before)
    monkeypatch.setattr(modes, "_XLA_FLAGS_SINCE", (0, 0))
    engine.set_xla_flags()
    assert os.environ["XLA_FLAGS"] == after
    monkeypatch.setattr(modes, "_XLA_FLAGS_SINCE", (10**6, 0))  # a jaxlib too old: nothing added
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    engine.set_xla_flags()
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/x"


def test_settings_with_defaults_are_theanos_in(floatX64, mode):
    # fn(index, lr=...) as theano.In made it: a setting not given takes its default; in JAX mode
    # a span of indices (over) is the same calls as one
    data = numpy.arange(12.0).reshape(6, 2)
    x, index, lr = engine.T.matrix("x"), engine.T.lscalar("index"), engine.T.scalar("lr")
    w = engine.shared(numpy.ones(2), "w")
    cost = engine.T.sum(engine.T.dot(x, w))
    train_x = engine.shared(data, "train_x")

    def compile_fn():
        w.set_value(numpy.ones(2))
        return engine.function([index, engine.In(lr, value=0.5)], cost,
                               updates=[(w, w - lr * engine.T.sum(x, axis=0))],
                               givens={x: train_x[index * 2: (index + 1) * 2]}, name="step")

    expected_w, expected = numpy.ones(2), []
    for i, rate in ((0, 0.5), (1, 0.25), (2, 0.5)):
        rows = data[2 * i: 2 * i + 2]
        expected.append((rows @ expected_w).sum())
        expected_w = expected_w - rate * rows.sum(axis=0)
    fn = compile_fn()
    got = [fn(0), fn(1, lr=0.25), fn(2)]
    numpy.testing.assert_allclose(got, expected, rtol=1e-12)
    numpy.testing.assert_allclose(w.get_value(), expected_w, rtol=1e-12)
    with pytest.raises(TypeError, match=r"no setting \['rate'\]"):
        fn(0, rate=0.1)
    if mode == "jax":
        fn = compile_fn()
        spans = list(fn.over(0, 1)) + list(fn.over(1, 1, lr=0.25)) + list(fn.over(2, 1))
        numpy.testing.assert_array_equal(spans, got)


def test_with_precomputed_trains_on_codes_and_refuses_what_changes(floatX64):
    # a layer's codes, computed once for the whole set, read as its minibatches were computed
    data = numpy.random.RandomState(0).uniform(size=(6, 3))
    x, index, lr = engine.T.matrix("x"), engine.T.lscalar("index"), engine.T.scalar("lr")
    frozen = engine.shared(numpy.random.RandomState(1).uniform(size=(3, 2)), "frozen")
    w = engine.shared(numpy.ones(2), "w")
    codes = engine.T.tanh(engine.T.dot(x, frozen))
    cost = engine.T.sum(engine.T.dot(codes, w) ** 2)
    fn = engine.function([index, engine.In(lr, value=0.1)], cost,
                         updates=[(w, w - lr * engine.grad(cost, w))],
                         givens={x: engine.shared(data, "train_x")[index * 2: (index + 1) * 2]},
                         name="layer")
    on_codes = fn.with_precomputed(codes)
    assert fn.with_precomputed(x) is fn
    per_minibatch = [fn(i) for i in range(3)]
    w.set_value(numpy.ones(2))
    numpy.testing.assert_allclose([on_codes(i) for i in range(3)], per_minibatch, rtol=1e-12)
    with pytest.raises(ValueError, match="not computed from a minibatch"):
        fn.with_precomputed(engine.T.dot(codes, w))  # w changes at every call
