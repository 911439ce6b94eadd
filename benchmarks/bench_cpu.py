"""The tutorials' commands as a user runs them on the CPU, timed side by side in one run.

    python benchmarks/bench_cpu.py [--models logreg mlp lenet] [--floatX float64]
                                   [--theano .venv-theano/bin/python] [--no-torch] [--avx2]
    python benchmarks/bench_cpu.py --speed --original PATH [--tutorials logistic_sgd mlp ...]
                                   [--avx2]

For each tutorial it runs, one after the other, each as its own process (``scripts/NAME.py``):

* dltut's default command **cold** (in dltut's floatX, float32, unless ``--floatX`` asks for
  another): empty compile caches (JAX's, PyTensor's, numba's), as the first run after a fresh
  install;
* the same command again, **warm**;
* the command in each compile mode (``--mode c``, ``numba``, ``jax``): jax compiles before the
  trainer's clock starts, so one run gives its training time; numba compiles at the first calls,
  inside the clock, and a first c run in an empty compile cache trained 3x slower than the next
  (MLP: 22.7 s, then 7 s; cause not found), so those two are run twice and timed the second time;
* ``--engine theano`` (theano-pymc, the original Theano) with the Python of its environment,
  where that environment exists (``.ci/theano-env.sh``);
* a PyTorch eager loop of the same model and batch size (``bench_gpu.torch_epoch``; optional:
  left out when torch is not installed), with as many threads as the machine has cores: one
  epoch's training and the forward passes of one validation and one test.

The logistic regression is the whole default run (74 epochs); the MLP and LeNet run one epoch
(``--n-epochs 1``: 2,500 and 100 minibatch updates and one validation). Each dltut run is
timed twice: wall seconds of the whole command (imports, data, compiling included) and the
training seconds the trainer measures (``--verbose``'s "trained for", after compiling; it
includes the validations, as the tutorials' "The code ran for"). The last table gives ratios and the fraction of the machine's peak
floating-point rate that the default command's training reaches: multiply-adds of one forward
and backward pass counted per example (below), against the rate of a large matrix product
(NumPy's BLAS on all cores, same dtype) measured in the same run. Not part of the tests.

``--speed`` runs the original ``code/test.py``'s ``speed()`` list instead (issue 26): each
tutorial's call with test.py's arguments, first the original code (lisa-lab/DeepLearningTutorials,
a clone of which ``--original PATH`` names, on theano-pymc in ``--theano``'s environment, floatX float32, one OpenBLAS
thread, on mnist.pkl.gz rebuilt from dltut's MNIST) timed as test.py times it, then dltut's
function of the same name and arguments in its default mode, each in a process of its own and
with empty compile caches; a table of their training seconds, their ratio and the times test.py
held in 2012, under a header naming the CPU and its vector instruction sets. ``--avx2`` runs
dltut's XLA programs with AVX2 at most (``--xla_cpu_max_isa=AVX2``): the instructions of a CPU
without AVX-512 (a 2000x2000 float32 product in JAX fell from 115 to 74 GFLOP/s on the AVX-512
EPYC), not its caches, memory or clock; the original's C code and OpenBLAS keep this CPU's.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import numpy

from dltut.engine import DEFAULT_FLOATX

ROOT = Path(__file__).resolve().parent.parent
MODES = ("c", "numba", "jax")
# what each tutorial's timed command runs, beyond the defaults
ARGS = {"logreg": [], "mlp": ["--n-epochs", "1"], "lenet": ["--n-epochs", "1"]}

# Multiply-adds per training example of one SGD update: the forward pass, then the gradients of
# the weights and of each layer's input but the first (which is data).
#   logreg: forward 784*10; backward dW 784*10.
#   mlp:    forward 784*500 + 500*10; backward dW 784*500 + 500*10, dh 500*10.
#   lenet:  forward conv0 20*24*24*(1*25), conv1 50*8*8*(20*25), hidden 800*500, logreg 500*10;
#           backward dW of each, plus the inputs' gradients of conv1, hidden and logreg.
_CONV0, _CONV1, _HIDDEN, _LOGREG = 20 * 24 * 24 * 25, 50 * 8 * 8 * 20 * 25, 800 * 500, 500 * 10
MACS_PER_EXAMPLE = {
    "logreg": 2 * 784 * 10,
    "mlp": 2 * (784 * 500 + 500 * 10) + 500 * 10,
    "lenet": 2 * (_CONV0 + _CONV1 + _HIDDEN + _LOGREG) + _CONV1 + _HIDDEN + _LOGREG,
}
N_TRAIN = 50000


def run_script(python, script, args, env):
    """Run one command; (wall s, training s, epochs, last lines) or a RuntimeError."""
    command = [str(python), str(ROOT / "scripts" / f"{script}.py"), *args, "--verbose"]
    start = timeit.default_timer()
    run = subprocess.run(command, env=env, capture_output=True, text=True, cwd=env["BENCH_CWD"])
    wall = timeit.default_timer() - start
    output = run.stdout + run.stderr
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({run.returncode}):\n{output[-2000:]}")
    trained = re.search(r"trained for ([0-9.]+)s: (\d+) updates", output)
    return wall, float(trained.group(1)), int(trained.group(2)), output


def environment(cache, **extra):
    """This environment with every compile cache under ``cache``."""
    env = dict(os.environ, DLTUT_CACHE=str(cache / "dltut"), **extra)
    flags = f"base_compiledir={cache / 'pytensor'}"
    env["PYTENSOR_FLAGS"] = ",".join(filter(None, [os.environ.get("PYTENSOR_FLAGS"), flags]))
    env.pop("DLTUT_MODE", None)
    return env


def theano_environment(cache, python):
    """The theano engine's environment: its own flags file (written by .ci/theano-env.sh)."""
    env = dict(os.environ, DLTUT_ENGINE="theano")
    env_file = Path(python).parent.parent / "theano-env"
    flags = f"base_compiledir={cache / 'theano'}"
    if env_file.is_file():
        match = re.search(r'THEANO_FLAGS="([^"$]*)', env_file.read_text())
        if match:
            flags = re.sub(r"base_compiledir=[^,]*", flags, match.group(1))
    env["THEANO_FLAGS"] = flags
    return env


