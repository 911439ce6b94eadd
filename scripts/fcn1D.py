#!/usr/bin/env python
"""The 1-D FCN tutorial (cortical layers along rays of BigBrain) from the command line:
`python scripts/fcn1D.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("fcn1D"))
