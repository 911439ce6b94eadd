#!/usr/bin/env python
"""The LSTM tutorial (IMDB review sentiment) from the command line: `python scripts/lstm.py -h`.

As the tutorial's ``python lstm.py``, it trains with ``max_epochs=100, test_size=500`` and the
other defaults of ``train_lstm``; every argument of ``train_lstm`` is a flag.
"""

import sys

from dltut.cli import main

if __name__ == "__main__":
    sys.exit(main("lstm"))
