#!/usr/bin/env python
"""The mlp tutorial from the command line: `python scripts/mlp.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("mlp"))
