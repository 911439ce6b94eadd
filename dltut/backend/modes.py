"""The process-wide state of the engine under ``dltut.engine``: which Theano runs, in which
compile mode, at which floatX and on which device; the BLAS threads, XLA's flags and the compile
cache; the C mode's graph rewrites. ``dltut.engine`` re-exports what the rest of dltut calls.

Two engines speak the Theano API:

* ``pytensor`` (default): PyTensor 3.x, the maintained successor of Theano.
* ``theano``: theano-pymc 1.1.2, the original Theano as last maintained (CPU only, Python <= 3.11,
  numpy 1.23; see README).

The engine is chosen once per process, from ``use(name)`` or the ``DLTUT_ENGINE`` environment
variable, and is loaded on first use. Compile modes (``set_mode``): ``c``, ``numba`` and ``jax``
(PyTensor only; on the GPU with JAX's CUDA build); dltut's default is ``jax`` wherever JAX is
installed (``default_mode()`` says which and why). floatX is float32 unless set
(``DEFAULT_FLOATX``). JAX's compiled programs are kept on disk (``cache_dir()``).
"""

import contextlib
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import sys
import warnings

import numpy

ENGINES = ("pytensor", "theano")
MODES = ("c", "numba", "jax")
FLOATX = ("float32", "float64")
DEVICES = ("cpu", "gpu", "auto")

_INSTALL_HINT = {
    "pytensor": "pip install 'pytensor>=3,<4'",
    "theano": "bash .ci/theano-env.sh .venv-theano (its own Python 3.11 environment with "
              "requirements-theano.txt), then run with .venv-theano/bin/python (see README)",
}
# Compile-mode names as each engine spells them.
_MODE_NAMES = {
    "pytensor": {"c": "CVM_NOGC", "numba": "NUMBA", "jax": "JAX"},
    "theano": {"c": "FAST_RUN"},
}

log = logging.getLogger(__name__)

_engine_name = None
_backend = None
_mode = None
_mode_reason = None  # why _mode was chosen, for `python -m dltut info`
_floatX_reason = None  # why floatX is what it is, likewise
_DEFAULT_FLOATX_REASON = "dltut's default"


def _check_choice(what, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}: choose one of {', '.join(choices)}")


def use(name):
    """Choose the engine for this process; call before any model is built."""
    _check_choice("engine", name, ENGINES)
    global _engine_name
    if _backend is not None and name != _engine_name:
        raise RuntimeError(
            f"engine {_engine_name!r} is already loaded in this process, cannot switch to {name!r}: "
            f"choose it before building any model (DLTUT_ENGINE={name} or dltut.engine.use({name!r}))"
        )
    _engine_name = name


def name():
    """The name of the engine in use ('pytensor' or 'theano')."""
    _load()
    return _engine_name


def _load():
    global _backend, _engine_name, _mode_reason
    if _backend is not None:
        return _backend
    if _engine_name is None:
        requested = os.environ.get("DLTUT_ENGINE", "pytensor")
        _check_choice("engine (DLTUT_ENGINE)", requested, ENGINES)
        _engine_name = requested
    limit_blas_threads()
    if _engine_name == "theano":
        _prepare_theano()
    else:
        _prepare_pytensor()
    try:
        module = importlib.import_module(_engine_name)
    except ImportError as error:
        raise ImportError(
            f"engine {_engine_name!r} is not installed ({error}); install it with: "
            f"{_INSTALL_HINT[_engine_name]}"
        ) from error
    _backend = module
    if _engine_name == "pytensor":
        _keep_buffers_in_c_mode()
        _inline_softmax_in_c_mode()
        _inc_rows_in_c_mode()
    _choose_floatX()
    chosen, why = default_mode()
    if os.environ.get("DLTUT_MODE"):
        chosen, why = os.environ["DLTUT_MODE"], "DLTUT_MODE is set"
    set_mode(chosen)
    _mode_reason = why
    return _backend


