"""``python -m dltut info``: what this installation runs on, and how to get what is missing.

One entry per piece, wrapped to 100 columns: dltut and Python, the engine and its version, the
compile mode, floatX, the C compiler and the BLAS the C backend links to, NumPy's BLAS, numba, JAX
and its devices, and the GPU seen by pycuda. A missing piece is a line saying it is missing and how to get it, never a traceback.
"""

import importlib
import os
import sys
import textwrap
import warnings

from dltut import __version__, engine

GiB = 1024**3

HINTS = {
    "numba": "not installed (pip install numba; PyTensor's default mode, --mode numba, needs it)",
    "jax": "not installed (pip install -e .[jax])",
    "pycuda": "not installed (optional; pip install pycuda, builds against a local CUDA)",
    "cxx": ("none found (the c mode needs a C++ compiler: install g++, e.g. apt install g++, "
            "or set PYTENSOR_FLAGS=cxx=/path/to/g++)"),
    "blas": ("not linked (blas__ldflags is empty): the c mode falls back to NumPy's C API for "
             "matrix products, which is slower; install OpenBLAS with its headers (e.g. apt "
             "install libopenblas-dev, or PyTensor from conda-forge) or set "
             "PYTENSOR_FLAGS=blas__ldflags=-lopenblas"),
}


def _import(name):
    """The module ``name``, or None when it is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install raising something else
        return None


def python_line():
    return f"{__version__}, Python {sys.version.split()[0]} ({sys.executable})"


def engine_lines(verbose=False):
    """The engine, the compile mode and floatX; one line saying what to install if it is missing.
    ``verbose`` lists each remembered XLA program's setting."""
    try:
        backend = engine.backend()
    except ImportError as error:
        return [("engine", f"not usable: {error}")]
    name = engine.name()
    lines = [("engine", f"{name} {engine.version()} ({os.path.dirname(backend.__file__)})")]
    try:
        mode = (f"{engine.mode()} ({name} mode {engine.compile_mode()}): "
                f"{engine.mode_reason()}")
    except ImportError as error:
        mode = f"not usable: {error}"
    lines.append(("compile mode", f"{mode}; choose with --mode or DLTUT_MODE: "
                                  f"{', '.join(engine.modes())}"))
    lines.append(("floatX", f"{engine.floatX()}: {engine.floatX_reason()} (choose with --floatX "
                            f"or {name.upper()}_FLAGS=floatX=float64)"))
    if engine.mode() == "jax":
        import jax

        lines.append(("JAX compile cache", f"{jax.config.jax_compilation_cache_dir} (set "
                                           "DLTUT_CACHE or JAX_COMPILATION_CACHE_DIR to move it)"))
        lines.append(("XLA_FLAGS", f"{os.environ.get('XLA_FLAGS') or '(none)'} (dltut adds "
                                   f"{', '.join(engine.XLA_CPU_FLAGS)} unless set there)"))
        if engine.jax_platform() == "cpu":
            from dltut.backend import tuning

            lines += tuning.settings_report(verbose)
    threads, why = engine.blas_threads()
    lines.append(("BLAS threads", f"{threads if threads else 'left as set'}: {why}"))
    config = backend.config
    with warnings.catch_warnings():  # PyTensor warns when it finds no BLAS; we say it below
        warnings.simplefilter("ignore")
        cxx = getattr(config, "cxx", "")
        ldflags = getattr(config, "blas__ldflags", None)
    lines.append(("C compiler", cxx or HINTS["cxx"]))
    if not cxx:
        blas = "none: without a C compiler the c mode is unavailable"
    elif ldflags is None:
        blas = "unknown (this engine has no blas__ldflags setting)"
    elif ldflags.strip():
        blas = f"linked with {ldflags.strip()}"
    else:
        blas = HINTS["blas"]
    lines.append((f"{name} BLAS (c mode)", blas))
    return lines