def peak_gflops(floatX, size=2048, repeats=5):
    """GFLOP/s of a size x size matrix product with NumPy's BLAS on all cores (best of repeats)."""
    import threadpoolctl

    a = numpy.random.RandomState(0).rand(size, size).astype(floatX)
    with threadpoolctl.threadpool_limits(os.cpu_count(), user_api="blas"):
        a @ a
        best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(call):
    start = timeit.default_timer()
    call()
    return timeit.default_timer() - start


TORCH_EPOCH = """
import sys, timeit, torch
sys.path.insert(0, {benchmarks!r})
import bench_gpu
from dltut import data
torch.set_num_threads({threads})
(x, y), (vx, _), (tx, _) = data.load_data()
run = bench_gpu.torch_epoch({model!r}, "cpu", {floatX!r}, x.astype({floatX!r}), y)
B = {batch_size}
images = [torch.as_tensor(split[i:i + B].astype({floatX!r}))
          for split in (vx, tx) for i in range(0, len(split) - B + 1, B)]
run()  # warm up
start = timeit.default_timer()
run()
with torch.no_grad():  # as the tutorial's first epoch: validation and test errors
    for batch in images:
        run.forward(batch).argmax(1)
print(timeit.default_timer() - start)
"""


def torch_seconds(model, floatX):
    """Seconds of one epoch of the PyTorch eager loop, a validation and a test included (after
    one warm-up epoch)."""
    code = TORCH_EPOCH.format(benchmarks=str(ROOT / "benchmarks"), threads=os.cpu_count(),
                              model=model, floatX=floatX, batch_size=_batch_size(model))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    return float(run.stdout.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(ARGS), choices=list(ARGS))
    parser.add_argument("--floatX", default=DEFAULT_FLOATX, choices=("float32", "float64"))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--theano", default=str(ROOT / ".venv-theano" / "bin" / "python"),
                        help="the Python of the theano environment (skipped if missing)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--speed", action="store_true",
                        help="run the original code/test.py's speed() list instead: the original "
                             "tutorials on theano-pymc beside dltut's default")
    parser.add_argument("--tutorials", nargs="+", default=list(SPEED), choices=list(SPEED),
                        help="with --speed: the tutorials to run (all by default)")
    parser.add_argument("--avx2", action="store_true",
                        help="have XLA generate code for AVX2 at most (--xla_cpu_max_isa=AVX2): "
                             "the code path of a CPU without AVX-512")
    add_original_argument(parser)
    args = parser.parse_args()
    if args.original:
        try:
            use_original(args.original)
        except ValueError as error:
            parser.error(str(error))
    if args.avx2:
        os.environ["XLA_FLAGS"] = xla_flags_limited_to("AVX2", os.environ)
    if args.speed:
        return speed_suite(args)
    has_torch = not args.no_torch and _importable("torch")
    has_theano = Path(args.theano).is_file()
    print(f"{os.cpu_count()} cores, floatX {args.floatX}, "
          f"theano: {'yes' if has_theano else 'no'}, torch: {'yes' if has_torch else 'no'}")
    peak = peak_gflops(args.floatX)
    print(f"peak: {peak:.1f} GFLOP/s ({args.floatX} {2048}^2 matrix product, NumPy's BLAS, "
          f"{os.cpu_count()} threads)\n")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model in args.models:
            script_args = ARGS[model] + ["--out", str(tmp / "best.npz")]
            floatX = ["--floatX", args.floatX]

            def timed(label, python, extra, env, runs=1):
                for _ in range(runs):
                    wall, train, updates, _ = run_script(python, model, script_args + extra,
                                                         dict(env, BENCH_CWD=str(tmp)))
                rows[model, label] = (wall, train, updates)
                print(f"{model:7} {label:14} wall {wall:7.1f} s   training {train:7.2f} s   "
                      f"({updates} updates)", flush=True)

            # the default command as a user types it, unless another floatX is asked for
            default = [] if args.floatX == DEFAULT_FLOATX else floatX
            cold = environment(tmp / f"cold-{model}")
            timed("default cold", sys.executable, default, cold)
            timed("default warm", sys.executable, default, cold)
            warm = environment(tmp / f"modes-{model}")
            for mode in args.modes:  # jax compiles before the clock; see the docstring
                timed(f"--mode {mode}", sys.executable, ["--mode", mode] + floatX, warm,
                      runs=1 if mode == "jax" else 2)
            if has_theano:
                timed("theano", args.theano, floatX,
                      theano_environment(tmp / f"theano-{model}", args.theano))
            if has_torch:
                seconds = torch_seconds(model, args.floatX)
                rows[model, "torch"] = (None, seconds, N_TRAIN // _batch_size(model))
                print(f"{model:7} {'PyTorch eager':14} training {seconds:7.2f} s per epoch "
                      "(validation and test included)", flush=True)
    report(rows, args.models, peak)


def report(rows, models, peak):
    print(f"\n{'model':7} {'cold wall':>9} {'warm wall':>9} {'train s':>8} {'theano s':>9} "
          f"{'theano/dltut':>13} {'torch s/ep':>10} {'torch/dltut':>12} {'GFLOP/s':>8} "
          f"{'of peak':>8}")
    for model in models:
        cold_wall = rows[model, "default cold"][0]
        warm_wall, train, updates = rows[model, "default warm"]
        theano = rows.get((model, "theano"))
        torch = rows.get((model, "torch"))
        epochs = updates * _batch_size(model) / N_TRAIN
        per_epoch = train / epochs
        gflops = 2 * MACS_PER_EXAMPLE[model] * N_TRAIN / per_epoch / 1e9
        cells = [f"{cold_wall:9.1f}", f"{warm_wall:9.1f}", f"{train:8.2f}",
                 f"{theano[1]:9.2f}" if theano else f"{'-':>9}",
                 f"{theano[1] / train:12.2f}x" if theano else f"{'-':>13}",
                 f"{torch[1]:10.2f}" if torch else f"{'-':>10}",
                 f"{torch[1] / per_epoch:11.2f}x" if torch else f"{'-':>12}",
                 f"{gflops:8.1f}", f"{gflops / peak:8.1%}"]
        print(f"{model:7} " + " ".join(cells))
    print("\ntrain s: the default command's training (warm), validations included; "
          "theano/dltut and torch/dltut > 1: dltut faster (torch: per epoch).")
    print(f"\n{'model':7} " + " ".join(f"{label:>14}" for label in
                                      ("--mode c", "--mode numba", "--mode jax", "theano")))
    for model in models:
        print(f"{model:7} " + " ".join(
            f"{rows[model, label][1]:14.2f}" if (model, label) in rows else f"{'-':>14}"
            for label in ("--mode c", "--mode numba", "--mode jax", "theano")))


# ----------------------------------------------------------------------------------------------
# The original code/test.py's speed() suite: the original tutorials on theano-pymc beside dltut.

# test.py's speed() calls, in its order: (the original's function, its keyword arguments); dltut's
# functions have the same names and take the same arguments.
SPEED = {
    "logistic_sgd": ("sgd_optimization_mnist", {"n_epochs": 30}),
    "logistic_cg": ("cg_optimization_mnist", {"n_epochs": 30}),
    "mlp": ("test_mlp", {"n_epochs": 5}),
    "convolutional_mlp": ("evaluate_lenet5", {"n_epochs": 5, "nkerns": [5, 5]}),
    "dA": ("test_dA", {"training_epochs": 2, "output_folder": "tmp_dA_plots"}),
    "SdA": ("test_SdA", {"pretraining_epochs": 1, "training_epochs": 2, "batch_size": 300}),
    "DBN": ("test_DBN", {"pretraining_epochs": 1, "training_epochs": 2, "batch_size": 300}),
    "rbm": ("test_rbm", {"training_epochs": 1, "batch_size": 300, "n_chains": 1, "n_samples": 1,
                         "output_folder": "tmp_rbm_plots"}),
}
# The times test.py held for these calls (seconds, float32) until commit 82c85e2 removed them:
# ``expected_times_32`` (the CPU, an i7-920) and ``expected_times_gpu`` (a GTX 580).
REFERENCE_2012 = {
    "logistic_sgd": (6.4, 2.9), "logistic_cg": (14.7, 7.6), "mlp": (42.5, 19.0),
    "convolutional_mlp": (63.1, 5.8), "dA": (71.0, 19.2), "SdA": (191.2, 11.2),
    "DBN": (199.0, 7.3), "rbm": (201.9, 122.0),
}
# logistic_cg's original fails in float32 on theano-pymc (its float32 theta refuses fmin_cg's
# float64 iterates: a TypeError, README): both sides run it in float64, the one it runs in.
SPEED_FLOATX = {"logistic_cg": "float64"}
_original = []  # the git folder of the original repository, once --original names it


def use_original(path):
    """Read the original code from ``path``: a clone of lisa-lab/DeepLearningTutorials, or its
    git folder (a bare mirror); a ValueError naming it when it holds no ``code/logistic_sgd.py``."""
    path = Path(path)
    git_dir = path / ".git" if (path / ".git").exists() else path
    found = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e",
                            "HEAD:code/logistic_sgd.py"], capture_output=True)
    if found.returncode != 0:
        raise ValueError(f"--original {path}: not a clone of lisa-lab/DeepLearningTutorials (no "
                         "code/logistic_sgd.py at its HEAD); git clone "
                         "https://github.com/lisa-lab/DeepLearningTutorials and pass its folder")
    _original[:] = [git_dir]


