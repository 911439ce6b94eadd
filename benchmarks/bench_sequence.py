"""The LSTM on made data of IMDB's size: dltut's default mode beside the original code on
theano-pymc, one epoch each, timed in one run (issue 28).

    python benchmarks/bench_sequence.py [--reviews 25000] [--floatX float32]
                                        [--theano .venv-theano/bin/python] [--modes jax c]

The made data is in the tutorial's imdb.pkl layout (two pickles: train, then test): ``--reviews``
training and as many test reviews, 2 to 99 words each (all kept by ``maxlen=100``), words drawn
from 12,000 (those from 10,000 on become 1, unknown, at ``n_words=10000``), random labels. Both
sides call ``train_lstm(max_epochs=1, test_size=500, saveto='')`` (the original's ``__main__``
settings, one epoch; the tutorial's other defaults: ``dim_proj=128``, ``batch_size=16``,
``validFreq=370``, adadelta with dropout), each in a process of its own, and print the
tutorial's ``Training took`` seconds (the training loop, its validations included; the
original compiles before it, dltut's JAX mode inside it, at the first minibatch of each shape,
and says how long that took). The original is lisa-lab/DeepLearningTutorials' code/lstm.py and code/imdb.py from the
local mirror (``bench_cpu.ORIGINAL_REPOSITORY``), with the two patches tests/test_lstm.py names
(Python 2's list from zip, theano-pymc's ``MRG_RandomStream``), on theano-pymc (floatX as
``--floatX``, one OpenBLAS thread, ``six`` installed there for imdb.py; Theano's Cython scan does
not build on Python 3.11, so its Python scan runs). dltut runs each mode twice: first in empty
compile caches (a new user's first run), then again (warm: its compiled programs on disk).
Not part of the tests.
"""

import argparse
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cpu import ORIGINAL_REPOSITORY, cpu_header, theano_environment  # noqa: E402

SETTINGS = dict(max_epochs=1, test_size=500, saveto="")

ORIGINAL_CALL = f"""
import sys
sys.path.insert(0, "code")
sys.modules["theano.scan.scan_perform_ext"] = None  # its Cython scan does not build on 3.11
import lstm
lstm.train_lstm(**{SETTINGS!r})
"""

DLTUT_CALL = f"""
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
from dltut.tutorials import lstm
lstm.train_lstm(**{SETTINGS!r}, data_path="imdb.pkl", mode=MODE)
"""


def write_made_imdb(path, reviews, seed=1234):
    rng = numpy.random.RandomState(seed)

    def split():
        lengths = rng.randint(2, 100, size=reviews)
        return ([[int(w) for w in rng.randint(2, 12000, size=n)] for n in lengths],
                [int(label) for label in rng.randint(0, 2, size=reviews)])

    with open(path, "wb") as file:
        pickle.dump(split(), file, 2)
        pickle.dump(split(), file, 2)


def original_folder(folder):
    (folder / "code").mkdir(parents=True)
    for name in ("lstm.py", "imdb.py"):
        text = subprocess.run(["git", f"--git-dir={ORIGINAL_REPOSITORY}", "show",
                               f"HEAD:code/{name}"], capture_output=True, text=True,
                              check=True).stdout
        text = text.replace("MRG_RandomStreams as RandomStreams",
                            "MRG_RandomStream as RandomStreams")
        text = text.replace("return zip(range(len(minibatches)), minibatches)",
                            "return list(zip(range(len(minibatches)), minibatches))")
        (folder / "code" / name).write_text(text)


def timed(command, env, cwd):
    """``(training seconds, compiling seconds of them, the final Train line)`` of a run, or
    ``(None, None, its error)``."""
    run = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    found = re.findall(r"Training took ([\d.]+)s", run.stdout + run.stderr)
    if run.returncode != 0 or not found:
        return None, None, (run.stderr.strip().splitlines() or ["no output"])[-1][-160:]
    compiling = re.findall(r"shapes compiled in ([\d.]+)s", run.stdout)
    last = [ln for ln in run.stdout.splitlines() if ln.startswith("Train ")][-1:]
    return float(found[-1]), float(compiling[-1]) if compiling else 0.0, " ".join(last)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=25000)
    parser.add_argument("--floatX", default="float32", choices=("float32", "float64"))
    parser.add_argument("--theano", default=str(ROOT / ".venv-theano" / "bin" / "python"))
    parser.add_argument("--modes", nargs="+", default=["jax", "c"])
    args = parser.parse_args()
    print(cpu_header())
    print(f"made imdb.pkl: {args.reviews} training and test reviews of 2-99 words; "
          f"train_lstm({', '.join(f'{k}={v!r}' for k, v in SETTINGS.items())}), floatX "
          f"{args.floatX}\n")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_made_imdb(tmp / "imdb.pkl", args.reviews)
        theano = Path(args.theano)
        if theano.is_file():
            original_folder(tmp / "original")
            os.link(tmp / "imdb.pkl", tmp / "original" / "imdb.pkl")
            env = dict(theano_environment(tmp / "theano-cache", theano), OPENBLAS_NUM_THREADS="1")
            env["THEANO_FLAGS"] += f",floatX={args.floatX}"
            times["original"] = timed([str(theano), "-c", ORIGINAL_CALL], env, tmp / "original")
            print(f"original (theano-pymc): {times['original']}", flush=True)
        for mode in args.modes:
            env = dict(os.environ, DLTUT_CACHE=str(tmp / f"cache-{mode}"), PYTHONPATH=str(ROOT),
                       PYTENSOR_FLAGS=f"floatX={args.floatX},compiledir={tmp}/pytensor-{mode}",
                       OPENBLAS_NUM_THREADS="1")
            call = DLTUT_CALL.replace("MODE", repr(mode))
            # cold (empty caches), then warm: the same command again, its compiles cached
            for run in ("cold", "warm"):
                times[f"{mode}, {run}"] = timed([sys.executable, "-c", call], env, tmp)
                print(f"dltut {mode}, {run}: {times[f'{mode}, {run}']}", flush=True)
    print(f"\n{'':22} {'training s':>10} {'compiling s':>11} {'ratio':>7} "
          f"{'ratio less compiling':>20}")
    base = times.get("original", (None,))[0]
    for name, (seconds, compiling, _) in times.items():
        label = "original (theano)" if name == "original" else f"dltut {name}"
        if not seconds:
            print(f"{label:22} {'failed':>10}")
            continue
        ratio = f"{base / seconds:6.2f}x" if base else f"{'-':>7}"
        less = f"{base / (seconds - compiling):19.2f}x" if base else f"{'-':>20}"
        print(f"{label:22} {seconds:10.1f} {compiling:11.1f} {ratio} {less}")
    print("\nratio: the original's training seconds / these (> 1: faster than the original); "
          "compiling: the first call of each minibatch shape in JAX mode, inside the clock (the "
          "original compiles before its clock starts).")


if __name__ == "__main__":
    main()
