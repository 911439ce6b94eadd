import contextlib
import logging
import os
import subprocess
import sys

import numpy
import pytest

from dltut import engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# JAX loops compile under XLA's default CPU setting in the tests, as before dltut.backend.tuning: no test
# measures settings (each new shape would compile its probes twice) or writes the user's cache,
# and the tests of the original's numbers run as recorded. tests/test_tuning.py tunes in a cache
# of its own; DLTUT_XLA_CPU=ynn-off (or auto) set before pytest runs the suite under that.
os.environ.setdefault("DLTUT_XLA_CPU", "xla-default")


def script_command(name, *args):
    """The command line of ``scripts/NAME`` with ``args``, run by this Python."""
    return [sys.executable, os.path.join(ROOT, "scripts", name), *map(str, args)]


def run_script(name, *args, cwd, **env):
    """Run ``scripts/NAME`` in ``cwd`` with dltut from this checkout; the CompletedProcess."""
    return subprocess.run(script_command(name, *args), cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=ROOT, **env), capture_output=True,
                          text=True, timeout=600)


# The fast suite (README's test command) leaves out the tests marked slow: full-data runs and the
# Numba mode's long compiles (15-90 s a graph here, cold). The Numba mode keeps a small case of its
# path in it (a compiled forward and gradient, a whole small training run): these tests' numba
# cases; its other cases run with the slow tests (-m slow, or --all).
NUMBA_IN_FAST_SUITE = {
    "test_logistic_regression_against_numpy",  # a compiled forward and gradient
    "test_logreg_small_run",  # a whole small training run, early stopping and model file
    "test_minibatch_is_the_tutorial_slice",  # the compiled model's minibatch slicing
}
# (the convolution, pooling, scans and MRG streams in Numba mode compile for 15-30 s each: slow)


def pytest_addoption(parser):
    parser.addoption("--all", action="store_true",
                     help="run every test, the slow ones too (the same as -m 'slow or not slow')")


def pytest_configure(config):
    if config.getoption("--all"):
        config.option.markexpr = ""  # pyproject.toml's addopts deselect the slow tests


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    """A test's Numba-mode case is slow, unless the test is one of NUMBA_IN_FAST_SUITE."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("mode") == "numba" and item.originalname not in NUMBA_IN_FAST_SUITE:
            item.add_marker(pytest.mark.slow)


def available_modes():
    modes = ["c", "numba"]
    try:
        import jax  # noqa: F401

        modes.append("jax")
    except ImportError:
        pass
    return [m for m in modes if m in engine.modes()]


@contextlib.contextmanager
def in_mode(mode):
    """Compile in ``mode`` inside the block; the previous mode is restored afterwards, and
    whether it was chosen or dltut's default."""
    from dltut.backend import modes

    previous, reason = engine.mode(), modes._mode_reason
    engine.set_mode(mode)
    try:
        yield mode
    finally:
        engine.set_mode(previous)
        modes._mode_reason = reason


def in_every_mode(run, modes=None):
    """``{mode: run(mode)}`` for each available compile mode (of ``modes``, if given) in turn; the
    mode is restored."""
    results = {}
    for mode in [m for m in available_modes() if modes is None or m in modes]:
        with in_mode(mode):
            results[mode] = run(mode)
    return results


@contextlib.contextmanager
def engine_settings_kept():
    """floatX, the compile mode (and whether each was chosen) and the "dltut" log level after
    the block as before it (a tutorial run given ``floatX=`` or ``mode=`` sets them for the
    process, as it does for a user; a command's ``main()`` sets the log level). A module-scoped fixture that runs a tutorial
    needs it too: it runs before the autouse fixture below looks."""
    from dltut.backend import modes

    floatX, mode = engine.floatX(), engine.mode()
    reasons = modes._floatX_reason, modes._mode_reason  # chosen, or dltut's default
    level = logging.getLogger("dltut").level
    try:
        yield
    finally:
        logging.getLogger("dltut").setLevel(level)
        if engine.floatX() != floatX:
            engine.set_floatX(floatX)
        if engine.mode() != mode:
            engine.set_mode(mode)
        modes._floatX_reason, modes._mode_reason = reasons


def disk_full_for(monkeypatch, name):
    """Every write of a file called ``name`` fails as on a full disk (ENOSPC), inside
    ``atomic_write`` as saving calls it; other files are written."""
    import errno

    from dltut import saving

    real_write = saving.atomic_write

    def full_disk(path, write):
        def fail(file):
            raise OSError(errno.ENOSPC, "No space left on device")

        return real_write(path, fail if os.path.basename(path) == name else write)

    monkeypatch.setattr(saving, "atomic_write", full_disk)


