#!/usr/bin/env python
"""The LSTM tutorial (IMDB review sentiment) from the command line: `python scripts/lstm.py -h`.

As the tutorial's ``python lstm.py``, it trains with ``max_epochs=100, test_size=500`` and the
other defaults of ``train_lstm``; every argument of ``train_lstm`` is a flag.
"""

import argparse
import inspect
import logging
import sys

# the tutorial's __main__: train_lstm(max_epochs=100, test_size=500)
MAIN_DEFAULTS = {"max_epochs": 100, "test_size": 500}
HELP = {
    "data_path": "imdb.pkl (the tutorial's file) or an .npz built by "
                 "dltut.tutorials.imdb_preprocess",
    "optimizer": "sgd, adadelta or rmsprop",
    "saveto": "where the best model is written ('' for nowhere)",
    "reload_model": "a model file (.npz) to start from",
    "use_dropout": "dropout on the pooled LSTM states (--no-use-dropout: none)",
    "floatX": "float32 or float64",
    "mode": "c or numba (JAX cannot compile the variable-length minibatches)",
    "checkpoint": "write the training state there (.npz) every --checkpoint-every epochs",
    "resume": "go on from this checkpoint",
}


def build_parser():
    from dltut.tutorials.lstm import train_lstm

    parser = argparse.ArgumentParser(
        prog="lstm.py", description="Train the LSTM tutorial on IMDB reviews (train_lstm).")
    for name, parameter in inspect.signature(train_lstm).parameters.items():
        if name == "callbacks":
            continue
        default = MAIN_DEFAULTS.get(name, parameter.default)
        if name == "optimizer":
            default = default.__name__
        flag = "--" + name.replace("_", "-")
        text = HELP.get(name, "")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                                help=f"{text} (default {default})")
        else:
            kind = type(default) if isinstance(default, (int, float)) else str
            parser.add_argument(flag, type=kind, default=default, metavar=name.upper(),
                                help=f"{text}{' ' if text else ''}(default {default})")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
    logging.getLogger("dltut").setLevel(logging.INFO)
    from dltut.data import DataError
    from dltut.saving import ModelFileError
    from dltut.tutorials.lstm import train_lstm

    try:
        train_lstm(**vars(args))
    except (DataError, ModelFileError, ValueError) as error:
        print(f"lstm.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
