"""The sequence tutorials on made data of their datasets' sizes: dltut's default mode beside the
original code on theano-pymc, one epoch each, timed in one run (issues 28 and 29).

    python benchmarks/bench_sequence.py --original PATH [--tutorials lstm rnnslu rnnrbm] [--scale 1]
                                        [--reviews 25000] [--floatX float32]
                                        [--theano .venv-theano/bin/python] [--modes jax c]
                                        [--avx2]

Every run is a process of its own. The original is lisa-lab/DeepLearningTutorials' code from the
clone ``--original PATH`` names (without it only dltut runs) on theano-pymc (floatX as ``--floatX``, one
OpenBLAS thread; Theano's Cython scan does not build on Python 3.11, so its Python scan runs).
dltut runs each of its modes twice: first in empty compile caches (a new user's first run), then
again (warm: its compiled programs on disk). ``--scale`` multiplies every made data size (0.02
runs each tutorial in about four minutes, most of them compiling). Not part of the tests.

lstm: made data in the tutorial's imdb.pkl layout (two pickles: train, then test): ``--reviews``
training and as many test reviews, 2 to 99 words each (all kept by ``maxlen=100``), words drawn
from 12,000 (those from 10,000 on become 1, unknown, at ``n_words=10000``), random labels. Both
sides call ``train_lstm(max_epochs=1, test_size=500, saveto='')`` (the original's ``__main__``
settings, one epoch; the tutorial's other defaults: ``dim_proj=128``, ``batch_size=16``,
``validFreq=370``, adadelta with dropout) and print the tutorial's ``Training took`` seconds (the
training loop, its validations included; the original compiles before it, dltut's JAX mode
inside it, in a thread beside the training, and says how long the first calls of its shapes
took, waiting for their programs included). The original's
code/lstm.py and code/imdb.py carry the two patches tests/test_lstm.py names (Python 2's list
from zip, theano-pymc's ``MRG_RandomStream``); ``six`` is installed in the theano environment
for imdb.py. dltut runs in each of ``--modes``.

rnnslu: a made ATIS fold of the real sizes (4,978 training, 995 validation and 893 test
sentences of 3 to 27 words, 572 words, 127 labels: ``O`` and ``B-``/``I-`` of 63 slots, about
half the words ``O``), pickled with protocol 2 by the theano environment's Python as
``data/atis.fold3.pkl.gz``. Both sides run ``main`` with the tutorial's param dict and
``nepochs=1`` (nhidden 200, emb_dimension 50, win 7: one SGD step a sentence, then the
validation and test sentences labelled and scored by conlleval.pl with perl on the original's
side) and print the tutorial's ``[learning] epoch 0 >> 100.00% completed in X (sec)``: the
training loop only (both compile before it). The original's code/rnnslu.py
carries the patch tests/test_rnnslu.py names (its four ``[map(...) for ...]`` lists become lists
of lists), with code/conlleval.pl beside it.

rnnrbm: made piano rolls of Nottingham's size (700 tunes of 150 to 400 frames, 88 keys, each
note on in a frame with probability 0.05, from ``RandomState(1234)``). Both sides build
``RnnRbm()`` (the tutorial's n_hidden 150, n_hidden_recurrent 100, lr 0.001; compiled in its
constructor) and then time ``model.train(tunes, batch_size=100, num_epochs=1)`` by the wall clock
(one update per piece of at most 100 frames: 2,228 updates). The original's
code/rnnrbm.py imports theano-pymc's ``MRG_RandomStream``, and reads the rolls through a stand-in
``midi/utils.py`` whose ``midiread(f, r, dt).piano_roll`` is the roll made for the name ``f``;
dltut's ``train`` takes the same rolls as arrays.

dltut's rnnslu and rnnrbm compile in the C mode where the mode is dltut's default, JAX (JAX
cannot compile their scans over sequences of any length), so they run in that one mode.
"""

import argparse
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cpu import (add_original_argument, cpu_header, original_file,  # noqa: E402
                       theano_environment, use_original, xla_flags_limited_to)
from dltut.tutorials.rnnslu import DEFAULT_PARAM  # noqa: E402

