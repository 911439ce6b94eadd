"""``python -m dltut COMMAND``: commands about the installation (the tutorials are in scripts/).

* ``info``: engine, compile mode, floatX, BLAS, numba, JAX and GPU; how to get what is missing.
"""

import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m dltut", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("info", help="what dltut runs on: engine, mode, floatX, BLAS, JAX, GPU")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "info":
        from dltut import info

        return info.main()
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse allows no other


if __name__ == "__main__":
    sys.exit(main())
