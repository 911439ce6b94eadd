"""``dltut COMMAND`` (also ``python -m dltut COMMAND``): the tutorials from any install.

* ``list``: the tutorials, one line each.
* ``run TUTORIAL [FLAGS]``: train (or sample) as ``scripts/TUTORIAL.py`` does, the same flags,
  log lines and exit codes; ``dltut run TUTORIAL --help`` lists its flags.
* ``predict TUTORIAL [FLAGS]``: the predicted labels of the first test images with the model a run
  of a supervised tutorial wrote (``--out``).
* ``sweep TUTORIAL --HYPERPARAMETER V1 V2 ...``: a supervised tutorial once per point of a grid,
  with a table of the results (``dltut.sweep``).
* ``suite [--quick | --full]``: run the tutorials and write a reproduction report: each printed
  number beside the original code's (``--quick``) or the published figures (``--full``).
* ``info``: engine, compile mode, floatX, BLAS, numba, JAX and GPU; how to get what is missing.
* ``notebooks DIR``: copy the example notebooks (one per tutorial) into DIR, for JupyterLab.
"""

import argparse
import sys

from dltut import catalogue

# the commands that take a tutorial, then its own flags (parsed by dltut.cli)
_TUTORIAL_COMMANDS = {
    "run": "train (or sample) a tutorial, as scripts/TUTORIAL.py does",
    "predict": "predict the first test images with a supervised tutorial's saved model",
    "sweep": "run a supervised tutorial over a grid of hyperparameters and seeds",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dltut", description="The Deep Learning Tutorials on PyTensor: list, run, predict, "
        "sweep, check against the original code (suite), describe the installation (info) and "
        "copy the notebooks (notebooks).",
        epilog="dltut COMMAND --help describes a command; dltut run TUTORIAL --help lists a "
               "tutorial's flags.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="the tutorials, one line each",
                        description="List the tutorials: name, original file, what it trains.")
    for command, text in _TUTORIAL_COMMANDS.items():
        names = catalogue.names(supervised=True) if command != "run" else catalogue.names()
        sub = commands.add_parser(
            command, help=text, description=f"{text[0].upper()}{text[1:]}; dltut {command} "
            "TUTORIAL --help lists the tutorial's flags.")
        sub.add_argument("tutorial", choices=names, help=f"one of {', '.join(names)}")
        sub.add_argument("flags", nargs="*", metavar="FLAGS", help="the tutorial's flags")
    suite = commands.add_parser(
        "suite", help="run the tutorials and write a reproduction report",
        description="Run the tutorials and write a reproduction report (Markdown): each "
                    "tutorial's printed numbers beside the original code's or the published "
                    "figures, and its time beside code/test.py's 2012 reference times.")
    from dltut import suite as suite_module

    suite_module.add_arguments(suite)
    info = commands.add_parser(
        "info", help="what dltut runs on: engine, mode, floatX, BLAS, JAX, GPU",
        description="Describe the installation: engine, compile mode, floatX, BLAS, numba, JAX, "
                    "GPU and the CPU settings chosen.")
    info.add_argument("--verbose", action="store_true",
                      help="list every remembered XLA program and its measured setting")
    notebooks = commands.add_parser(
        "notebooks", help="copy the example notebooks into a folder, for JupyterLab",
        description="Copy the example notebooks, one per tutorial, into DIR (created if "
                    "missing), to open with jupyter lab DIR (pip install 'dltut[notebooks]'). "
                    "A notebook already there is not overwritten without --force.")
    notebooks.add_argument("folder", metavar="DIR", help="where to copy the notebooks")
    notebooks.add_argument("--force", action="store_true",
                           help="overwrite notebooks of the same names already in DIR")
    return parser


def main(argv=None):
    """Run the ``dltut`` command with ``argv`` (default: the process's); the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # a tutorial command hands everything after the tutorial's name to that tutorial's parser
    if len(argv) >= 2 and argv[0] in _TUTORIAL_COMMANDS and not argv[1].startswith("-"):
        command, tutorial, flags = argv[0], argv[1], argv[2:]
        if command == "sweep" and tutorial in catalogue.names(supervised=True):
            from dltut.cli import sweep_main

            return sweep_main(tutorial, flags)
        if command == "run" and tutorial in catalogue.TUTORIALS:
            from dltut.cli import main as run_main

            return run_main(tutorial, flags, prog=f"dltut run {tutorial}")
        if command == "predict" and tutorial in catalogue.names(supervised=True):
            from dltut.cli import main as run_main

            return run_main(tutorial, ["predict", *flags], prog=f"dltut predict {tutorial}")
    args = build_parser().parse_args(argv)  # help, and the errors of what is left
    if args.command == "list":
        return list_tutorials()
    if args.command == "info":
        from dltut import info

        return info.main(verbose=args.verbose)
    if args.command == "notebooks":
        from dltut import notebooks

        try:
            return notebooks.main(args.folder, force=args.force)
        except (OSError, ValueError) as error:
            print(f"dltut notebooks: error: {error}", file=sys.stderr)  # one line, as dltut run
            return 2
    if args.command == "suite":
        from dltut import suite

        return suite.main(args)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse allows no other


def list_tutorials(stream=None):
    """Print one line per tutorial: its name, the original file and what it trains."""
    stream = stream or sys.stdout
    width = max(map(len, catalogue.TUTORIALS))
    path_width = max(len(tutorial.original) for tutorial in catalogue.TUTORIALS.values())
    for tutorial in catalogue.TUTORIALS.values():
        print(f"{tutorial.name:<{width}}  {tutorial.original:<{path_width}}  {tutorial.summary}",
              file=stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
