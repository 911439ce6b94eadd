"""One training epoch of LR, MLP and LeNet: dltut against PyTorch eager and a pure-JAX floor.

    python benchmarks/bench_peers.py [--only NAME] [--repeat N] [--xla-isa AVX2]

Three ways to train the same model (the tutorials' initial weights and draw order, batch size,
learning rate and cost) on the same MNIST (dltut's loader, float32), each measurement in a fresh
process of its own (nothing shared but the disk's compile caches):

* **dltut**: the tutorial's entry point (``sgd_optimization_mnist``, ``test_mlp``,
  ``evaluate_lenet5``) with ``n_epochs=1``, in dltut's default mode (JAX) and compile cache, as a
  user runs it. Its seconds are those it logs ("The code ran for", ``TrainResult.elapsed``): the
  epoch's updates **and** its one validation and one test sweep (the epoch ends with a
  validation, and the first is always a new best), everything compiled before the clock starts.
  The training span, the validation and the test are also timed on their own.
* **torch**: a plain PyTorch eager loop (one Python step per minibatch, ``torch.autograd.grad``
  and an in-place SGD step) with PyTorch's default threads (one per core, as in bench_cpu.py),
  training only, after a warm-up of a few updates whose parameters are then put back.
* **jax-scan**: the same update written directly in JAX, one jitted ``jax.lax.scan`` over the
  epoch's minibatches of the training set put on the device beforehand: the floor for this work.
  Training only; its compile and a first, warm-up epoch are timed apart and left out (the
  epoch timed starts again from the initial parameters).

``--repeat N`` runs each measurement N times (N processes) and keeps the fastest.
``--xla-isa AVX2`` sets ``XLA_FLAGS=--xla_cpu_max_isa=AVX2`` for the dltut and jax-scan processes
(XLA's code for a CPU without AVX-512); torch keeps its own kernels. ``--floor-setting
ynn-off`` compiles the jax-scan under that XLA CPU setting of dltut's tuning (dltut measures
and remembers one per program: its choice is printed). Not part of the tests;
tests/test_bench_peers.py checks that the three compute the same costs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import numpy

import bench_cpu  # the CPU's description and the child-process conventions

BENCHMARKS = Path(__file__).resolve().parent
FLOATX = "float32"


# ----------------------------------------------------------------------------------------------
# The three models, as the tutorials set them up

# model -> (tutorial module, entry point, batch size, learning rate, L2 coefficient, seed)
MODELS = {
    "LR": ("logistic_sgd", "sgd_optimization_mnist", 600, 0.13, 0.0, None),
    "MLP": ("mlp", "test_mlp", 20, 0.01, 0.0001, 1234),
    "LeNet": ("convolutional_mlp", "evaluate_lenet5", 500, 0.1, 0.0, 23455),
}
NKERNS = (20, 50)
N_HIDDEN = 500
N_OUT = 10


def _uniform(rng, fan_in, fan_out, shape):
    bound = numpy.sqrt(6.0 / (fan_in + fan_out))
    return numpy.asarray(rng.uniform(low=-bound, high=bound, size=shape), dtype=FLOATX)


def init_params(name):
    """The tutorial's initial parameters of model ``name``, by name, drawn in its order: the
    logistic layer starts at zero; the MLP's hidden ``W`` is uniform in sqrt(6 / (fan_in +
    fan_out)) from ``RandomState(1234)``; LeNet draws its two filter banks (fan_out divided by the
    pool area), then its hidden ``W``, from ``RandomState(23455)``; biases are zero."""
    zeros = lambda *shape: numpy.zeros(shape, dtype=FLOATX)  # noqa: E731
    seed = MODELS[name][5]
    rng = numpy.random.RandomState(seed) if seed is not None else None
    params = {}
    if name == "MLP":
        params["W_hidden"] = _uniform(rng, 784, N_HIDDEN, (784, N_HIDDEN))
        params["b_hidden"] = zeros(N_HIDDEN)
    elif name == "LeNet":
        channels = 1
        for i, n_filters in enumerate(NKERNS):
            fan_out = n_filters * 5 * 5 // (2 * 2)
            params[f"W_conv{i}"] = _uniform(rng, channels * 5 * 5, fan_out,
                                            (n_filters, channels, 5, 5))
            params[f"b_conv{i}"] = zeros(n_filters)
            channels = n_filters
        n_features = NKERNS[1] * 4 * 4  # (28 - 5 + 1) / 2 = 12, (12 - 5 + 1) / 2 = 4
        params["W_hidden"] = _uniform(rng, n_features, N_HIDDEN, (n_features, N_HIDDEN))
        params["b_hidden"] = zeros(N_HIDDEN)
    n_in = 784 if name == "LR" else N_HIDDEN
    params["W_logreg"], params["b_logreg"] = zeros(n_in, N_OUT), zeros(N_OUT)
    return params


def jax_epoch(name, train_x, train_y, setting="xla-default"):
    """``run()``: one epoch of SGD on ``train_x, train_y`` (whole minibatches) as one jitted
    ``lax.scan``, the data on the device, compiled under XLA's CPU ``setting`` (a name of
    ``dltut.backend.tuning.CANDIDATES``); returns the updates' costs. ``run.compile()`` compiles
    it (call it first to keep the compile out of a timing); ``run.restart()`` puts the initial
    parameters back."""
    import jax
    import jax.numpy as jnp

    from dltut.backend import tuning

    _, _, batch_size, learning_rate, l2, _ = MODELS[name]
    n_batches = len(train_x) // batch_size
    X = jax.device_put(numpy.asarray(train_x[:n_batches * batch_size], FLOATX).reshape(
        n_batches, batch_size, -1))
    Y = jax.device_put(numpy.asarray(train_y[:n_batches * batch_size], numpy.int32).reshape(
        n_batches, batch_size))

    def conv_pool(h, W, b):
        # a true convolution (flipped filters) as Theano's conv2d, as one product of each output
        # pixel's 5x5 patches (gathered from the image as it lies) with the filters; XLA's own
        # convolution (lax.conv_general_dilated) took over 15x as long an update on the CPU
        # (docs/speed.md, "Against the peers"); then 2x2 max-pooling and tanh
        batch, channels, rows, cols = h.shape
        n_filters, _, size, _ = W.shape
        out_rows, out_cols = rows - size + 1, cols - size + 1
        i, j, c, u, v = numpy.ix_(range(out_rows), range(out_cols), range(channels), range(size),
                                  range(size))
        pixel = ((c * rows + i + u) * cols + j + v).reshape(-1)  # row (b, i, j), column (c, u, v)
        patches = h.reshape(batch, -1)[:, pixel].reshape(batch * out_rows * out_cols, -1)
        out = patches @ W[:, :, ::-1, ::-1].reshape(n_filters, -1).T
        out = out.reshape(batch, out_rows // 2, 2, out_cols // 2, 2, n_filters).max(axis=(2, 4))
        return jnp.tanh(out.transpose(0, 3, 1, 2) + b[None, :, None, None])

    def cost(p, x, y):
        h = x
        if name == "LeNet":
            h = conv_pool(h.reshape(-1, 1, 28, 28), p["W_conv0"], p["b_conv0"])
            h = conv_pool(h, p["W_conv1"], p["b_conv1"]).reshape(h.shape[0], -1)
        if name != "LR":
            h = jnp.tanh(h @ p["W_hidden"] + p["b_hidden"])
        log_p = jax.nn.log_softmax(h @ p["W_logreg"] + p["b_logreg"])
        nll = -jnp.mean(log_p[jnp.arange(y.shape[0]), y])
        if l2:
            nll = nll + l2 * (jnp.sum(p["W_hidden"] ** 2) + jnp.sum(p["W_logreg"] ** 2))
        return nll

    def step(p, batch):
        value, grads = jax.value_and_grad(cost)(p, *batch)
        return jax.tree_util.tree_map(lambda v, g: v - learning_rate * g, p, grads), value

    epoch = jax.jit(lambda p, X, Y: jax.lax.scan(step, p, (X, Y)))
    initial = jax.device_put(init_params(name))
    state = {"params": initial}
    compiled = {}

    def compile_():
        options = tuning.CANDIDATES[setting]
        compiled["epoch"] = epoch.lower(state["params"], X, Y).compile(
            compiler_options=options or None)

    def run():
        if "epoch" not in compiled:
            compile_()
        state["params"], costs = compiled["epoch"](state["params"], X, Y)
        return numpy.asarray(costs)  # waits for the epoch

    def restart():
        state["params"] = initial

    run.compile, run.restart = compile_, restart
    return run


def torch_epoch(name, train_x, train_y):
    """``run(count=None)``: SGD on the first ``count`` minibatches (all whole ones by default) of
    ``train_x, train_y`` in a PyTorch eager loop, one step per minibatch; returns their costs.
    ``run.params`` are the parameters (tensors), updated in place."""
    import torch
    import torch.nn.functional as F

    _, _, batch_size, learning_rate, l2, _ = MODELS[name]
    n_batches = len(train_x) // batch_size
    X = torch.as_tensor(numpy.asarray(train_x[:n_batches * batch_size], FLOATX))
    Y = torch.as_tensor(numpy.asarray(train_y[:n_batches * batch_size], numpy.int64))
    params = {key: torch.tensor(value, requires_grad=True)
              for key, value in init_params(name).items()}

    def cost(x, y):
        p, h = params, x
        if name == "LeNet":
            h = h.reshape(-1, 1, 28, 28)
            for i in (0, 1):  # flipped filters: a true convolution, as Theano's conv2d
                h = F.max_pool2d(F.conv2d(h, p[f"W_conv{i}"].flip(2, 3)), 2)
                h = torch.tanh(h + p[f"b_conv{i}"][None, :, None, None])
            h = h.flatten(1)
        if name != "LR":
            h = torch.tanh(h @ p["W_hidden"] + p["b_hidden"])
        nll = F.cross_entropy(h @ p["W_logreg"] + p["b_logreg"], y)
        if l2:
            nll = nll + l2 * ((p["W_hidden"] ** 2).sum() + (p["W_logreg"] ** 2).sum())
        return nll

    def run(count=None):
        costs = []
        for i in range(n_batches if count is None else count):
            batch = slice(i * batch_size, (i + 1) * batch_size)
            loss = cost(X[batch], Y[batch])
            grads = torch.autograd.grad(loss, list(params.values()))
            with torch.no_grad():
                for param, grad in zip(params.values(), grads):
                    param -= learning_rate * grad
            costs.append(loss.detach())
        return torch.stack(costs).numpy() if costs else numpy.zeros(0, FLOATX)

    run.params = params
    return run


# ----------------------------------------------------------------------------------------------
# One measurement, in a process of its own: a JSON line "BENCH {...}" (bench_cpu._bench_call)


def measure(peer, name, setting="xla-default"):
    """Time one epoch of model ``name`` by ``peer`` ("dltut", "torch" or "jax") in this process
    and print what was measured as a BENCH line: ``train`` (the timed seconds), ``updates``,
    and the peer's other numbers (its compile or warm-up, dltut's parts). ``setting``: the
    jax-scan's XLA CPU setting."""
    if peer == "jax":
        result = _measure_jax(name, setting)
    else:
        result = {"dltut": _measure_dltut, "torch": _measure_torch}[peer](name)
    print("BENCH", json.dumps(result), flush=True)