def default_mode():
    """``(mode, why)``: the mode a run gets when neither ``--mode`` nor ``DLTUT_MODE`` says.

    On PyTensor that is ``jax`` when JAX can be imported: its fused epochs train the logistic
    regression, the MLP and LeNet fastest of the three modes with the tutorials' numbers.
    Without JAX it is ``c``, faster than numba (docs/speed.md). On theano-pymc the C mode is the
    only one.
    """
    if _engine_name == "theano":
        return "c", "theano-pymc has only the C mode"
    if importlib.util.find_spec("jax") is not None:
        return "jax", "dltut's default, the fastest mode measured for LR, MLP and LeNet"
    return "c", "JAX is not installed (pip install jax), so the next fastest mode"


# The variables by which a user sets the BLAS threads; dltut then leaves them alone.
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
BLAS_THREADS = 1  # dltut's default: fastest for the tutorials' small minibatches (docs/speed.md)


def blas_threads():
    """``(threads, why)``: how many threads BLAS libraries get, or None to leave them alone.

    ``DLTUT_BLAS_THREADS`` decides when set; otherwise a user's ``OPENBLAS_NUM_THREADS`` (or
    ``OMP_``/``MKL_NUM_THREADS``) is left to do its work; otherwise ``BLAS_THREADS``. The
    tutorials multiply small matrices (a minibatch of 20 to 600 rows), where OpenBLAS's threads
    cost more than they give: one thread is faster (docs/speed.md).
    """
    global _blas_threads
    if _blas_threads is None:
        _blas_threads = _choose_blas_threads()
    return _blas_threads


_blas_threads = None  # (threads, why), decided once: limit_blas_threads sets the variables it reads


def _choose_blas_threads():
    requested = os.environ.get("DLTUT_BLAS_THREADS")
    if requested:
        if not requested.isdigit() or int(requested) < 1:
            raise ValueError(f"DLTUT_BLAS_THREADS={requested!r} must be a positive integer "
                             "(or unset it: dltut then uses one thread)")
        return int(requested), "DLTUT_BLAS_THREADS"
    for variable in _THREAD_VARIABLES:
        if os.environ.get(variable):
            return None, f"{variable}={os.environ[variable]} is set"
    return BLAS_THREADS, "dltut's default (set DLTUT_BLAS_THREADS to change it)"


def limit_blas_threads():
    """Apply ``blas_threads()``: to the BLAS libraries loaded already (NumPy's), through
    threadpoolctl, and to those loaded later (the OpenBLAS that compiled C modules link), through
    ``OPENBLAS_NUM_THREADS``."""
    threads, _ = blas_threads()
    if threads is None:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    import threadpoolctl

    threadpoolctl.threadpool_limits(threads, user_api="blas")


_OPENBLAS = ("/usr/lib/x86_64-linux-gnu/libopenblas.so", "/usr/lib/aarch64-linux-gnu/libopenblas.so",
             "/usr/lib64/libopenblas.so", "/usr/lib/libopenblas.so")


def _configured(flags_variable, rc_variable, rc_default, names):
    """Whether the engine's flags variable names one of ``names``, or a config file exists."""
    flags = os.environ.get(flags_variable, "")
    rcfiles = os.environ.get(rc_variable, rc_default).split(os.pathsep)
    return (any(name in flags for name in names)
            or any(os.path.isfile(os.path.expanduser(f)) for f in rcfiles))


def _add_flag(flags_variable, flag):
    os.environ[flags_variable] = ",".join(filter(None, [os.environ.get(flags_variable, ""), flag]))


def _prepare_pytensor():
    """Link PyTensor's C mode to the system OpenBLAS where it is installed and nothing else is set.

    PyTensor installed by pip finds no BLAS to link its C code to and falls back to NumPy's C API,
    several times slower for the tutorials' products (docs/speed.md, "The default mode, floatX and
    BLAS"). With Debian's libopenblas-dev present, ``blas__ldflags=-lopenblas`` is used unless
    PYTENSOR_FLAGS or a .pytensorrc says otherwise.
    """
    if not _configured("PYTENSOR_FLAGS", "PYTENSORRC", "~/.pytensorrc", ("blas__ldflags",)) \
            and any(os.path.exists(path) for path in _OPENBLAS):
        _add_flag("PYTENSOR_FLAGS", "blas__ldflags=-lopenblas")


