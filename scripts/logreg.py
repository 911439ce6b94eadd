#!/usr/bin/env python
"""The logreg tutorial from the command line: `python scripts/logreg.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("logreg"))