def numpy_lines():
    import numpy

    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        found = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
        if not blas.get("found", True):
            found += " (not found at build time)"
    except Exception as error:  # show_config's layout is not a stable API
        found = f"unknown ({type(error).__name__}: {error})"
    lines = [("NumPy", f"{numpy.__version__}, BLAS {found}")]
    threadpoolctl = _import("threadpoolctl")
    if threadpoolctl is not None:
        pools = [f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('num_threads')} "
                 f"threads)" for pool in threadpoolctl.threadpool_info()
                 if pool.get("user_api") == "blas"]
        lines.append(("BLAS loaded (threadpoolctl)", ", ".join(pools) or "none loaded yet"))
    return lines


def numba_line():
    numba = _import("numba")
    return ("numba", numba.__version__ if numba is not None else HINTS["numba"])


def jax_line():
    jax = _import("jax")
    if jax is None:
        return ("JAX", HINTS["jax"])
    try:
        devices = jax.devices()
    except Exception as error:  # a CUDA build without a usable GPU raises RuntimeError
        return ("JAX", f"{jax.__version__}, no devices ({type(error).__name__}: {error})")
    text = f"{jax.__version__}, devices: {', '.join(str(d) for d in devices)}"
    if all(d.platform == "cpu" for d in devices):
        text += " (CPU only; for an NVIDIA GPU: pip install 'jax[cuda12]')"
    return ("JAX", text)


def gpu_lines():
    """Each CUDA GPU seen by pycuda: name, compute capability, free and total memory."""
    if _import("pycuda") is None:
        return [("pycuda", HINTS["pycuda"])]
    try:
        import pycuda.driver as cuda

        cuda.init()
        count = cuda.Device.count()
    except Exception as error:
        return [("pycuda", f"installed, but CUDA is not usable ({type(error).__name__}: {error})")]
    if count == 0:
        return [("pycuda", "installed, but it sees no CUDA GPU")]
    lines = []
    for index in range(count):
        device = cuda.Device(index)
        major, minor = device.compute_capability()
        text = f"{device.name()}, compute capability {major}.{minor}"
        try:
            context = device.make_context()
            try:
                free, total = cuda.mem_get_info()
            finally:
                context.pop()
            text += f", memory {free / GiB:.1f} GiB free of {total / GiB:.1f} GiB"
        except Exception as error:
            text += f", memory unknown ({type(error).__name__}: {error})"
        lines.append((f"GPU {index}", text))
    return lines


def _safely(label, collect):
    """``collect()`` as a list of lines; an unexpected error becomes a line, not a crash."""
    try:
        lines = collect()
    except Exception as error:
        return [(label, f"could not be determined ({type(error).__name__}: {error})")]
    return lines if isinstance(lines, list) else [lines]


def report(verbose=False):
    """The ``(label, text)`` lines of ``python -m dltut info`` (``--verbose``: every remembered
    XLA program)."""
    lines = [("dltut", python_line())]
    for label, collect in (("engine", lambda: engine_lines(verbose)), ("NumPy", numpy_lines),
                           ("numba", numba_line), ("JAX", jax_line), ("pycuda", gpu_lines)):
        lines += _safely(label, collect)
    return lines


WIDTH = 100  # columns: the report fits a terminal
LABEL_WIDTH = 28  # the labels' column; a longer label (an XLA program's key) gets lines of its own


def format_report(lines, width=WIDTH):
    """The report's ``(label, text)`` lines as printed: the labels in a column, each text wrapped
    beside it, no line longer than ``width``."""
    label_width = min(max(len(label) for label, _ in lines) + 1, LABEL_WIDTH)
    indent = " " * (label_width + 1)
    printed = []
    for label, text in lines:
        label += ":"
        if len(label) > label_width:
            printed += textwrap.wrap(label, width, subsequent_indent="    ",
                                     break_on_hyphens=False)
            first = indent
        else:
            first = f"{label:<{label_width}} "
        printed += textwrap.wrap(text, width, initial_indent=first, subsequent_indent=indent,
                                 break_on_hyphens=False) or [first.rstrip()]
    return printed


def main(stream=None, verbose=False):
    """Print the report; returns the exit status (0)."""
    stream = sys.stdout if stream is None else stream
    for line in format_report(report(verbose)):
        print(line, file=stream)
    return 0
