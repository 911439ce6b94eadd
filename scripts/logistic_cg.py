#!/usr/bin/env python
"""The logistic_cg tutorial (conjugate gradients) from the command line: `python scripts/logistic_cg.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("logistic_cg"))