def original_file(name):
    """The text of ``name`` (``code/mlp.py``) at the original repository's HEAD."""
    return subprocess.run(["git", f"--git-dir={_original[0]}", "show", f"HEAD:{name}"],
                          capture_output=True, text=True, check=True).stdout


def add_original_argument(parser):
    parser.add_argument("--original", metavar="PATH", default=os.environ.get("DLTUT_ORIGINAL"),
                        help="a clone of lisa-lab/DeepLearningTutorials (or its git folder): "
                             "the original code to run beside dltut (default: $DLTUT_ORIGINAL); "
                             "without either only dltut runs")

# Run in the theano environment, in a folder holding code/ (the original files) and
# data/mnist.pkl.gz: one tutorial's speed() call, timed as test.py times it (the seconds spent
# inside Theano's compiled functions, Mode.call_time) and by the wall clock.
ORIGINAL_CALL = """
import json, sys, time
sys.path.insert(0, "code")
sys.modules["theano.scan.scan_perform_ext"] = None  # its Cython scan does not build on 3.11
import theano
import {module} as tutorial
mode = theano.compile.mode.get_default_mode()
before, start = mode.call_time, time.perf_counter()
tutorial.{function}(**{kwargs!r})
wall = time.perf_counter() - start
print("BENCH", json.dumps({{"train": mode.call_time - before, "wall": wall}}))
"""

