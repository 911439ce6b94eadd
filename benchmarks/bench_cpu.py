"""The tutorials' commands as a user runs them on the CPU, timed side by side in one run.

    python benchmarks/bench_cpu.py [--models logreg mlp lenet] [--floatX float64]
                                   [--theano .venv-theano/bin/python] [--no-torch]

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
    args = parser.parse_args()
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


def _batch_size(model):
    return {"logreg": 600, "mlp": 20, "lenet": 500}[model]


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    main()
