"""``python -m dltut info``: the facts it prints, and a plain line for each missing piece."""

import io
import os
import runpy
import sys
import types

import numpy
import pytest

from dltut import __main__ as dltut_main
from dltut import __version__, engine, info


def run_info():
    """The printed report, and its entries by label."""
    stream = io.StringIO()
    assert info.main(stream=stream) == 0
    return stream.getvalue(), dict(info.report())


def test_reports_engine_mode_floatX_and_versions():
    numba = pytest.importorskip("numba")

    text, lines = run_info()
    assert lines["dltut"].startswith(f"{__version__}, Python {sys.version.split()[0]}")
    assert lines["engine"].startswith(f"{engine.name()} {engine.version()}")
    assert lines["compile mode"].startswith(f"{engine.mode()} ({engine.name()} mode "
                                            f"{engine.compile_mode()})")
    assert lines["floatX"].startswith(engine.floatX())
    assert lines["numba"] == numba.__version__
    assert lines["NumPy"].startswith(f"{numpy.__version__}, BLAS ")
    assert "Traceback" not in text


def test_reports_the_c_backend_blas():
    config = engine.backend().config
    _, lines = run_info()
    blas = lines[f"{engine.name()} BLAS (c mode)"]
    ldflags = config.blas__ldflags.strip()
    if not config.cxx:
        assert blas.startswith("none")
    elif ldflags:
        assert blas == f"linked with {ldflags}"
    else:
        assert blas.startswith("not linked (blas__ldflags is empty)") and "libopenblas-dev" in blas
    assert lines["C compiler"] == (config.cxx or info.HINTS["cxx"])


def test_reports_jax_and_its_devices():
    jax = pytest.importorskip("jax")
    _, lines = run_info()
    assert lines["JAX"].startswith(f"{jax.__version__}, devices: ")
    assert str(jax.devices()[0]) in lines["JAX"]
    if engine.mode() == "jax":  # the flags XLA runs with
        assert lines["XLA_FLAGS"].startswith(os.environ.get("XLA_FLAGS") or "(none)")


@pytest.mark.parametrize("module, label, expected", [
    ("jax", "JAX", "not installed (pip install -e .[jax])"),
    ("numba", "numba", "not installed (pip install numba"),
    ("pycuda", "pycuda",
     "not installed (optional; pip install pycuda, builds against a local CUDA)"),
])
def test_a_missing_module_says_how_to_get_it(monkeypatch, module, label, expected):
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    _, lines = run_info()
    assert lines[label].startswith(expected)


def test_jax_without_usable_devices_does_not_crash(monkeypatch):
    def no_devices():
        raise RuntimeError("Unable to initialize backend 'cuda'")

    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(__version__="9.9",
                                                                   devices=no_devices))
    _, lines = run_info()
    assert lines["JAX"] == "9.9, no devices (RuntimeError: Unable to initialize backend 'cuda')"


def fake_pycuda(monkeypatch, init=lambda: None, count=1):
    class Context:
        def pop(self):
            pass

    class Device:
        def __init__(self, index):
            self.index = index

        @staticmethod
        def count():
            return count

        def name(self):
            return f"Fake GPU {self.index}"

        def compute_capability(self):
            return (9, 0)

        def make_context(self):
            return Context()

    driver = types.ModuleType("pycuda.driver")
    driver.init = init
    driver.Device = Device
    driver.mem_get_info = lambda: (70 * 1024**3, 80 * 1024**3)
    package = types.ModuleType("pycuda")
    package.driver = driver
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)


def test_gpu_name_capability_and_memory_from_pycuda(monkeypatch):
    fake_pycuda(monkeypatch, count=2)
    _, lines = run_info()
    assert lines["GPU 0"] == "Fake GPU 0, compute capability 9.0, memory 70.0 GiB free of 80.0 GiB"
    assert lines["GPU 1"].startswith("Fake GPU 1")
    assert "pycuda" not in lines


def test_pycuda_without_a_usable_cuda_does_not_crash(monkeypatch):
    def fail():
        raise RuntimeError("cuInit failed: no CUDA-capable device is detected")

    fake_pycuda(monkeypatch, init=fail)
    _, lines = run_info()
    assert lines["pycuda"] == ("installed, but CUDA is not usable (RuntimeError: cuInit failed: "
                               "no CUDA-capable device is detected)")
    fake_pycuda(monkeypatch, count=0)
    assert run_info()[1]["pycuda"] == "installed, but it sees no CUDA GPU"


