#!/usr/bin/env python
"""The cA tutorial (contractive autoencoder) from the command line: `python scripts/cA.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("cA"))
