#!/usr/bin/env python
"""The rbm tutorial (restricted Boltzmann machines) from the command line: `python scripts/rbm.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("rbm"))
