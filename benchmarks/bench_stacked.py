"""How long the whole default SdA and DBN runs take: measured per phase and projected, or run.

    python benchmarks/bench_stacked.py [--tutorial SdA|DBN] [--mode jax] [--floatX float32]
                                       [--batches 2000]
    python benchmarks/bench_stacked.py --tutorial SdA --whole   # the whole run: 52 min (DBN: 2 h)

The default SdA run (``test_SdA()``: batch_size=1, 15 pretraining epochs per layer, patience
``10 * n_train_batches``) makes 50,000 updates an epoch; the default DBN run (``test_DBN()``:
batch_size=10, CD-1, 100 pretraining epochs per layer, patience ``4 * n_train_batches``) 5,000.
Without ``--whole`` each phase (the three layers' pretraining, fine-tuning, one validation pass)
is compiled as the tutorial compiles it, timed over ``--batches`` updates and scaled to the whole
run; fine-tuning is projected for ``--finetune-epochs`` epochs (default: the epochs of the
tutorial's published run, 36 for the SdA and 46 for the DBN). The same fine-tuning update is also
timed in NumPy and in a PyTorch eager loop (one thread each, like dltut) as references. With
``--whole`` the real run is timed and its final errors printed beside the published ones (SdA
1.39 % validation / 1.30 % test, DBN 1.27 % / 1.34 %). Not part of the tests.
"""

import argparse
import logging
import sys
import timeit

import numpy

from dltut import data, fitting
from dltut.compiled import CompiledModel
from dltut.engine import T
from dltut.stacked import layer_training
from dltut.tutorials.DBN import DBN
from dltut.tutorials.SdA import CORRUPTION_LEVELS, HIDDEN_LAYERS_SIZES, SdA
from dltut.updates import sgd

FINETUNE_LR = 0.1
# tutorial -> its defaults and what its document publishes (doc/SdA.txt, doc/DBN.txt)
TUTORIALS = {
    "SdA": {"seed": 89677, "batch_size": 1, "pretraining_epochs": 15, "pretrain_lr": 0.001,
            "validation": 1.39, "test": 1.30, "finetune_epochs": 36},
    "DBN": {"seed": 123, "batch_size": 10, "pretraining_epochs": 100, "pretrain_lr": 0.01,
            "validation": 1.27, "test": 1.34, "finetune_epochs": 46},
}


def seconds_per_update(train, count):
    """Seconds per update of ``train`` (a trainer.Minibatches or CompiledModel), over ``count``
    updates after one call of the same length (JAX compiles it there)."""
    train.train_minibatches(0, count)
    start = timeit.default_timer()
    train.train_minibatches(0, count)
    return (timeit.default_timer() - start) / count


def measure(tutorial, count):
    """Seconds per update of each phase, and of one validation pass."""
    defaults = TUTORIALS[tutorial]
    batch_size = defaults["batch_size"]
    datasets = data.load_shared(None)
    x = T.matrix("x")
    rng = numpy.random.RandomState(defaults["seed"])
    times = {}
    if tutorial == "SdA":
        network = SdA(rng, input=x, n_ins=784, hidden_layers_sizes=HIDDEN_LAYERS_SIZES, n_outs=10)
        functions = network.pretraining_functions(datasets[0][0], batch_size)
        settings = [{"corruption": level} for level in CORRUPTION_LEVELS]
    else:
        network = DBN(rng, input=x, n_ins=784, hidden_layers_sizes=HIDDEN_LAYERS_SIZES, n_outs=10)
        functions = network.pretraining_functions(datasets[0][0], batch_size, k=1)
        settings = [{}] * len(functions)
    layers = network.dA_layers if tutorial == "SdA" else network.rbm_layers
    n_train_batches = datasets[0][0].get_value(borrow=True).shape[0] // batch_size
    for i, (fn, values) in enumerate(zip(functions, settings)):
        train = layer_training(network, i, fn, {"lr": defaults["pretrain_lr"], **values},
                               n_train_batches, layers[i].params)
        times[f"pretraining layer {i}"] = seconds_per_update(train, count)
    y = T.ivector("y")
    cost = network.negative_log_likelihood(y)
    model = CompiledModel(x, y, cost, network.y_pred, network.params,
                          sgd(cost, network.params, FINETUNE_LR), datasets, batch_size)
    times["fine-tuning"] = seconds_per_update(model, count)
    model.validation_loss()
    start = timeit.default_timer()
    model.validation_loss()
    times["validation pass"] = timeit.default_timer() - start
    return times