TUTORIALS = ("lstm", "rnnslu", "rnnrbm")

# Run first in every original's process: Theano's Cython scan does not build on Python 3.11
ORIGINAL_PREAMBLE = """
import sys
sys.path.insert(0, "code")
sys.modules["theano.scan.scan_perform_ext"] = None
"""

# Run first in every dltut process: its log lines on stdout, as the scripts print them
DLTUT_PREAMBLE = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
"""


class Bench(NamedTuple):
    """One tutorial's runs: ``original``, the original's driver (run by the theano environment's
    Python in ``folder / 'original'``, with ``original_env`` added to its environment);
    ``dltut``, dltut's drivers by label (run in ``folder``); ``seconds``, the pattern of the
    training seconds both print; ``summary``, that of the line that says what the epoch gave."""
    title: str
    original: str
    original_env: dict
    dltut: dict
    seconds: str
    summary: str


def original_code(folder, names, patch=lambda name, text: text):
    """``folder/code``: the original files ``names`` from the mirror, each through ``patch``."""
    (folder / "code").mkdir(parents=True, exist_ok=True)
    for name in names:
        text = original_file(f"code/{name}")
        (folder / "code" / name).write_text(patch(name, text))


def replaced(text, old, new, name):
    """``text`` with ``old`` replaced by ``new``, or a RuntimeError if ``old`` is not there (the
    mirror's file changed: the patch needs a look)."""
    if old not in text:
        raise RuntimeError(f"code/{name}: {old!r} not found; the patch needs updating")
    return text.replace(old, new)


# -- lstm ----------------------------------------------------------------------------------------

LSTM_SETTINGS = dict(max_epochs=1, test_size=500, saveto="")


def write_made_imdb(path, reviews, seed=1234):
    rng = numpy.random.RandomState(seed)

    def split():
        lengths = rng.randint(2, 100, size=reviews)
        return ([[int(w) for w in rng.randint(2, 12000, size=n)] for n in lengths],
                [int(label) for label in rng.randint(0, 2, size=reviews)])

    with open(path, "wb") as file:
        pickle.dump(split(), file, 2)
        pickle.dump(split(), file, 2)


def lstm_bench(folder, args, theano):
    reviews = max(1, round(args.reviews * args.scale))
    write_made_imdb(folder / "imdb.pkl", reviews)
    if theano:
        def patch(name, text):
            if name != "lstm.py":
                return text
            text = replaced(text, "MRG_RandomStreams as RandomStreams",
                            "MRG_RandomStream as RandomStreams", name)
            return replaced(text, "return zip(range(len(minibatches)), minibatches)",
                            "return list(zip(range(len(minibatches)), minibatches))", name)

        original_code(folder / "original", ("lstm.py", "imdb.py"), patch)
        os.link(folder / "imdb.pkl", folder / "original" / "imdb.pkl")
    settings = ", ".join(f"{k}={v!r}" for k, v in LSTM_SETTINGS.items())
    dltut = {mode: DLTUT_PREAMBLE + f"from dltut.tutorials import lstm\n"
             f"lstm.train_lstm({settings}, data_path='imdb.pkl', mode={mode!r})\n"
             for mode in args.modes}
    return Bench(title=f"lstm: made imdb.pkl, {reviews} training and test reviews of 2-99 words; "
                       f"train_lstm({settings})",
                 original=ORIGINAL_PREAMBLE + f"import lstm\nlstm.train_lstm({settings})\n",
                 original_env={}, dltut=dltut, seconds=r"Training took ([\d.]+)s",
                 summary=r"Train .*")


# -- rnnslu --------------------------------------------------------------------------------------

ATIS_SIZES = {"train": 4978, "valid": 995, "test": 893}  # sentences
ATIS_WORDS, ATIS_SLOTS = 572, 63  # 1 + 2 * 63 = 127 labels

# Run by the theano environment's Python (so that the fold's arrays are NumPy 1.23's, which the
# original reads): argv[1] the file, argv[2:5] the sentences of the three sets
MAKE_ATIS_FOLD = f"""
import gzip, pickle, sys
import numpy
rng = numpy.random.RandomState(1234)
words = ["w%i" % i for i in range({ATIS_WORDS})]
labels = ["O"] + ["%s-slot%i" % (p, i) for i in range({ATIS_SLOTS}) for p in "BI"]
def one_set(n):
    lex, ne, y = [], [], []
    for length in rng.randint(3, 28, size=n):
        lex.append(rng.randint(len(words), size=length).astype("int32"))
        ne.append(numpy.zeros(length, dtype="int32"))
        y.append(numpy.where(rng.rand(length) < 0.5, 0,
                             rng.randint(1, len(labels), size=length)).astype("int32"))
    return lex, ne, y
sets = [one_set(int(n)) for n in sys.argv[2:5]]
dicts = {{"words2idx": {{w: i for i, w in enumerate(words)}}, "tables2idx": {{"<NOTABLE>": 0}},
         "labels2idx": {{label: i for i, label in enumerate(labels)}}}}
with gzip.open(sys.argv[1], "wb") as file:
    pickle.dump((*sets, dicts), file, protocol=2)
"""

RNNSLU_PARAM = dict(DEFAULT_PARAM, nepochs=1)  # the tutorial's settings, one epoch


def rnnslu_bench(folder, args, theano):
    sizes = {k: max(1, round(n * args.scale)) for k, n in ATIS_SIZES.items()}
    fold = folder / "data" / "atis.fold3.pkl.gz"
    fold.parent.mkdir()
    subprocess.run([theano or sys.executable, "-c", MAKE_ATIS_FOLD, str(fold), *map(str,
                    sizes.values())], check=True)
    if theano:
        def patch(name, text):
            if name != "rnnslu.py":
                return text
            # on Python 3 each map is an iterator that the first conlleval uses up
            for labels, split in (("label", "valid_y"), ("word", "valid_lex"),
                                  ("label", "test_y"), ("word", "test_lex")):
                var = "y" if split.endswith("_y") else "w"
                text = replaced(text, f"[map(lambda x: idx2{labels}[x], {var}) for {var} in "
                                f"{split}]", f"[list(map(lambda x: idx2{labels}[x], {var})) "
                                f"for {var} in {split}]", name)
            return text

        original_code(folder / "original", ("rnnslu.py", "conlleval.pl"), patch)
        (folder / "original" / "data").mkdir()
        os.link(fold, folder / "original" / "data" / fold.name)
    return Bench(title=f"rnnslu: made ATIS fold 3, {sizes['train']} training, {sizes['valid']} "
                       f"validation, {sizes['test']} test sentences of 3-27 words, {ATIS_WORDS} "
                       f"words, {1 + 2 * ATIS_SLOTS} labels; main({RNNSLU_PARAM!r})",
                 original=ORIGINAL_PREAMBLE + f"import rnnslu\nrnnslu.main({RNNSLU_PARAM!r})\n",
                 original_env={"ATISDATA": str(folder / "original" / "data")},
                 dltut={"default": DLTUT_PREAMBLE + "from dltut.tutorials import rnnslu\n"
                        f"rnnslu.main({RNNSLU_PARAM!r}, dataset={str(fold)!r})\n"},
                 seconds=r"completed in ([\d.]+) \(sec\)", summary=r"BEST RESULT: .*")


# -- rnnrbm --------------------------------------------------------------------------------------

NOTTINGHAM = {"tunes": 700, "frames": (150, 400), "density": 0.05}

# The original's midi/utils.py: the rolls made for the bench, by file name
MIDI_STAND_IN = """
import numpy

_ROLLS = numpy.load("rolls.npz")
_ROLLS = {name: _ROLLS[name].astype("float64") for name in _ROLLS.files}


class _Read:
    def __init__(self, piano_roll):
        self.piano_roll = piano_roll


def midiread(filename, r=(21, 109), dt=0.2):
    return _Read(_ROLLS[filename])


def midiwrite(filename, piano_roll, r=(21, 109), dt=0.2, patch=0):
    pass
"""

# Both sides: build the model (compiling it), then the epoch by the wall clock
RNNRBM_TIMED = """
import time
start = time.perf_counter()
model = RnnRbm()
print("built and compiled in %.2fs" % (time.perf_counter() - start))
start = time.perf_counter()
model.train(TUNES, batch_size=100, num_epochs=1)
print("Training took %.2fs" % (time.perf_counter() - start))
"""


def write_made_rolls(path, tunes, seed=1234):
    rng = numpy.random.RandomState(seed)
    low, high = NOTTINGHAM["frames"]
    lengths = rng.randint(low, high + 1, size=tunes)
    density = NOTTINGHAM["density"]
    rolls = {f"tune{i:03}.mid": (rng.uniform(size=(n, 88)) < density).astype("uint8")
             for i, n in enumerate(lengths)}
    numpy.savez(path, **rolls)
    return sum(len(roll) for roll in rolls.values()), sum(-(-len(r) // 100) for r in rolls.values())


def rnnrbm_bench(folder, args, theano):
    tunes = max(1, round(NOTTINGHAM["tunes"] * args.scale))
    frames, updates = write_made_rolls(folder / "rolls.npz", tunes)
    if theano:
        original_code(folder / "original", ("rnnrbm.py",), lambda name, text: replaced(
            text, "MRG_RandomStreams as RandomStreams", "MRG_RandomStream as RandomStreams", name))
        (folder / "original" / "code" / "midi").mkdir()
        (folder / "original" / "code" / "midi" / "__init__.py").write_text("")
        (folder / "original" / "code" / "midi" / "utils.py").write_text(MIDI_STAND_IN)
        os.link(folder / "rolls.npz", folder / "original" / "rolls.npz")
    low, high = NOTTINGHAM["frames"]
    return Bench(title=f"rnnrbm: {tunes} made tunes of {low}-{high} frames ({frames} frames, "
                       f"{updates} updates), 88 keys, notes on with probability "
                       f"{NOTTINGHAM['density']}; RnnRbm(), train(batch_size=100, num_epochs=1)",
                 original=ORIGINAL_PREAMBLE + "import numpy\nfrom rnnrbm import RnnRbm\n"
                          "TUNES = sorted(numpy.load('rolls.npz').files)\n" + RNNRBM_TIMED,
                 original_env={},
                 dltut={"default": DLTUT_PREAMBLE + "import numpy\n"
                        "from dltut.tutorials.rnnrbm import RnnRbm\n"
                        "rolls = numpy.load('rolls.npz')\n"
                        "TUNES = [rolls[name].astype('float64') for name in sorted(rolls.files)]\n"
                        + RNNRBM_TIMED},
                 seconds=r"Training took ([\d.]+)s", summary=r"-?\d+\.\d+(e-?\d+)?")


BENCHES = {"lstm": lstm_bench, "rnnslu": rnnslu_bench, "rnnrbm": rnnrbm_bench}


AVX2_MARCH = "x86-64-v3"  # AVX2 and FMA, no AVX-512: a Haswell-class CPU's instructions

# -- running -------------------------------------------------------------------------------------

class Timing(NamedTuple):
    seconds: float  # the training seconds the run printed (None: it failed)
    compiling: float  # of them, compiling (dltut's JAX mode at each minibatch shape)
    wall: float  # the process's wall clock, start to end
    summary: str  # what the epoch gave, or the error


def timed(command, env, cwd, bench):
    start = time.perf_counter()
    run = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    found = re.findall(bench.seconds, run.stdout + run.stderr)
    if run.returncode != 0 or not found:
        error = (run.stderr.strip().splitlines() or ["no output"])[-1][-160:]
        return Timing(None, None, wall, error)
    compiling = re.findall(r"first calls took ([\d.]+)s", run.stdout)
    summary = [ln for ln in run.stdout.splitlines() if re.fullmatch(bench.summary, ln.strip())]
    return Timing(float(found[-1]), float(compiling[-1]) if compiling else 0.0, wall,
                  " ".join(summary[-1:]))


def run_bench(name, bench, folder, args, theano):
    """The original's run, then each of dltut's cold and warm: ``{label: Timing}``."""
    times = {}
    if theano:
        env = dict(theano_environment(folder / "theano-cache", theano), OPENBLAS_NUM_THREADS="1",
                   **bench.original_env)
        env["THEANO_FLAGS"] += f",floatX={args.floatX}"
        times["original (theano)"] = timed([theano, "-c", bench.original], env,
                                           folder / "original", bench)
        print(f"{name} original (theano-pymc): {times['original (theano)']}", flush=True)
    for mode, call in bench.dltut.items():
        env = dict(os.environ, DLTUT_CACHE=str(folder / f"cache-{mode}"), PYTHONPATH=str(ROOT),
                   PYTENSOR_FLAGS=f"floatX={args.floatX},compiledir={folder}/pytensor-{mode}",
                   OPENBLAS_NUM_THREADS="1")
        if args.avx2:
            env["PYTENSOR_FLAGS"] += f",gcc__cxxflags=-march={AVX2_MARCH}"
            env["XLA_FLAGS"] = xla_flags_limited_to("AVX2", env)
        env.pop("DLTUT_MODE", None)  # the default mode where no mode is named
        env.pop("DLTUT_ENGINE", None)
        # cold (empty caches), then warm: the same command again, its compiles cached
        for run in ("cold", "warm"):
            label = f"dltut {mode}, {run}"
            times[label] = timed([sys.executable, "-c", call], env, folder, bench)
            print(f"{name} {label}: {times[label]}", flush=True)
    return times


def table(times):
    lines = [f"{'':22} {'training s':>10} {'compiling s':>11} {'ratio':>7} "
             f"{'ratio less compiling':>20} {'process s':>9}"]
    base = times.get("original (theano)", Timing(None, None, None, ""))[0]
    for label, (seconds, compiling, wall, _) in times.items():
        if not seconds:
            lines.append(f"{label:22} {'failed':>10} {'':11} {'':7} {'':20} {wall:9.1f}")
            continue
        ratio = f"{base / seconds:6.2f}x" if base else f"{'-':>7}"
        less = f"{base / (seconds - compiling):19.2f}x" if base else f"{'-':>20}"
        lines.append(f"{label:22} {seconds:10.1f} {compiling:11.1f} {ratio} {less} {wall:9.1f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorials", nargs="+", default=list(TUTORIALS), choices=TUTORIALS)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies every made data size (1: the datasets' sizes)")
    parser.add_argument("--reviews", type=int, default=25000, help="lstm: training reviews")
    parser.add_argument("--floatX", default="float32", choices=("float32", "float64"))
    parser.add_argument("--theano", default=str(ROOT / ".venv-theano" / "bin" / "python"))
    parser.add_argument("--modes", nargs="+", default=["jax", "c"], help="lstm: dltut's modes")
    parser.add_argument("--avx2", action="store_true",
                        help="dltut's code for a CPU without AVX-512: its C code compiled with "
                             f"-march={AVX2_MARCH}, XLA's with --xla_cpu_max_isa=AVX2 (the "
                             "original's C code and OpenBLAS keep this CPU's)")
    add_original_argument(parser)
    args = parser.parse_args()
    if not 0 < args.scale:
        parser.error(f"--scale must be positive, got {args.scale}")
    if args.original:
        try:
            use_original(args.original)
        except ValueError as error:
            parser.error(str(error))
    theano = args.theano if Path(args.theano).is_file() and args.original else None
    print(cpu_header())
    print(f"floatX {args.floatX}; the original on {theano or 'nothing (no theano Python)'}"
          f"{'; dltut limited to AVX2' if args.avx2 else ''}\n",
          flush=True)
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tutorials:
            folder = Path(tmp) / name
            folder.mkdir()
            start = time.perf_counter()
            bench = BENCHES[name](folder, args, theano)
            print(bench.title, flush=True)
            times = run_bench(name, bench, folder, args, theano)
            tables.append(f"{bench.title}\n{table(times)}\n({name}: "
                          f"{time.perf_counter() - start:.0f} s in all)")
            print(flush=True)
    print("\n\n".join(tables))
    print("\nratio: the original's training seconds / these (> 1: faster than the original); "
          "compiling: the first call of each minibatch shape in JAX mode, inside the clock (the "
          "original compiles before its clock starts, and so do dltut's rnnslu and rnnrbm); "
          "process: the whole process, data, building, compiling and evaluating included.")


if __name__ == "__main__":
    main()