def _prepare_theano():
    """What theano-pymc 1.1.2 needs set before its first import on numpy 1.23 and Python 3.11.

    * Its BLAS detection reads ``numpy.distutils.__config__.blas_opt_info``, which these numpy
      builds lack, so ``import theano`` dies with an AttributeError unless ``blas__ldflags`` is set.
      Where neither THEANO_FLAGS nor a .theanorc sets it, use ``blas__ldflags=`` (empty: NumPy's
      own BLAS, always links); .ci/theano-env.sh prints the faster ``-lopenblas`` setting.
    * Scan's C implementation is Cython 0.29.21 output that does not compile on Python >= 3.11
      (it fails with a plain Exception, which Scan does not catch): make its import fail
      cleanly so that Scan runs its Python implementation.
    """
    if not _configured("THEANO_FLAGS", "THEANORC", "~/.theanorc",
                       ("blas__ldflags", "blas.ldflags")):
        _add_flag("THEANO_FLAGS", "blas__ldflags=")
    if sys.version_info >= (3, 11):
        sys.modules.setdefault("theano.scan.scan_perform_ext", None)


def _keep_buffers_in_c_mode():
    """Register the C mode dltut compiles in: PyTensor's ``CVM`` (its C virtual machine, the
    ``fast_run`` rewrites), with the machine keeping each intermediate array between calls.

    PyTensor's CVM frees every intermediate array as soon as the graph has used it, so each call
    allocates them again, and the memory given back to the system is faulted in again at the
    next call (the RNN-RBM's update; docs/speed.md, "The C mode"). Kept, an op writes into its
    last call's output where the shape is the same: the same operations, in the same order. What
    it costs: the intermediate arrays of each compiled function stay allocated while the function
    exists.
    """
    from pytensor.compile.mode import Mode, predefined_modes, register_mode

    if "CVM_NOGC" not in predefined_modes:
        register_mode("CVM_NOGC", Mode("cvm_nogc", "fast_run"))


def _inline_softmax_in_c_mode():
    """Have PyTensor's C mode compute ``Softmax`` and ``LogSoftmax`` in C.

    PyTensor 3 builds them as ops with an inner graph (``x - max``, ``exp``, a sum, a division or
    a log), which the C mode runs as a function of its own, compiled at the first call and
    called from Python at each (a sixth of rnnslu's update; docs/speed.md, "The C mode"). This
    rewrite puts the inner graph in its place, as PyTensor already does
    for ``XLogY``, so that it is compiled with the graph around it: the same operations. JAX and
    Numba have their own softmax and keep it (the rewrite is ``cxx_only``)."""
    from pytensor.graph.rewriting.basic import node_rewriter
    from pytensor.tensor.rewriting.basic import register_specialize
    from pytensor.tensor.rewriting.ofg import inline_ofg_node
    from pytensor.tensor.special import LogSoftmax, Softmax

    @node_rewriter([Softmax, LogSoftmax])
    def dltut_inline_softmax(fgraph, node):
        return inline_ofg_node(node)

    register_specialize(dltut_inline_softmax, "cxx_only")


def _inc_rows_in_c_mode():
    """Have PyTensor's C mode add rows to a matrix in C (``dltut.backend.inc_rows``), after its inplace
    rewrites (an inplace ``AdvancedIncSubtensor1`` becomes an inplace ``IncRows``)."""
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
    from pytensor.tensor.subtensor import AdvancedIncSubtensor1

    from dltut.backend import inc_rows

    @node_rewriter([AdvancedIncSubtensor1])
    def dltut_inc_rows(fgraph, node):
        return inc_rows.replacement(node)

    optdb.register("dltut_inc_rows", dfs_rewriter(dltut_inc_rows), "fast_run", "cxx_only",
                   position=99)


def backend():
    """The engine's top-level module (``pytensor`` or ``theano``)."""
    return _load()


def default_updates(outputs):
    """``[(state, new_state)]`` of the random streams drawn in the graphs of ``outputs``: the
    updates a compiled function applies by itself."""
    graph = backend().graph
    ancestors = getattr(graph, "traversal", graph.basic).ancestors
    return [(v, v.default_update) for v in ancestors(outputs)
            if getattr(v, "default_update", None) is not None
            and getattr(v.tag, "is_rng", False)]


def version():
    return backend().__version__


# ----------------------------------------------------------------------------------------------
# floatX and compile mode


# dltut's floatX where the engine's configuration names none (both engines' own default is
# float64): float32 trains the logistic regression about twice as fast on the CPU and prints the
# published run's numbers all the same (docs/speed.md).
DEFAULT_FLOATX = "float32"