def numpy_step_seconds(dtype, count, batch_size):
    """The fine-tuning update in NumPy: forward, backward, SGD, by hand."""
    rng = numpy.random.RandomState(0)
    sizes = (784,) + HIDDEN_LAYERS_SIZES + (10,)
    Ws = [rng.uniform(-0.1, 0.1, (a, b)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    bs = [numpy.zeros(b, dtype) for b in sizes[1:]]
    X = rng.uniform(0, 1, (count, batch_size, 784)).astype(dtype)
    Y = rng.randint(0, 10, (count, batch_size))
    start = timeit.default_timer()
    for x, y in zip(X, Y):
        hs = [x]
        for W, b in zip(Ws[:-1], bs[:-1]):
            hs.append(1.0 / (1.0 + numpy.exp(-(hs[-1] @ W + b))))
        a = hs[-1] @ Ws[-1] + bs[-1]
        delta = numpy.exp(a - a.max(axis=1, keepdims=True))
        delta /= delta.sum(axis=1, keepdims=True)
        delta[numpy.arange(batch_size), y] -= 1
        delta /= batch_size
        for i in range(len(Ws) - 1, -1, -1):
            grad_W, grad_b = hs[i].T @ delta, delta.sum(axis=0)
            if i:
                delta = (delta @ Ws[i].T) * hs[i] * (1 - hs[i])
            Ws[i] -= FINETUNE_LR * grad_W
            bs[i] -= FINETUNE_LR * grad_b
    return (timeit.default_timer() - start) / count


def torch_step_seconds(dtype, count, batch_size):
    """The same update in a PyTorch eager loop (None without PyTorch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    sizes = (784,) + HIDDEN_LAYERS_SIZES + (10,)
    layers = [torch.nn.Linear(a, b).to(getattr(torch, dtype)) for a, b in zip(sizes, sizes[1:])]
    params = [p for layer in layers for p in layer.parameters()]
    optimizer = torch.optim.SGD(params, lr=FINETUNE_LR)
    X = torch.rand(count * batch_size, 784, dtype=getattr(torch, dtype))
    Y = torch.randint(0, 10, (count * batch_size,))
    start = timeit.default_timer()
    for i in range(0, count * batch_size, batch_size):
        h = X[i:i + batch_size]
        for layer in layers[:-1]:
            h = torch.sigmoid(layer(h))
        loss = torch.nn.functional.cross_entropy(layers[-1](h), Y[i:i + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (timeit.default_timer() - start) / count


def project(tutorial, times, finetune_epochs, n_train=50_000):
    defaults = TUTORIALS[tutorial]
    n_train_batches = n_train // defaults["batch_size"]
    pretraining = sum(times[f"pretraining layer {i}"] for i in range(3)) * n_train_batches \
        * defaults["pretraining_epochs"]
    finetuning = (times["fine-tuning"] * n_train_batches + times["validation pass"]) \
        * finetune_epochs
    return pretraining, finetuning


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tutorial", choices=sorted(TUTORIALS), default="SdA")
    parser.add_argument("--mode", default=None)
    parser.add_argument("--floatX", default="float32")
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--finetune-epochs", type=int, default=None)
    parser.add_argument("--whole", action="store_true")
    args = parser.parse_args(argv)
    published = TUTORIALS[args.tutorial]
    finetune_epochs = args.finetune_epochs or published["finetune_epochs"]
    fitting.configure(floatX=args.floatX, mode=args.mode)
    if args.whole:
        import dltut

        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
        logging.getLogger("dltut").setLevel(logging.INFO)
        start = timeit.default_timer()
        run = dltut.test_SdA if args.tutorial == "SdA" else dltut.test_DBN
        result = run(floatX=args.floatX, mode=args.mode)
        wall = timeit.default_timer() - start
        print(f"whole run: {wall / 60:.1f} min wall, pretraining {result.pretraining_time / 60:.1f}"
              f" min, fine-tuning {result.elapsed / 60:.1f} min ({result.epochs} epochs)")
        print(f"best validation {result.best_validation_loss * 100:.2f} % (published "
              f"{published['validation']} %), test {result.test_score * 100:.2f} % (published "
              f"{published['test']} %)")
        return
    times = measure(args.tutorial, args.batches)
    for phase, seconds in times.items():
        unit = "s" if phase == "validation pass" else "ms per update"
        print(f"{phase:20s} {seconds * (1 if unit == 's' else 1e3):9.3f} {unit}")
    pretraining, finetuning = project(args.tutorial, times, finetune_epochs)
    print(f"projected whole default {args.tutorial} run ({args.floatX}): pretraining "
          f"{pretraining / 60:.0f} min, fine-tuning {finetune_epochs} epochs "
          f"{finetuning / 60:.0f} min, total {(pretraining + finetuning) / 3600:.1f} h")
    step, batch_size = times["fine-tuning"], published["batch_size"]
    for name, seconds in (("NumPy", numpy_step_seconds(args.floatX, args.batches, batch_size)),
                          ("PyTorch eager",
                           torch_step_seconds(args.floatX, args.batches, batch_size))):
        if seconds is not None:
            print(f"fine-tuning update in {name}: {seconds * 1e3:.3f} ms ({seconds / step:.2f}x "
                  "dltut's time)")


if __name__ == "__main__":
    main()
