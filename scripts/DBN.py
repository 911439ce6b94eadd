#!/usr/bin/env python
"""The DBN tutorial (deep belief network) from the command line: `python scripts/DBN.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("DBN"))