def _choose_floatX():
    """``DEFAULT_FLOATX``, unless the engine's flags (``PYTENSOR_FLAGS``, ``THEANO_FLAGS``) or its
    config file set ``floatX``: that choice stands."""
    global _floatX_reason
    config = _backend.config
    config.floatX  # reading it first tells whether a flag or the file set it
    if config._config_var_dict["floatX"].is_default:
        config.floatX = DEFAULT_FLOATX
        _floatX_reason = _DEFAULT_FLOATX_REASON
    else:
        _floatX_reason = f"set in {_engine_name}'s flags or config file"


def floatX():
    """The float dtype every value is cast to (the engine's ``config.floatX``)."""
    return backend().config.floatX


def floatX_reason():
    """Why floatX is what it is: dltut's default, the engine's configuration, or a choice made in
    this process."""
    _load()
    return _floatX_reason


def floatX_is_default():
    """Whether floatX is dltut's default: neither the engine's configuration nor this process
    chose it (a tutorial whose original runs in float64 only then picks float64)."""
    _load()
    return _floatX_reason == _DEFAULT_FLOATX_REASON


@contextlib.contextmanager
def floatX_unless_chosen(dtype):
    """Run the block in floatX ``dtype`` if floatX is dltut's default (``floatX_is_default``),
    then go back to that default: for a tutorial whose original runs in that floatX only, so
    that the runs after it keep the default."""
    global _floatX_reason
    if not floatX_is_default():
        yield
        return
    set_floatX(dtype)
    try:
        yield
    finally:
        set_floatX(DEFAULT_FLOATX)
        _floatX_reason = _DEFAULT_FLOATX_REASON


def set_floatX(dtype):
    global _floatX_reason
    _check_choice("floatX", dtype, FLOATX)
    backend().config.floatX = dtype
    _floatX_reason = "chosen with --floatX or engine.set_floatX"
    if _mode == "jax":
        _sync_jax_x64()


def modes():
    """The compile modes this engine offers."""
    _load()
    return tuple(_MODE_NAMES[_engine_name])


def mode():
    """The current compile mode ('c', 'numba' or 'jax')."""
    _load()
    return _mode


def mode_reason():
    """Why the current mode runs: dltut's default, DLTUT_MODE, or a choice made in this process."""
    _load()
    return _mode_reason


def set_mode(new_mode):
    global _mode, _mode_reason
    _load()
    _check_choice(f"mode for engine {_engine_name}", new_mode, modes())
    if new_mode == "jax":
        _prepare_jax()
    _mode, _mode_reason = new_mode, "chosen with --mode or engine.set_mode"


def mode_is_default():
    """Whether the current mode is dltut's default: neither DLTUT_MODE nor this process chose it."""
    _load()
    return _mode_reason == default_mode()[1]


@contextlib.contextmanager
def mode_unless_chosen(new_mode):
    """Run the block in ``new_mode`` if the current mode is dltut's default (``mode_is_default``),
    then go back to it: for a tutorial that cannot run in the default mode (the RNN-RBM's
    sequences of varying length in JAX mode), so that the runs after it keep the default."""
    global _mode_reason
    if not mode_is_default():
        yield
        return
    previous, reason = mode(), _mode_reason
    set_mode(new_mode)
    try:
        yield
    finally:
        set_mode(previous)
        _mode_reason = reason


@dataclasses.dataclass(frozen=True)
class NotIn:
    """A tutorial's declaration that it cannot run in ``mode``, and why (the one place that
    says so; the tutorial never asks which mode runs).

    ``check()``, before anything is read or built: a ``ValueError`` naming the reason and the
    modes to use where ``mode`` was chosen. ``compiling()``, around the building of the
    tutorial's functions: where ``mode`` is only dltut's default, they are compiled in
    ``instead`` (said at INFO) and the default comes back after.
    """

    tutorial: str  # as the messages name it
    mode: str  # the mode it cannot run in
    reason: str  # why, in a few words
    instead: str = "c"  # the mode its functions compile in when ``mode`` is only the default
    logger: logging.Logger = log  # the tutorial's, which says where it compiles

    def check(self, chosen=None):
        """Refuse ``chosen`` (a mode asked for, or None: the current one, if chosen)."""
        asked = chosen if chosen is not None else (None if mode_is_default() else mode())
        if asked == self.mode:
            others = " or ".join(f"'{other}'" for other in MODES if other != self.mode)
            raise ValueError(f"mode '{self.mode}' cannot run {self.tutorial} ({self.reason}): "
                             f"use mode {others}")

    @contextlib.contextmanager
    def compiling(self):
        """Inside the block the tutorial compiles in a mode it can run in; ``as`` gives that
        mode."""
        self.check()
        if mode() != self.mode:
            yield mode()
            return
        self.logger.info("%s compiles in mode '%s': %s", self.tutorial, self.instead,
                         self.reason)
        with mode_unless_chosen(self.instead):
            yield mode()