def _training_set():
    from dltut import data

    (train_x, train_y), _, _ = data.load_data()
    return train_x.astype(FLOATX), train_y


def _measure_jax(name, setting):
    run = jax_epoch(name, *_training_set(), setting=setting)
    start = timeit.default_timer()
    run.compile()
    compiling = timeit.default_timer() - start
    start = timeit.default_timer()
    run()  # warm-up: the first call of a compiled program pays for setting it up
    warm_up = timeit.default_timer() - start
    run.restart()
    start = timeit.default_timer()
    costs = run()
    return {"train": timeit.default_timer() - start, "updates": len(costs), "compile": compiling,
            "warm_up": warm_up, "last_cost": float(costs[-1])}


def _measure_torch(name):
    import torch

    run = torch_epoch(name, *_training_set())
    initial = {key: value.detach().clone() for key, value in run.params.items()}
    start = timeit.default_timer()
    run(count=5)  # warm-up: PyTorch's first calls allocate and pick kernels
    warm_up = timeit.default_timer() - start
    with torch.no_grad():
        for key, value in initial.items():
            run.params[key].copy_(value)
    start = timeit.default_timer()
    costs = run()
    return {"train": timeit.default_timer() - start, "updates": len(costs), "warm_up": warm_up,
            "threads": torch.get_num_threads(), "last_cost": float(costs[-1])}


