#!/usr/bin/env python
"""The FCN-8 tutorial (polyps in colonoscopy frames) from the command line:
`python scripts/fcn8.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("fcn8"))
