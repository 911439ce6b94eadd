#!/usr/bin/env python
"""The RNN-RBM tutorial (polyphonic music, the Nottingham folk tunes) from the command line:
`python scripts/rnnrbm.py --help`."""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("rnnrbm"))
