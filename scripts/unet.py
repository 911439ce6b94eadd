#!/usr/bin/env python
"""The U-Net tutorial (the ISBI 2012 EM stacks) from the command line:
`python scripts/unet.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("unet"))
