#!/usr/bin/env python
"""The HMC tutorial (Hybrid Monte Carlo on a 5-dimensional Gaussian) from the command line:
`python scripts/hmc.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("hmc"))