def _prepare_jax():
    """Import JAX (and PyTensor's JAX backend) with 64-bit types on exactly when floatX is float64.

    PyTensor's JAX backend sets ``jax_enable_x64`` from floatX only when it is first imported, so
    a process that switched floatX afterwards would compute float64 graphs in float32, or float32
    graphs partly in float64 (an int64 shape promotes float32 to float64 under x64). dltut keeps
    the flag in step with floatX instead.
    """
    set_xla_flags()
    try:
        importlib.import_module("jax")
    except ImportError as error:
        raise ImportError(f"mode 'jax' needs JAX ({error}): pip install -e .[jax]") from error
    importlib.import_module("pytensor.link.jax.dispatch")
    # PyTensor warns at each JAX compile that it drops the run-time check that the negative
    # log-likelihood's two index vectors, arange(y.shape[0]) and y, have the same length; they
    # have by construction. The warning would greet every user of the default mode.
    warnings.filterwarnings("ignore", message=r"Skipping Assert.*Could not broadcast dimensions",
                            category=UserWarning)
    # In float32 JAX runs without 64-bit types: PyTensor's sums of float32 gradients accumulate
    # in float64 (acc_dtype), and its indices are int64, which JAX then makes float32 and int32,
    # warning at each compile.
    warnings.filterwarnings("ignore", message=r"Explicitly requested dtype (float|int)64 "
                            r"requested in \w+ is not available", category=UserWarning)
    _sync_jax_x64()
    _use_jax_cache()


# XLA's CPU compiler copies an array carried by a loop (a fused span's weight matrix) at every
# step when two operations that do not depend on each other read it before the step's update
# overwrites it in place: the backward pass through a hidden layer's W and W's own SGD update, in
# the SdA and DBN fine-tuning. Its region analysis shows these copies are not needed and drops
# them. The arithmetic is unchanged (the same numbers to the bit, checked on the MLP and SdA),
# and the SdA's fine-tuning update is much faster (docs/speed.md, "JAX mode"). It is off by
# default in XLA; JAX reads XLA_FLAGS when it first starts its CPU backend.
XLA_CPU_FLAGS = {"xla_cpu_copy_insertion_use_region_analysis": "true"}
_XLA_FLAGS_SINCE = (0, 5)  # the jaxlib releases known to have them (an unknown flag aborts XLA)


def set_xla_flags():
    """Add ``XLA_CPU_FLAGS`` to the environment's ``XLA_FLAGS``, each unless ``XLA_FLAGS``
    already sets it (the user's choice stands), and only with a jaxlib known to have them."""
    try:
        version = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return
    if tuple(int(part) for part in version.split(".")[:2] if part.isdigit()) < _XLA_FLAGS_SINCE:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    added = [f"--{name}={value}" for name, value in XLA_CPU_FLAGS.items()
             if f"--{name}=" not in flags and f"--{name} " not in f"{flags} "]
    if added:
        os.environ["XLA_FLAGS"] = " ".join(filter(None, [flags, *added]))


