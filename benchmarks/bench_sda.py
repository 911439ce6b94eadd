"""How long the tutorial's whole default SdA run takes: measured per phase and projected, or run.

    python benchmarks/bench_sda.py [--mode jax] [--floatX float32] [--batches 2000]
    python benchmarks/bench_sda.py --whole [--floatX float32]      # the whole run: hours

The default run (``test_SdA()``: batch_size=1, 15 pretraining epochs per layer, fine-tuning with
patience ``10 * n_train_batches``) makes 2,250,000 pretraining updates and 50,000 fine-tuning
updates an epoch. Without ``--whole`` each phase (the three layers' pretraining, fine-tuning, one
validation pass) is compiled as ``test_SdA`` compiles it, timed over ``--batches`` updates of
batch size 1 and scaled to the whole run; fine-tuning is projected for ``--finetune-epochs``
epochs (the tutorial's published run stopped after 36). The same fine-tuning step is also timed
in NumPy and in a PyTorch eager loop (one thread each, like dltut) as references. With
``--whole`` the real run is timed and its final errors printed beside the published 1.39 %
validation / 1.30 % test. Not part of the tests.
"""

import argparse
import logging
import sys
import timeit

import numpy

from dltut import data, fitting
from dltut.compiled import CompiledModel
from dltut.engine import T
from dltut.tutorials.SdA import CORRUPTION_LEVELS, HIDDEN_LAYERS_SIZES, SdA
from dltut.updates import sgd

PRETRAINING_EPOCHS = 15  # test_SdA's defaults
PRETRAIN_LR, FINETUNE_LR = 0.001, 0.1
PUBLISHED = {"validation": 1.39, "test": 1.30, "finetune_epochs": 36}  # doc/SdA.txt


def seconds_per_update(train, count):
    """Seconds per update of ``train`` (a CompiledCost or CompiledModel), over ``count`` updates
    after one call of the same length (JAX compiles it there)."""
    train.train_minibatches(0, count)
    start = timeit.default_timer()
    train.train_minibatches(0, count)
    return (timeit.default_timer() - start) / count


def measure(count):
    """Seconds per update of each phase, and of one validation pass."""
    datasets = data.load_shared(None)
    x = T.matrix("x")
    sda = SdA(numpy.random.RandomState(89677), input=x, n_ins=784,
              hidden_layers_sizes=HIDDEN_LAYERS_SIZES, n_outs=10)
    times = {}
    for i, (fn, corruption) in enumerate(zip(sda.pretraining_functions(datasets[0][0], 1),
                                             CORRUPTION_LEVELS)):
        fn.set(corruption, PRETRAIN_LR)
        times[f"pretraining layer {i}"] = seconds_per_update(fn.compiled, count)
    y = T.ivector("y")
    cost = sda.negative_log_likelihood(y)
    model = CompiledModel(x, y, cost, sda.y_pred, sda.params, sgd(cost, sda.params, FINETUNE_LR),
                          datasets, 1)
    times["fine-tuning"] = seconds_per_update(model, count)
    model.validation_loss()
    start = timeit.default_timer()
    model.validation_loss()
    times["validation pass"] = timeit.default_timer() - start
    return times


def numpy_step_seconds(dtype, count):
    """The fine-tuning update at batch size 1 in NumPy: forward, backward, SGD, by hand."""
    rng = numpy.random.RandomState(0)
    sizes = (784,) + HIDDEN_LAYERS_SIZES + (10,)
    Ws = [rng.uniform(-0.1, 0.1, (a, b)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    bs = [numpy.zeros(b, dtype) for b in sizes[1:]]
    X = rng.uniform(0, 1, (count, 784)).astype(dtype)
    Y = rng.randint(0, 10, count)
    start = timeit.default_timer()
    for x, y in zip(X, Y):
        hs = [x[None]]
        for W, b in zip(Ws[:-1], bs[:-1]):
            hs.append(1.0 / (1.0 + numpy.exp(-(hs[-1] @ W + b))))
        a = hs[-1] @ Ws[-1] + bs[-1]
        delta = numpy.exp(a - a.max())
        delta /= delta.sum()
        delta[0, y] -= 1
        for i in range(len(Ws) - 1, -1, -1):
            grad_W, grad_b = numpy.outer(hs[i], delta), delta[0]
            if i:
                delta = (delta @ Ws[i].T) * hs[i] * (1 - hs[i])
            Ws[i] -= FINETUNE_LR * grad_W
            bs[i] -= FINETUNE_LR * grad_b
    return (timeit.default_timer() - start) / count


def torch_step_seconds(dtype, count):
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
    X = torch.rand(count, 784, dtype=getattr(torch, dtype))
    Y = torch.randint(0, 10, (count,))
    start = timeit.default_timer()
    for i in range(count):
        h = X[i:i + 1]
        for layer in layers[:-1]:
            h = torch.sigmoid(layer(h))
        loss = torch.nn.functional.cross_entropy(layers[-1](h), Y[i:i + 1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (timeit.default_timer() - start) / count


def project(times, finetune_epochs, n_train=50_000):
    pretraining = sum(times[f"pretraining layer {i}"] for i in range(3)) * n_train \
        * PRETRAINING_EPOCHS
    finetuning = (times["fine-tuning"] * n_train + times["validation pass"]) * finetune_epochs
    return pretraining, finetuning


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default=None)
    parser.add_argument("--floatX", default="float32")
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--finetune-epochs", type=int, default=PUBLISHED["finetune_epochs"])
    parser.add_argument("--whole", action="store_true")
    args = parser.parse_args(argv)
    fitting.configure(floatX=args.floatX, mode=args.mode)
    if args.whole:
        import dltut

        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
        logging.getLogger("dltut").setLevel(logging.INFO)
        start = timeit.default_timer()
        result = dltut.test_SdA(floatX=args.floatX, mode=args.mode)
        wall = timeit.default_timer() - start
        print(f"whole run: {wall / 60:.1f} min wall, pretraining {result.pretraining_time / 60:.1f}"
              f" min, fine-tuning {result.elapsed / 60:.1f} min ({result.epochs} epochs)")
        print(f"best validation {result.best_validation_loss * 100:.2f} % (published "
              f"{PUBLISHED['validation']} %), test {result.test_score * 100:.2f} % (published "
              f"{PUBLISHED['test']} %)")
        return
    times = measure(args.batches)
    for phase, seconds in times.items():
        unit = "s" if phase == "validation pass" else "ms per update"
        print(f"{phase:20s} {seconds * (1 if unit == 's' else 1e3):9.3f} {unit}")
    pretraining, finetuning = project(times, args.finetune_epochs)
    print(f"projected whole default run ({args.floatX}): pretraining {pretraining / 60:.0f} min, "
          f"fine-tuning {args.finetune_epochs} epochs {finetuning / 60:.0f} min, total "
          f"{(pretraining + finetuning) / 3600:.1f} h")
    step = times["fine-tuning"]
    for name, seconds in (("NumPy", numpy_step_seconds(args.floatX, args.batches)),
                          ("PyTorch eager", torch_step_seconds(args.floatX, args.batches))):
        if seconds is not None:
            print(f"fine-tuning update in {name}: {seconds * 1e3:.3f} ms ({seconds / step:.2f}x "
                  "dltut's time)")


if __name__ == "__main__":
    main()
