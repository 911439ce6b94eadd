#!/usr/bin/env python
"""The slot-filling tutorial (an Elman network on ATIS) from the command line:
`python scripts/rnnslu.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("rnnslu"))