def _measure_dltut(name):
    """The tutorial's entry point, one epoch; the trainer's ``Minibatches`` calls are timed by
    wrapping them (the training spans, the validation and the test sweeps), and the XLA CPU
    settings dltut chose or read are collected from its log."""
    import importlib
    import logging

    from dltut import trainer

    parts = {"span": 0.0, "validation": 0.0, "test": 0.0}

    def timed(method, part):
        def call(self, *args):
            start = timeit.default_timer()
            value = method(self, *args)
            parts[part] += timeit.default_timer() - start
            return value
        return call

    minibatches = trainer.Minibatches
    minibatches.train_minibatches = timed(minibatches.train_minibatches, "span")
    minibatches.validation_loss = timed(minibatches.validation_loss, "validation")
    minibatches.test_score = timed(minibatches.test_score, "test")

    settings = []

    class Settings(logging.Handler):
        def emit(self, record):
            settings.append(record.args[1])  # "XLA CPU setting for %s: %s (%s)"

    tuning_log = logging.getLogger("dltut.backend.tuning")
    tuning_log.setLevel(logging.DEBUG)
    tuning_log.addHandler(Settings(logging.DEBUG))
    module, function, *_ = MODELS[name]
    tutorial = importlib.import_module(f"dltut.tutorials.{module}")
    start = timeit.default_timer()
    result = getattr(tutorial, function)(n_epochs=1)
    wall = timeit.default_timer() - start
    return {"train": result.elapsed, "updates": result.iterations, "wall": wall, **parts,
            "xla_settings": sorted(set(settings)), "last_cost": float(result.costs[-1])}


