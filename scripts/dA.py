#!/usr/bin/env python
"""The dA tutorial (denoising autoencoders) from the command line: `python scripts/dA.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("dA"))
