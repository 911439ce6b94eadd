"""The command line shared by ``scripts/logreg.py``, ``scripts/mlp.py`` and ``scripts/lenet.py``.

``python scripts/logreg.py [train] [--learning-rate ...]`` runs the tutorial and writes its best
model to ``--out``; ``python scripts/logreg.py predict`` prints the predicted labels of the first
test images with that model, like the tutorial's ``predict()``. Defaults come from the tutorial
functions' signatures, so the two cannot disagree.
"""

import argparse
import inspect
import logging
import os
import sys

from dltut import engine

# script name -> (tutorial function, its flags beyond the common ones)
TUTORIALS = {
    "logreg": ("sgd_optimization_mnist", ()),
    "mlp": ("test_mlp", ("L1_reg", "L2_reg", "n_hidden")),
}
COMMON = ("learning_rate", "n_epochs", "batch_size", "patience")
_TYPES = {"L1_reg": float, "L2_reg": float, "learning_rate": float}


def _flag(name):
    return "--" + name.replace("_", "-")


def build_parser(script):
    function_name, extra = TUTORIALS[script]
    defaults = _tutorial_defaults(function_name)
    parser = argparse.ArgumentParser(
        prog=f"{script}.py",
        description=f"Train the {script} tutorial on MNIST ({function_name}) or predict with it.",
    )
    parser.add_argument("command", nargs="?", choices=("train", "predict"), default="train",
                        help="train (default) or predict the first test images with --out's model")
    for name in COMMON + extra:
        parser.add_argument(_flag(name), type=_TYPES.get(name, int), default=defaults[name],
                            metavar=name.upper(), help=f"default {defaults[name]}")
    parser.add_argument("--dataset", default=None,
                        help="MNIST as a folder of IDX files, the tutorial's mnist.pkl.gz or an .npz "
                             "(default: the copy shipped in data/mnist)")
    parser.add_argument("--floatX", choices=engine.FLOATX, default=None,
                        help="float dtype (default: the engine's config, float64 unless set)")
    parser.add_argument("--mode", choices=engine.MODES, default=None,
                        help="compile mode (default: numba on PyTensor)")
    parser.add_argument("--fused", action=argparse.BooleanOptionalAction, default=None,
                        help="train each span between validations in one compiled call "
                             "(default: on in JAX mode, off in the C and Numba modes)")
    parser.add_argument("--out", default=os.path.join("out", f"{script}.npz"),
                        help="where the best model is written (default %(default)s)")
    parser.add_argument("--count", type=int, default=10,
                        help="predict: how many test images (default %(default)s)")
    return parser


def _tutorial_defaults(function_name):
    from dltut import tutorials

    signature = inspect.signature(getattr(tutorials, function_name))
    return {name: p.default for name, p in signature.parameters.items()}


def main(script, argv=None):
    """Run a tutorial script; returns the exit status."""
    args = build_parser(script).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        if args.command == "predict":
            return _predict(args)
        return _train(script, args)
    except (ValueError, OSError, ImportError) as error:
        print(f"{script}.py: error: {error}", file=sys.stderr)
        return 2


def _train(script, args):
    from dltut import tutorials

    function_name, extra = TUTORIALS[script]
    kwargs = {name: getattr(args, name) for name in COMMON + extra}
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    getattr(tutorials, function_name)(
        dataset=args.dataset, out=args.out, floatX=args.floatX, mode=args.mode,
        fused=args.fused, **kwargs
    )
    return 0


def _predict(args):
    from dltut import data, saving, tutorials

    tutorials.configure(args.floatX, args.mode)
    model = saving.load_model(args.out)
    _, _, (test_x, _) = data.load_data(args.dataset)
    predicted = model.predict(test_x[: args.count])
    print(f"Predicted values for the first {args.count} examples in test set:")
    print(predicted)
    return 0
