#!/usr/bin/env python
"""The SdA tutorial (stacked denoising autoencoders) from the command line: `python scripts/SdA.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("SdA"))