# The same call of dltut's function, in dltut's default mode and floatX: its training seconds
# (what the tutorial logs as "ran for": every "elapsed", "pretraining_time" or "training_time" in
# what it returns) and the call's wall clock (building and compiling included).
DLTUT_CALL = """
import json, time
import dltut
start = time.perf_counter()
result = dltut.{function}(**{kwargs!r})
wall = time.perf_counter() - start
def seconds(value):
    if isinstance(value, (list, tuple)):
        return sum(seconds(item) for item in value)
    names = ("elapsed", "pretraining_time", "training_time")
    return sum(getattr(value, name, 0) or 0 for name in names)
print("BENCH", json.dumps({{"train": seconds(result), "wall": wall}}))
"""


def xla_flags_limited_to(isa, environ):
    """``environ``'s XLA_FLAGS with XLA's code limited to the instruction set ``isa`` ("AVX2": a
    CPU without AVX-512)."""
    return " ".join(filter(None, [environ.get("XLA_FLAGS"), f"--xla_cpu_max_isa={isa}"]))


def cpu_header():
    """The CPU's model name and vector instruction sets, as dltut.backend.tuning keys its choices."""
    from dltut.backend import tuning

    model, _ = tuning.cpu_description()
    return f"CPU: {model}, {os.cpu_count()} cores; vector ISA: {' '.join(tuning.simd_flags())}"