CHILD = """
import sys
sys.path.insert(0, {benchmarks!r})
import bench_peers
bench_peers.measure({peer!r}, {name!r}, {setting!r})
"""


def run_child(peer, name, env, cwd, setting="xla-default"):
    """One measurement in a fresh Python process; its BENCH numbers or ``{"error": ...}``."""
    code = CHILD.format(benchmarks=str(BENCHMARKS), peer=peer, name=name, setting=setting)
    return bench_cpu._bench_call(sys.executable, code, env, cwd)


# ----------------------------------------------------------------------------------------------
# The run and its table

PEERS = ("dltut", "torch", "jax")
SETTINGS = ("xla-default", "ynn-off")  # dltut.backend.tuning.CANDIDATES (checked by the test)
NO_TORCH = "not installed (pip install 'dltut[bench]')"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(MODELS), help="one model only")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measurements of each (one process each); the fastest is kept")
    parser.add_argument("--xla-isa", choices=("AVX2",),
                        help="XLA_FLAGS=--xla_cpu_max_isa=AVX2 for the dltut and jax-scan rows")
    parser.add_argument("--floor-setting", default="xla-default", choices=list(SETTINGS),
                        help="the XLA CPU setting the jax-scan is compiled under (dltut chooses "
                             "one per program by measuring; its choice is printed)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    models = [args.only] if args.only else list(MODELS)
    has_torch = bench_cpu._importable("torch")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(BENCHMARKS.parent), os.environ.get("PYTHONPATH")])))
    env.pop("DLTUT_MODE", None)  # dltut's default mode
    jax_env = dict(env)
    if args.xla_isa:
        jax_env["XLA_FLAGS"] = bench_cpu.xla_flags_limited_to(args.xla_isa, env)
    print(bench_cpu.cpu_header())
    print(f"float32; XLA_FLAGS for dltut and jax-scan: {jax_env.get('XLA_FLAGS') or '(none)'}; "
          f"jax-scan's XLA CPU setting: {args.floor_setting}; "
          f"torch: {_torch_version() if has_torch else NO_TORCH}; "
          f"load average before: {_load()}", flush=True)
    rows = {}
    with tempfile.TemporaryDirectory() as cwd:
        for name in models:
            for peer in PEERS:
                if peer == "torch" and not has_torch:
                    continue
                best = None
                for _ in range(args.repeat):
                    got = run_child(peer, name, env if peer == "torch" else jax_env, cwd,
                                    args.floor_setting)
                    print(f"{name:6} {peer:6} {_describe(got)}   load {_load()}", flush=True)
                    if best is None or "error" in best or (
                            "error" not in got and got["train"] < best["train"]):
                        best = got  # the fastest; a failure only while nothing ran
                rows[name, peer] = best
    report(rows, models, has_torch)
    print(f"load average after: {_load()}")