def checkpoint_warnings(caplog, path):
    """The dltut warnings of ``caplog``; asserts they are the one a failed checkpoint write of
    ``path`` gives."""
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and r.name.startswith("dltut")]
    assert len(warnings) == 1, warnings
    assert f"{path}: cannot write (No space left on device" in warnings[0]
    assert "training goes on" in warnings[0]
    return warnings


@pytest.fixture(autouse=True)
def restore_engine_settings():
    """Every test leaves the engine's settings as it found them (``engine_settings_kept``)."""
    with engine_settings_kept():
        yield


@pytest.fixture
def floatX64():
    """Run the test in float64, restoring the previous floatX afterwards."""
    previous = engine.floatX()
    engine.set_floatX("float64")
    yield
    engine.set_floatX(previous)


@pytest.fixture(params=["jax", pytest.param("numba", marks=pytest.mark.slow)])
def modes(request):
    """The modes a test compares with the C mode, for ``in_every_mode(run, modes)``: C and JAX
    in the fast suite (C alone where there is no JAX), C and Numba with the slow tests."""
    if request.param not in available_modes():
        if request.param == "numba":
            pytest.skip(f"no numba mode on engine {engine.name()}")
        return ("c",)
    return ("c", request.param)


@pytest.fixture(params=available_modes())
def mode(request):
    """Run the test once per compile mode of the engine, restoring the mode afterwards."""
    with in_mode(request.param):
        yield request.param


@pytest.fixture
def xla_compiles(caplog):
    """A function counting XLA's compiles of PyTensor's JAX functions since its last call
    (``jax_log_compiles`` on for the test); the test is skipped where JAX is not installed."""
    jax = pytest.importorskip("jax")

    def count():
        found = [r for r in caplog.records if "XLA compilation of jit(jax_funcified" in r.message]
        caplog.clear()
        return len(found)

    previous = jax.config.jax_log_compiles
    jax.config.update("jax_log_compiles", True)
    try:
        with caplog.at_level(logging.DEBUG, logger="jax"):
            yield count
    finally:
        jax.config.update("jax_log_compiles", previous)


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """A small .npz data set cut from the shipped MNIST: 600 train, 200 valid, 200 test."""
    from dltut import data

    (tx, ty), (vx, vy), (sx, sy) = data.load_data()
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    data.save_npz(path, ((tx[:600], ty[:600]), (vx[:200], vy[:200]), (sx[:200], sy[:200])))
    return path


def numpy_softmax(a):
    e = numpy.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ScriptedModel:
    """A compiled-model stand-in for the trainer: validation losses from an iterator, test 0.25."""

    def __init__(self, losses):
        self.losses = iter(losses)

    def train_minibatches(self, first, count):
        return numpy.zeros(count)

    def validation_loss(self):
        return next(self.losses)

    def test_score(self):
        return 0.25

    def get_params(self):
        return []


def read_grey_png(path):
    """The pixels of an 8-bit greyscale PNG without filters (what ``plots.write_png`` writes),
    decoded here with zlib and struct: (uint8 array, PNG chunk types in order)."""
    import struct
    import zlib

    raw = open(path, "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    chunks, position = [], 8
    while position < len(raw):
        (length,) = struct.unpack(">I", raw[position:position + 4])
        kind, body = raw[position + 4:position + 8], raw[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", raw[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in chunk {kind}"
        chunks.append((kind, body))
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, interlace) == (8, 0, 0), "not 8-bit greyscale, non-interlaced"
    data = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = numpy.frombuffer(data, dtype=numpy.uint8).reshape(height, width + 1)
    assert not rows[:, 0].any(), "a row with a filter"
    return rows[:, 1:], [kind for kind, _ in chunks]


def numpy_segmentation_metrics(probabilities, labels, n_classes, void_labels=()):
    """The segmentation tutorials' metrics by counting: the accuracy over the labels not in
    ``void_labels``, and the Jaccard numerators and denominators (TP, TP + FP + FN) of each
    class, a (2, n_classes) array (labels of no class count in none)."""
    predicted = probabilities.argmax(axis=1)
    counted = ~numpy.isin(labels, void_labels)
    table = numpy.zeros((2, n_classes))
    for c in range(n_classes):
        tp = numpy.sum((predicted == c) & (labels == c))
        fp = numpy.sum((predicted == c) & (labels != c) & (labels < n_classes))
        fn = numpy.sum((predicted != c) & (labels == c))
        table[:, c] = tp, tp + fp + fn
    return (predicted == labels)[counted].mean(), table