PICKLE_MNIST = """
import gzip, pickle, numpy
arrays = numpy.load("mnist.npz")
splits = tuple((arrays[f"x{k}"].astype("float32"), arrays[f"y{k}"].astype("int64"))
               for k in range(3))
with gzip.open("mnist.pkl.gz", "wb") as file:
    pickle.dump(splits, file, protocol=2)
"""


def original_folder(folder, python):
    """``folder/code``: the original tutorials (their ``MRG_RandomStreams`` import renamed to
    theano-pymc's ``MRG_RandomStream``; dA.py and rbm.py need Pillow there), and
    ``folder/data/mnist.pkl.gz`` rebuilt from dltut's MNIST as tests/test_originals.py describes
    (float32 images, int64 labels, pickled by the theano environment's ``python``)."""
    from dltut import data

    (folder / "code").mkdir(parents=True)
    names = subprocess.run(["git", f"--git-dir={_original[0]}", "ls-tree", "--name-only",
                            "HEAD", "code/"], capture_output=True, text=True, check=True).stdout
    for name in names.split():
        if name.endswith(".py"):
            text = original_file(name)
            text = text.replace("MRG_RandomStreams as RandomStreams",
                                "MRG_RandomStream as RandomStreams")
            text = text.replace("import MRG_RandomStreams\n",
                                "import MRG_RandomStream as MRG_RandomStreams\n")  # DBN.py
            (folder / name).write_text(text)
    (folder / "data").mkdir()
    # NumPy 2 pickles name numpy._core, which the theano environment's NumPy 1.23 lacks: the
    # arrays go over as an .npz, and that Python pickles them
    arrays = {f"{name}{k}": array for k, split in enumerate(data.load_data())
              for name, array in zip("xy", split)}
    numpy.savez(folder / "data" / "mnist.npz", **arrays)
    subprocess.run([str(python), "-c", PICKLE_MNIST], cwd=folder / "data", check=True)