def _describe(got):
    if "error" in got:
        return f"failed: {got['error']}"
    extra = {key: value for key, value in got.items() if key not in ("train", "updates")}
    numbers = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in extra.items())
    return f"{got['train']:8.3f} s, {got['updates']} updates ({numbers})"


def report(rows, models, has_torch):
    """The table: seconds per epoch and ratios to dltut (> 1: dltut faster), then dltut's epoch
    in parts beside the jax-scan floor, per update."""
    print(f"\n{'model':6} {'dltut s':>8} {'torch s':>8} {'jax-scan s':>10} {'torch/dltut':>11} "
          f"{'jax/dltut':>9}")
    for name in models:
        dltut, torch, jax = (rows.get((name, peer)) or {} for peer in PEERS)
        cell = lambda got, width: (f"{got['train']:{width}.3f}" if "train" in got  # noqa: E731
                                   else f"{'failed' if 'error' in got else '-':>{width}}")
        ratio = lambda got: (f"{got['train'] / dltut['train']:.2f}x"  # noqa: E731
                             if "train" in got and "train" in dltut else "-")
        torch_cell = cell(torch, 8) if has_torch else "not installed"
        print(f"{name:6} {cell(dltut, 8)} {torch_cell} {cell(jax, 10)} {ratio(torch):>11} "
              f"{ratio(jax):>9}")
    if not has_torch:
        print(f"torch: {NO_TORCH}")
    print("\ndltut s: the tutorial's logged training seconds of one epoch (its one validation and "
          "test sweep included, compiling not); torch s (eager, default threads) and jax-scan s "
          "(one jitted lax.scan, compile left out): the epoch's updates only.")
    print(f"\n{'model':6} {'dltut span s':>12} {'valid s':>8} {'test s':>7} {'other s':>8} "
          f"{'dltut ms/upd':>12} {'jax ms/upd':>10} {'span/jax':>8}")
    for name in models:
        dltut, jax = rows.get((name, "dltut")) or {}, rows.get((name, "jax")) or {}
        if "span" not in dltut:
            continue
        other = dltut["train"] - dltut["span"] - dltut["validation"] - dltut["test"]
        per_update = 1000 * dltut["span"] / dltut["updates"]
        floor = 1000 * jax["train"] / jax["updates"] if "train" in jax else None
        print(f"{name:6} {dltut['span']:12.3f} {dltut['validation']:8.3f} {dltut['test']:7.3f} "
              f"{other:8.3f} {per_update:12.3f} "
              + (f"{floor:10.3f} {per_update / floor:7.2f}x" if floor else f"{'-':>10} {'-':>8}"))
    print("span: dltut's training spans alone (train_minibatches); valid, test: its sweeps; "
          "other: the rest of its clock (keeping the best parameters, bookkeeping).")
    settings = {name: rows[name, "dltut"].get("xla_settings") for name in models
                if "xla_settings" in (rows.get((name, "dltut")) or {})}
    if settings:
        print("dltut's XLA CPU settings: " + "; ".join(
            f"{name} {', '.join(s) or 'none logged'}" for name, s in settings.items()))


def _torch_version():
    run = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__, "
                          "torch.get_num_threads())"], capture_output=True, text=True)
    version, _, threads = run.stdout.strip().partition(" ")
    return f"{version}, {threads} threads (its default)"


def _load():
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
