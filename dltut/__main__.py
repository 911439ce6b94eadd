"""``python -m dltut COMMAND``: commands about the installation and sweeps (the tutorials are in
scripts/).

* ``info``: engine, compile mode, floatX, BLAS, numba, JAX and GPU; how to get what is missing.
* ``sweep TUTORIAL --HYPERPARAMETER V1 V2 ...``: a tutorial run once per point of a grid, with a
  table of the results (``dltut.sweep``; ``python -m dltut sweep logreg --help``).
"""

import argparse
import sys


def build_parser():
    from dltut.cli import SUPERVISED

    parser = argparse.ArgumentParser(prog="python -m dltut", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("info", help="what dltut runs on: engine, mode, floatX, BLAS, JAX, GPU")
    sweep = commands.add_parser(
        "sweep", help="run a tutorial over a grid of hyperparameters and seeds",
        description="Run a tutorial over a grid of hyperparameters and seeds; "
                    "python -m dltut sweep TUTORIAL --help lists its flags.")
    sweep.add_argument("tutorial", choices=SUPERVISED)
    sweep.add_argument("arguments", nargs=argparse.REMAINDER,
                       help="the grid and the sweep's settings (TUTORIAL --help lists them)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "info":
        from dltut import info

        return info.main()
    if args.command == "sweep":
        from dltut.cli import sweep_main

        return sweep_main(args.tutorial, args.arguments)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse allows no other


if __name__ == "__main__":
    sys.exit(main())