def _bench_call(python, code, env, cwd):
    """Run ``code`` with ``python``; its BENCH line's numbers, or the error's last line."""
    run = subprocess.run([str(python), "-c", code], env=env, cwd=cwd, capture_output=True,
                         text=True)
    line = [ln for ln in run.stdout.splitlines() if ln.startswith("BENCH ")]
    if run.returncode != 0 or not line:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last[-160:]}
    import json

    return json.loads(line[-1][len("BENCH "):])


def speed_suite(args):
    """Run the speed() list: the original on theano-pymc, then dltut's default, per tutorial."""
    theano = Path(args.theano)
    missing = ("no --original: the original code is not run" if not args.original
               else None if theano.is_file() else f"{theano} not found")
    print(cpu_header())
    flags = os.environ.get("XLA_FLAGS", "")
    print(f"dltut: default mode (JAX), floatX {args.floatX}, XLA_FLAGS {flags or '(none)'}; "
          f"original: theano-pymc ({theano}), floatX={args.floatX}, OPENBLAS_NUM_THREADS=1\n")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if missing is None:
            original_folder(tmp / "original", theano)
        for tutorial in args.tutorials:
            function, kwargs = SPEED[tutorial]
            floatX = SPEED_FLOATX.get(tutorial, args.floatX)
            theano_env = dict(theano_environment(tmp / "theano-cache", theano),
                              OPENBLAS_NUM_THREADS="1")
            theano_env["THEANO_FLAGS"] += f",floatX={floatX}"
            dltut_env = dict(os.environ, DLTUT_CACHE=str(tmp / f"dltut-cache-{tutorial}"),
                             PYTHONPATH=str(ROOT), PYTENSOR_FLAGS=f"floatX={floatX}")
            dltut_env.pop("DLTUT_MODE", None)
            if floatX != args.floatX:
                print(f"{tutorial:17} in {floatX} (the original runs in {floatX} only)")
            module_call = ORIGINAL_CALL.format(module=tutorial, function=function, kwargs=kwargs)
            original = (_bench_call(theano, module_call, theano_env, tmp / "original")
                        if missing is None else {"error": missing})
            print(f"{tutorial:17} original {_cell(original)}", flush=True)
            work = tmp / f"dltut-{tutorial}"
            work.mkdir()
            ours = _bench_call(sys.executable, DLTUT_CALL.format(function=function, kwargs=kwargs),
                               dltut_env, work)
            print(f"{tutorial:17} dltut    {_cell(ours)}", flush=True)
            rows[tutorial] = original, ours
    print(f"\n{'tutorial':17} {'original s':>10} {'dltut s':>8} {'ratio':>7} {'orig wall':>9} "
          f"{'dltut wall':>10} {'2012 CPU':>8} {'2012 GPU':>8}")
    for tutorial, (original, ours) in rows.items():
        ratio = (f"{original['train'] / ours['train']:6.2f}x"
                 if "train" in original and "train" in ours and ours["train"] else f"{'-':>7}")
        cpu, gpu = REFERENCE_2012[tutorial]
        print(f"{tutorial:17} {_number(original, 'train', 10)} {_number(ours, 'train', 8)} {ratio} "
              f"{_number(original, 'wall', 9)} {_number(ours, 'wall', 10)} {cpu:8.1f} {gpu:8.1f}")
    print("\noriginal s: seconds inside Theano's compiled functions (test.py's Mode.call_time); "
          "dltut s: the training seconds dltut logs (\"ran for\", validations included, compiles "
          "not); ratio = original / dltut (> 1: dltut faster); walls: the whole call, "
          "building and compiling included (dltut's cache empty at each tutorial's start); "
          "2012: test.py's float32 reference times (i7-920; GTX 580).")
    for tutorial, (original, ours) in rows.items():
        for who, result in (("original", original), ("dltut", ours)):
            if "error" in result:
                print(f"{tutorial} {who} failed: {result['error']}")


def _cell(result):
    if "error" in result:
        return f"failed: {result['error']}"
    return f"training {result['train']:8.2f} s   wall {result['wall']:8.2f} s"


def _number(result, key, width):
    return f"{result[key]:{width}.2f}" if key in result else f"{'-':>{width}}"


def _batch_size(model):
    return {"logreg": 600, "mlp": 20, "lenet": 500}[model]


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    main()
