"""Milliseconds per training epoch of each tutorial model, per engine and compile mode.

    python benchmarks/bench_epochs.py [--models logreg mlp lenet] [--modes c numba jax]
                                      [--floatX float64] [--fused] [--batches N]

Each model is built as its tutorial builds it (same batch size, same data in shared variables),
compiled, warmed up with one minibatch, then timed over ``--batches`` minibatches (default: a
whole epoch) and one validation pass; the figures are scaled to a full epoch. Compile time is
reported apart. Run it under another engine with ``DLTUT_ENGINE=theano``. Not part of the tests.
"""

import argparse
import timeit

import numpy

from dltut import data, engine, registry
from dltut.compiled import CompiledModel
from dltut.engine import T
from dltut.updates import sgd

# model -> (architecture without n_in, batch size, learning rate, seed): the tutorials' settings
MODELS = {
    "logreg": ({"model": "logistic_regression", "n_out": 10}, 600, 0.13, None),
    "mlp": ({"model": "mlp", "n_hidden": 500, "n_out": 10}, 20, 0.01, 1234),
    "lenet": ({"model": "lenet5", "nkerns": [20, 50], "n_hidden": 500, "n_out": 10}, 500, 0.1,
              23455),
}


def build(name, datasets, fused):
    arch, batch_size, learning_rate, seed = MODELS[name]
    arch = dict(arch)
    if arch["model"] == "lenet5":
        arch["batch_size"] = batch_size
    else:
        arch["n_in"] = datasets[0][0].get_value(borrow=True).shape[1]
    rng = numpy.random.RandomState(seed) if seed is not None else None
    x, y = T.matrix("x"), T.ivector("y")
    model = registry.build(arch, rng, x)
    cost = model.negative_log_likelihood(y)
    if name == "mlp":
        cost = cost + 0.0 * model.L1 + 0.0001 * model.L2_sqr  # test_mlp's defaults
    return CompiledModel(x, y, cost, model.y_pred, model.params,
                         sgd(cost, model.params, learning_rate), datasets, batch_size, fused=fused)


def measure(name, datasets, fused, n_batches):
    start = timeit.default_timer()
    compiled = build(name, datasets, fused)
    n_batches = min(n_batches or compiled.n_train_batches, compiled.n_train_batches - 1)
    compiled.train_minibatches(0, 1)
    if fused:
        compiled.train_minibatches(1, n_batches)  # compile this span length
    compiled.validation_loss()
    compile_s = timeit.default_timer() - start
    start = timeit.default_timer()
    compiled.train_minibatches(1, n_batches)
    train_s = (timeit.default_timer() - start) * compiled.n_train_batches / n_batches
    start = timeit.default_timer()
    compiled.validation_loss()
    valid_s = timeit.default_timer() - start
    return compile_s, train_s * 1000, valid_s * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--modes", nargs="+", default=None, help="default: every mode available")
    parser.add_argument("--floatX", default="float64", choices=engine.FLOATX)
    parser.add_argument("--fused", action="store_true", help="time fused spans (one call)")
    parser.add_argument("--batches", type=int, default=None,
                        help="minibatches timed per model (default: one epoch)")
    args = parser.parse_args()
    engine.set_floatX(args.floatX)
    modes = args.modes or [m for m in engine.modes() if m != "jax" or _has_jax()]
    datasets = data.load_shared()
    print(f"engine {engine.name()} {engine.version()}, floatX {args.floatX}, "
          f"{'fused' if args.fused else 'one call per minibatch'}")
    print(f"{'model':8} {'mode':6} {'compile s':>10} {'ms/epoch':>10} {'valid ms':>9}")
    rows = {}
    for name in args.models:
        for mode in modes:
            engine.set_mode(mode)
            compile_s, epoch_ms, valid_ms = measure(name, datasets, args.fused, args.batches)
            rows[name, mode] = epoch_ms
            print(f"{name:8} {mode:6} {compile_s:10.1f} {epoch_ms:10.0f} {valid_ms:9.0f}",
                  flush=True)
    if "logreg" in args.models:
        print("\nms/epoch relative to the logistic regression in the same mode:")
        for (name, mode), epoch_ms in rows.items():
            print(f"{name:8} {mode:6} {epoch_ms / rows['logreg', mode]:8.1f}x")


def _has_jax():
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
