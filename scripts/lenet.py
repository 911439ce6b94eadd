#!/usr/bin/env python
"""The lenet tutorial from the command line: `python scripts/lenet.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("lenet"))