def cache_dir():
    """Where dltut keeps compiled programs between runs: ``$DLTUT_CACHE``, else
    ``$XDG_CACHE_HOME/dltut``, else ``~/.cache/dltut``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("DLTUT_CACHE") or os.path.join(base, "dltut")


def _use_jax_cache():
    """Keep every program XLA compiles in ``cache_dir()/jax``, unless JAX's own setting names one.

    JAX's persistent cache is off unless a folder is given, and by default keeps only programs
    that took a second or more to compile; a tutorial's programs mostly compile faster than that,
    and all of them are worth keeping (docs/speed.md, "The default mode, floatX and BLAS").
    """
    import jax

    if jax.config.jax_compilation_cache_dir:  # JAX_COMPILATION_CACHE_DIR or the user's choice
        return
    jax.config.update("jax_compilation_cache_dir", os.path.join(cache_dir(), "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def _sync_jax_x64():
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", floatX() == "float64")


def set_device(device, tf32=False):
    """Where the models run; returns the device used ('cpu' or 'gpu').

    * ``cpu``: the CPU, in any mode.
    * ``gpu``: JAX mode on JAX's first GPU; an error if JAX sees none.
    * ``auto``: the GPU if JAX sees one, else the CPU (and says so).

    On the GPU, float32 matrix products run in true float32 unless ``tf32`` allows TensorFloat-32,
    which recent NVIDIA GPUs use by default and which changes the tutorials' numbers.
    """
    _check_choice("device", device, DEVICES)
    if device == "cpu":
        if mode() == "jax":
            import jax

            jax.config.update("jax_default_device", jax.devices("cpu")[0])
        return "cpu"
    gpus = _jax_gpus()
    if not gpus:
        if device == "gpu":
            raise RuntimeError(
                "device 'gpu' asked for, but JAX sees no GPU: on a machine with an NVIDIA GPU "
                "install JAX's CUDA build (pip install -e .[gpu]), or use --device cpu"
            )
        log.warning("no GPU found: running on the CPU (device auto)")
        return "cpu"
    set_mode("jax")
    import jax

    jax.config.update("jax_default_device", gpus[0])
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")
    log.info("running on %s (JAX mode%s)", gpus[0], ", TF32 allowed" if tf32 else "")
    return "gpu"


def jax_platform():
    """Where JAX mode runs now, "cpu" or "gpu": ``set_device``'s choice, else JAX's default."""
    import jax

    device = jax.config.jax_default_device or jax.devices()[0]
    return getattr(device, "platform", device)  # a device, or a platform's name


def _jax_gpus():
    """JAX's GPU devices; none when JAX or its CUDA build is missing."""
    try:
        import jax

        return jax.devices("gpu")
    except (ImportError, RuntimeError):
        return []


def compile_mode():
    """The engine's Mode object for the current mode."""
    return _MODE_NAMES[name()][mode()]



def compile_ahead(compiled, input_shapes=None):
    """Have XLA compile a JAX-mode function now, without running it.

    PyTensor's JAX functions are ``jax.jit`` programs that compile at their first call. This
    lowers the program for the inputs' current values (an explicit input not given yet counts as
    a zero of its type; ``input_shapes``, one per explicit input, gives zeros of those shapes
    instead) and compiles it, which fills JAX's in-memory cache (and its disk cache), so the
    first real call of those shapes only runs. Functions of other modes are left as they are.
    """
    thunk = compiled.vm
    jit_fn = getattr(thunk, "jit_fn", None)
    if not hasattr(jit_fn, "lower"):  # not JAX, or a program with static shape inputs
        return
    inputs = compiled.maker.fgraph.inputs
    args = [cell[0] if cell[0] is not None else numpy.zeros((), dtype=variable.type.dtype)
            for variable, cell in zip(inputs, thunk.inputs)]
    for n, shape in enumerate(input_shapes or ()):
        args[n] = numpy.zeros(shape, dtype=inputs[n].type.dtype)
    jit_fn.lower(*args).compile()



def place_data(variables):
    """Hold the values of these read-only shared variables where the current mode reads them.

    PyTensor's JAX backend keeps shared values as NumPy arrays and copies each one to the device on
    every call; for a data set that copy costs far more than the minibatch work. So in JAX mode
    the stored NumPy array is swapped once for a JAX array on JAX's device, which the compiled
    functions then pass to JAX as it is. In the other modes a value left on a JAX device by an
    earlier JAX run is brought back as a NumPy array.
    """
    on_device = mode() == "jax"
    for variable in variables:
        storage = variable.container.storage
        is_jax = type(storage[0]).__module__.startswith("jax")
        if on_device and not is_jax:
            import jax

            storage[0] = jax.device_put(storage[0])
        elif is_jax and not on_device:
            storage[0] = numpy.array(storage[0])  # a writable copy, as PyTensor stores them
