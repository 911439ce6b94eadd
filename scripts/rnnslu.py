#!/usr/bin/env python
"""The slot-filling tutorial (an Elman network on ATIS) from the command line:
`python scripts/rnnslu.py --help`.

Its settings are the tutorial's param dict, so it has its own flags rather than dltut.cli's (whose
flags are the keyword arguments of a tutorial function).
"""

import argparse
import logging
import sys

from dltut import engine
from dltut.epochs import Interrupted

DEFAULT_PARAM = {  # dltut.tutorials.rnnslu.DEFAULT_PARAM, without importing the engine yet
    "fold": 3, "lr": 0.0970806646812754, "win": 7, "nhidden": 200, "seed": 345,
    "emb_dimension": 50, "nepochs": 60,
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnslu.py",
        description="Train the Elman network of the tutorial rnnslu.py on an ATIS fold: F1 of "
                    "the validation and test slots (conlleval) after each epoch, NEW BEST lines "
                    "and the BEST RESULT.")
    for name, default in DEFAULT_PARAM.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                            metavar=name.upper(), help=f"default {default}")
    parser.add_argument("--no-decay", dest="decay", action="store_false",
                        help="keep the learning rate (default: halve it after 10 epochs without "
                             "a new best)")
    parser.add_argument("--savemodel", action="store_true",
                        help="write the best model to OUTPUT_FOLDER/model.npz")
    parser.add_argument("--dataset", default=None,
                        help="the folder of atis.fold0-4.pkl.gz, or one fold file (default: "
                             "$ATISDATA, else ./data)")
    parser.add_argument("--toy", action="store_true",
                        help="train on a made fold (rnnslu.toy_fold: 300 requests, 7 slot labels) "
                             "instead of ATIS")
    parser.add_argument("--output-folder", default="rnnslu",
                        help="where conlleval's input files (current/best.valid/test.txt) and "
                             "the model go (default %(default)s)")
    parser.add_argument("--floatX", choices=engine.FLOATX, default=None,
                        help="float dtype (default: float32, unless the engine's flags set it)")
    parser.add_argument("--mode", choices=("c", "numba"), default=None,
                        help="compile mode (default: c; JAX mode cannot compile the scan)")
    parser.add_argument("--engine", choices=engine.ENGINES, default=None,
                        help="pytensor (default) or theano; also DLTUT_ENGINE")
    parser.add_argument("--checkpoint", default=None,
                        help="write the run's state there every --checkpoint-every epochs and "
                             "at the end")
    parser.add_argument("--checkpoint-every", type=int, default=1, metavar="EPOCHS",
                        help="epochs between checkpoints (default %(default)s)")
    parser.add_argument("--resume", default=None,
                        help="go on from this checkpoint (same settings; --nepochs may differ)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
    logging.getLogger("dltut").setLevel(logging.INFO)
    try:
        if args.engine is not None:
            engine.use(args.engine)
        from dltut.tutorials import rnnslu

        param = {name: getattr(args, name) for name in DEFAULT_PARAM}
        param.update(decay=args.decay, savemodel=args.savemodel)
        dataset = rnnslu.toy_fold(300, 60, 60) if args.toy else args.dataset
        rnnslu.main(param, dataset=dataset, output_folder=args.output_folder,
                    floatX=args.floatX, mode=args.mode, checkpoint=args.checkpoint,
                    checkpoint_every=args.checkpoint_every, resume=args.resume)
    except Interrupted as stopped:
        print(f"rnnslu.py: {stopped}", file=sys.stderr)
        return 130  # as a shell reports a command stopped by Ctrl-C
    except (ValueError, OSError, ImportError, RuntimeError) as error:
        print(f"rnnslu.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