def test_no_compiler_and_no_blas_are_explained(monkeypatch):
    real = engine.backend()
    fake = types.SimpleNamespace(__version__=real.__version__, __file__=real.__file__,
                                 config=types.SimpleNamespace(floatX=real.config.floatX, cxx="",
                                                              blas__ldflags=""))
    monkeypatch.setattr(engine, "backend", lambda: fake)
    _, lines = run_info()
    assert lines["C compiler"].startswith("none found (the c mode needs a C++ compiler")
    assert lines[f"{engine.name()} BLAS (c mode)"].startswith("none")
    fake.config.cxx = "/usr/bin/g++"
    assert run_info()[1][f"{engine.name()} BLAS (c mode)"] == info.HINTS["blas"]
    fake.config.blas__ldflags = "-lopenblas"
    assert run_info()[1][f"{engine.name()} BLAS (c mode)"] == "linked with -lopenblas"


def test_a_missing_engine_is_a_line_not_a_crash(monkeypatch):
    def missing():
        raise ImportError("engine 'pytensor' is not installed (No module named 'pytensor'); "
                          "install it with: pip install 'pytensor>=3,<4'")

    monkeypatch.setattr(engine, "backend", missing)
    text, lines = run_info()
    assert lines["engine"].startswith("not usable: engine 'pytensor' is not installed")
    assert "pip install 'pytensor>=3,<4'" in lines["engine"]
    assert "numba" in lines and "JAX" in lines  # the rest is still reported


def test_an_unexpected_error_becomes_a_line(monkeypatch):
    monkeypatch.setattr(info, "numba_line", lambda: 1 / 0)
    _, lines = run_info()
    assert lines["numba"] == "could not be determined (ZeroDivisionError: division by zero)"


def test_python_m_dltut_info(monkeypatch, capsys):
    """``python -m dltut info``, run in this process (a subprocess imports everything again)."""
    monkeypatch.setattr(sys, "argv", ["python -m dltut", "info"])
    monkeypatch.delitem(sys.modules, "dltut.__main__", raising=False)  # run afresh, as python -m
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("dltut", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out.splitlines()
    assert all(len(line) <= info.WIDTH for line in printed)
    labels = [line.split(":", 1)[0] for line in printed if not line.startswith(" ")]
    assert labels[:4] == ["dltut", "engine", "compile mode", "floatX"]
    assert "BLAS threads" in labels and "C compiler" in labels
    assert "numba" in labels and "JAX" in labels


def test_the_report_fits_100_columns_whatever_its_labels():
    key = "  train_model float32[784, 10] float32[10] float32[50000, 784] int32[50000] " * 3
    lines = [("dltut", "x" * 250), ("XLA CPU setting", "word " * 60), (key, "ynn-off (probe)"),
             ("empty", "")]
    printed = info.format_report(lines)
    assert all(len(line) <= info.WIDTH for line in printed), printed
    text = " ".join(printed)
    assert "ynn-off (probe)" in text and "train_model float32[784, 10]" in text
    assert printed[0].startswith("dltut:") and "empty:" in printed


def test_python_m_dltut_needs_a_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        dltut_main.main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_dltut_info_verbose_lists_the_remembered_programs(monkeypatch, capsys):
    pytest.importorskip("jax")
    from dltut.backend import tuning

    monkeypatch.setattr(tuning, "remembered", lambda: {"train_model float32[20, 784]": {
        "setting": "ynn-off", "seconds": {"xla-default": 2e-3, "ynn-off": 1e-3}, "settled": True}})
    monkeypatch.setattr(engine, "jax_platform", lambda: "cpu")
    monkeypatch.setattr(engine, "mode", lambda: "jax")
    monkeypatch.delenv("DLTUT_XLA_CPU", raising=False)
    assert dltut_main.main(["info"]) == 0
    short = capsys.readouterr().out
    assert "train_model float32[20, 784]" not in short and "1 (ynn-off 1; 1 settled)" in short
    assert dltut_main.main(["info", "--verbose"]) == 0
    printed = capsys.readouterr().out
    assert "train_model float32[20, 784]" in printed and "ynn-off (xla-default 2.00 ms" in printed
    assert all(len(line) <= info.WIDTH for line in printed.splitlines())
