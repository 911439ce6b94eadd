"""Runs batched on one device against one run, the same runs one after the other, and a pool.

    python benchmarks/bench_sweep.py [--tutorials logreg mlp] [--runs 8] [--floatX float32]
                                     [--device cpu] [--epochs-logreg 10] [--epochs-mlp 1]
                                     [--no-serial] [--no-pool] [--workers N]

Each tutorial's ``--runs`` runs (MLP: seeds 1, 2, ... and two learning rates; logistic
regression: learning rates around the tutorial's) train for a fixed number of epochs (patience
too large to stop them), validating once an epoch, on the full MNIST, in JAX mode:

* one run: the entry point (``test_mlp`` / ``sgd_optimization_mnist``) of the first run;
* batched: ``dltut.batched.fit_group`` of all the runs, one model on one device;
* serial: each run's entry point, one after the other, in this process;
* pool: each run's entry point in a ``concurrent.futures`` pool of ``--workers`` spawned
  processes (default: one per core);
* groups: the runs split into ``--workers`` groups, each batched in a process of such a pool.

Printed per way: wall seconds of the call(s), data loading and compiling included, and the
training seconds (``TrainResult.elapsed``, compiling excluded: for several runs the longest of
the batched, the sum of the serial and the pool's runs), then each as a multiple of one run.
The targets of issue #15: on the CPU 8 logistic regressions batched in at most 3x one run, 8 MLPs
in at most 6x; on a GPU 64 MLPs in at most 4x (``--runs 64 --device gpu --tutorials mlp``).
Not part of the tests.

Measured (one run, 2-core AMD EPYC shared with other jobs, float32, 8 runs; wall x / training
x against one run), with a group's CPU loops of 2 MLPs sharing one build: logistic regression,
10 epochs: batched 2.3x / 4.2x, groups 2.9x / 4.6x, serial 3.9x / 6.0x, pool 4.0x; MLP, 1
epoch: batched 5.0x / 8.4x, groups 7.1x / 10.9x, serial 8.0x / 8.7x, pool 7.7x; a second
run, same code: MLP batched 7.2x / 11.8x, groups 5.4x / 7.0x (the machine is noisy). Before the
loops (all 8 MLPs in one loop) the MLP batched was 9.7x / 15.9x: an update of each run cost
twice what it costs alone (see dltut/batched.py).
"""

import argparse
import concurrent.futures
import inspect
import multiprocessing
import os
import timeit

HUGE_PATIENCE = 10**9  # no patience stop: every run trains its epochs


def make_runs(tutorial, n_runs, epochs):
    """``n_runs`` hyperparameter dicts of one shape."""
    stopping = {"n_epochs": epochs, "patience": HUGE_PATIENCE}
    if tutorial == "logreg":
        return [{"learning_rate": 0.13 * (1 + 0.05 * index), **stopping} for index in range(n_runs)]
    return [{"learning_rate": (0.01, 0.02)[index % 2], "seed": index // 2 + 1, **stopping}
            for index in range(n_runs)]


def solo(tutorial, run, floatX, device):
    """One run through its entry point: (wall seconds, training seconds)."""
    import dltut
    from dltut.tutorials.mlp import test_mlp

    entry = dltut.sgd_optimization_mnist if tutorial == "logreg" else test_mlp
    run = dict(run)
    seed = run.pop("seed", None)
    start = timeit.default_timer()
    if tutorial == "mlp" and seed not in (None, 1234) and "seed" not in inspect.signature(entry).parameters:
        result = _mlp_with_seed(run, seed, floatX, device)
    else:
        result = entry(**run, **({"seed": seed} if seed is not None else {}), floatX=floatX,
                       mode="jax", device=device)
    return timeit.default_timer() - start, result.elapsed


def _mlp_with_seed(run, seed, floatX, device):
    """``test_mlp`` with another seed, until the entry point takes one (what it does)."""
    import numpy

    from dltut import data, fitting
    from dltut.trainer import EarlyStopping

    options = fitting.prepare({"floatX": floatX, "mode": "jax", "device": device})
    datasets = data.load_shared()
    arch = {"model": "mlp", "n_in": 784, "n_hidden": 500, "n_out": 10}
    hyperparameters = {"learning_rate": run["learning_rate"], "batch_size": 20,
                       "L1_reg": 0.0, "L2_reg": 0.0001}
    return fitting.fit(arch, numpy.random.RandomState(seed), datasets, hyperparameters,
                       EarlyStopping(n_epochs=run["n_epochs"], patience=run["patience"]),
                       options,
                       regularize=lambda mlp, nll: nll + 0.0 * mlp.L1 + 0.0001 * mlp.L2_sqr)


def _solo_in_worker(args):
    return solo(*args)


def batched(tutorial, runs, floatX, device):
    from dltut.batched import fit_group

    start = timeit.default_timer()
    results = fit_group(tutorial, runs, floatX=floatX, mode="jax", device=device)
    return timeit.default_timer() - start, max(result.elapsed for result in results)


def _batched_in_worker(args):
    return batched(*args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorials", nargs="+", default=["logreg", "mlp"],
                        choices=["logreg", "mlp"])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--floatX", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--epochs-logreg", type=int, default=10)
    parser.add_argument("--epochs-mlp", type=int, default=1)
    parser.add_argument("--no-serial", action="store_true", help="skip the runs one by one")
    parser.add_argument("--no-pool", action="store_true", help="skip the process pool")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    print(f"{args.runs} runs, {args.floatX}, JAX on the {args.device}, {os.cpu_count()} cores")
    print(f"{'tutorial':8} {'way':8} {'wall s':>8} {'train s':>8} {'wall x':>7} {'train x':>8}")
    for tutorial in args.tutorials:
        epochs = args.epochs_logreg if tutorial == "logreg" else args.epochs_mlp
        runs = make_runs(tutorial, args.runs, epochs)
        one_wall, one_train = solo(tutorial, runs[0], args.floatX, args.device)

        def row(way, wall, train):
            print(f"{tutorial:8} {way:8} {wall:8.1f} {train:8.1f} {wall / one_wall:6.1f}x "
                  f"{train / one_train:7.1f}x", flush=True)

        row("one run", one_wall, one_train)
        row("batched", *batched(tutorial, runs, args.floatX, args.device))
        if args.workers > 1 and not args.no_pool:  # the runs in one group per worker process
            start = timeit.default_timer()
            groups = [runs[index::args.workers] for index in range(args.workers)]
            with concurrent.futures.ProcessPoolExecutor(
                    args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                times = list(pool.map(_batched_in_worker, [
                    (tutorial, group, args.floatX, args.device) for group in groups]))
            row("groups", timeit.default_timer() - start, max(train for _, train in times))
        if not args.no_serial:
            start = timeit.default_timer()
            train_s = sum(solo(tutorial, run, args.floatX, args.device)[1] for run in runs)
            row("serial", timeit.default_timer() - start, train_s)
        if not args.no_pool:
            start = timeit.default_timer()
            with concurrent.futures.ProcessPoolExecutor(
                    args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                times = list(pool.map(_solo_in_worker, [(tutorial, run, args.floatX, args.device)
                                                        for run in runs]))
            row("pool", timeit.default_timer() - start, sum(train for _, train in times))


if __name__ == "__main__":
    main()
