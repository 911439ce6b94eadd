"""The IMDB movie-review sentiment data of the LSTM tutorial (the tutorial's imdb.py).

A review is a list of word indices (``1``: a word outside the vocabulary, ``0``: padding, never in
a review) and its label is 1 (positive) or 0 (negative). ``load_data`` reads the reviews, splits a
validation set off the training set and maps rare words to 1; ``prepare_data`` pads a minibatch of
reviews into the ``(maxlen, n_samples)`` index matrix the LSTM scans over, with its float mask.

Two file formats are read:

* ``imdb.pkl`` (or ``imdb.pkl.gz``), the tutorial's own file: two pickles one after the other,
  train then test, each ``(list of reviews, list of labels)``. It is read by dltut's restricted
  unpickler (``dltut.pickles``), so a file that names anything but plain data is refused with
  nothing run.
* ``.npz``, written by ``save_npz`` (and by ``imdb_preprocess``): for each of ``train`` and
  ``test`` the concatenated word indices ``{split}_words``, each review's length
  ``{split}_lengths`` and the labels ``{split}_labels``. No pickle.

Nothing is downloaded by reading: a missing file is one ``DataError`` that says where to get it.
A small made ``imdb.pkl`` ships with dltut (``TOY``, made by ``toy_imdb``): ``train_lstm(dataset=
"toy")`` and ``dltut run lstm --toy`` train on it with no download.
"""

import gzip
import os
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy

from dltut import engine, pickles
from dltut.atomic import atomic_write
from dltut.data import DataError

ORIGIN = "http://www.iro.umontreal.ca/~lisa/deep/data/imdb.pkl"  # the tutorial's file
ACLIMDB = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"  # the reviews
SPLITS = ("train", "test")
NPZ_PARTS = ("words", "lengths", "labels")
MAX_WORD = 2**31 - 1  # the largest word index a file may hold (no vocabulary comes near)
# made reviews in imdb.pkl's format, shipped with dltut (package data): toy_imdb() written by
# write_toy; the LSTM tests' and `dltut suite --quick`'s reference numbers were printed on it
TOY = Path(__file__).resolve().parent.parent / "toy" / "imdb.pkl"
TOY_SHA256 = "ceb8b3fce51dc8b24f8dc3800d809357e6ebdf3f2181c3610326a60edc263393"
REBUILD = f"get the tutorial's imdb.pkl again ({ORIGIN}) or rebuild the data with imdb_preprocess"


def prepare_data(seqs, labels, maxlen=None):
    """Pad the reviews ``seqs`` into one matrix, one column per review (this swaps the axes).

    Returns ``x`` (int64, ``(maxlen, n_samples)``: review ``i`` in column ``i``, then zeros), its
    mask ``x_mask`` (floatX: 1 where ``x`` holds a word) and the labels. With ``maxlen``, reviews
    of ``maxlen`` words or more are left out (as the tutorial: ``len < maxlen`` is kept), and
    ``(None, None, None)`` is returned when none is left.
    """
    lengths = [len(s) for s in seqs]

    if maxlen is not None:
        kept = [(length, s, y) for length, s, y in zip(lengths, seqs, labels) if length < maxlen]
        lengths = [length for length, _, _ in kept]
        seqs = [s for _, s, _ in kept]
        labels = [y for _, _, y in kept]
        if len(lengths) < 1:
            return None, None, None

    n_samples = len(seqs)
    maxlen = numpy.max(lengths)

    x = numpy.zeros((maxlen, n_samples)).astype("int64")
    x_mask = numpy.zeros((maxlen, n_samples)).astype(engine.floatX())
    for idx, s in enumerate(seqs):
        x[:lengths[idx], idx] = s
        x_mask[:lengths[idx], idx] = 1.0

    return x, x_mask, labels


def load_data(path="imdb.pkl", n_words=100000, valid_portion=0.1, maxlen=None, sort_by_len=True,
              rng=None):
    """``(train, valid, test)``, each ``(list of reviews, list of labels)``, as the tutorial loads
    them.

    * With ``maxlen``, training reviews of ``maxlen`` words or more are dropped (the test set is
      kept whole).
    * The validation set is the last ``valid_portion`` of a random permutation of the training
      set (``rng.permutation``: numpy's global state by default, as the tutorial), the rest in
      that permutation's order is the training set.
    * Words of index ``n_words`` or more become 1 (unknown).
    * With ``sort_by_len``, each set is sorted by review length (stable: ties keep their order),
      so that minibatches need less padding.
    """
    rng = numpy.random if rng is None else rng
    train_set, test_set = read(path)
    if maxlen:
        train_set = tuple(map(list, zip(*[(x, y) for x, y in zip(*train_set) if len(x) < maxlen])))
        if not train_set:
            raise DataError(f"{path}: no training review is shorter than maxlen={maxlen}; "
                            "raise maxlen")
    train_set_x, train_set_y = train_set
    n_samples = len(train_set_x)
    sidx = rng.permutation(n_samples)
    n_train = int(numpy.round(n_samples * (1.0 - valid_portion)))
    valid_set_x = [train_set_x[s] for s in sidx[n_train:]]
    valid_set_y = [train_set_y[s] for s in sidx[n_train:]]
    train_set_x = [train_set_x[s] for s in sidx[:n_train]]
    train_set_y = [train_set_y[s] for s in sidx[:n_train]]
    test_set_x, test_set_y = test_set

    def remove_unk(x):
        return [[1 if w >= n_words else w for w in sen] for sen in x]

    sets = [(remove_unk(train_set_x), train_set_y), (remove_unk(valid_set_x), valid_set_y),
            (remove_unk(test_set_x), list(test_set_y))]
    if sort_by_len:
        sets = [_sorted_by_length(x, y) for x, y in sets]
    return tuple(sets)


def _sorted_by_length(x, y):
    order = sorted(range(len(x)), key=lambda i: len(x[i]))
    return [x[i] for i in order], [y[i] for i in order]


# ----------------------------------------------------------------------------------------------
# Files


def missing_message(path):
    """The one line a missing data file gets: where to get the file and what builds it (with
    the extra that building needs), and the made data that needs nothing."""
    return (f"{path}: no such file. Get the tutorial's imdb.pkl from {ORIGIN}, or build an .npz "
            f"from the Large Movie Review Dataset ({ACLIMDB}): pip install 'dltut[imdb]', then "
            f"`python -m dltut.tutorials.imdb_preprocess --download aclImdb_v1.tar.gz imdb.npz`; "
            f"or try the made reviews shipped with dltut (--toy, dataset='toy')")


def read(path):
    """``(train_set, test_set)`` of a ``.pkl``, ``.pkl.gz`` or ``.npz`` file, each ``(reviews,
    labels)`` with reviews as lists of ints; one ``DataError`` for any problem."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(missing_message(path))
    if path.endswith(".npz"):
        sets = _read_npz(path)
    elif path.endswith((".pkl", ".pkl.gz")):
        sets = _read_pickles(path)
    else:
        raise DataError(f"{path}: unknown suffix; IMDB data is the tutorial's imdb.pkl (.pkl or "
                        ".pkl.gz) or an .npz written by dltut (save_npz, imdb_preprocess)")
    return tuple(_check_set(s, path, split) for s, split in zip(sets, SPLITS))


def _read_pickles(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            train_set = pickles.load(f, source=path)
            test_set = pickles.load(f, source=path)
    except pickles.UnsafePickleError as error:
        raise DataError(str(error)) from None
    except (EOFError, gzip.BadGzipFile, zlib.error, pickle.UnpicklingError, ValueError) as error:
        raise DataError(f"{path}: truncated or corrupt ({type(error).__name__}: {error}); "
                        f"imdb.pkl is two pickles, train then test: get it again from "
                        f"{ORIGIN}") from error
    return train_set, test_set


def _check_set(pair, path, split):
    """One set of ``path`` as ``(reviews, labels)``: each review a non-empty list of word
    indices (ints from 0 to ``MAX_WORD``), each label 0 or 1; or a DataError naming the first bad
    review, word or label. The labels are IMDB's two classes: ``train_lstm`` makes one output a
    label up to the largest, so a label 5 would train six classes without a word."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise DataError(f"{path}: the {split} set should be a (reviews, labels) pair, got "
                        f"{type(pair).__name__}")
    seqs, labels = pair
    for name, value in (("reviews", seqs), ("labels", labels)):
        if not isinstance(value, (tuple, list)):
            raise DataError(f"{path}: the {split} {name} are a {type(value).__name__}, expected "
                            f"a list; {REBUILD}")
    if len(seqs) != len(labels):
        raise DataError(f"{path}: the {split} set has {len(seqs)} reviews and {len(labels)} "
                        "labels; they must match")
    seqs = [_check_review(review, path, split, i) for i, review in enumerate(seqs)]
    if not (set(map(type, labels)) <= {int} and set(labels) <= {0, 1}):  # else the slow way
        bad = next(((i, y) for i, y in enumerate(labels) if isinstance(y, (bool, numpy.bool_))
                    or not isinstance(y, (int, numpy.integer)) or y not in (0, 1)), None)
        if bad is not None:
            raise DataError(f"{path}: {split} label {bad[0]} is {_show(bad[1])}; IMDB labels "
                            f"are 0 (negative) or 1 (positive); {REBUILD}")
    return seqs, [int(y) for y in labels]


def _check_review(review, path, split, i):
    """Review ``i`` as a list of ints, or a DataError naming what is wrong with it."""
    if not isinstance(review, (tuple, list)):
        raise DataError(f"{path}: {split} review {i} is {_show(review)}, not a list of word "
                        f"indices; {REBUILD}")
    if not review:
        raise DataError(f"{path}: {split} review {i} is empty (the LSTM averages over a "
                        f"review's words); {REBUILD}")
    kinds = set(map(type, review))
    if kinds <= {int} and 0 <= min(review) and max(review) <= MAX_WORD:  # the fast way
        return list(review)
    for j, word in enumerate(review):
        if isinstance(word, (bool, numpy.bool_)) or not isinstance(word, (int, numpy.integer)) \
                or not 0 <= word <= MAX_WORD:
            raise DataError(f"{path}: {split} review {i}, word {j} is {_show(word)}, not a word "
                            f"index (an int from 0 to {MAX_WORD}); {REBUILD}")
    return [int(word) for word in review]


def _show(value):
    """``value`` in a few words on one line (an array's repr spans lines)."""
    text = " ".join(repr(value).split())
    return f"{text[:60]}... (a {type(value).__name__})" if len(text) > 60 else text


def _read_npz(path):
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a zip archive, so not an .npz; write it with save_npz")
    keys = [f"{split}_{part}" for split in SPLITS for part in NPZ_PARTS]
    try:
        with numpy.load(path, allow_pickle=False) as npz:
            missing = [key for key in keys if key not in npz.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}; an IMDB .npz "
                                f"holds {', '.join(keys)} (see save_npz)")
            arrays = {key: npz[key] for key in keys}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz ({error}); write it again with "
                        "save_npz") from error
    sets = []
    for split in SPLITS:
        words, lengths = arrays[f"{split}_words"], arrays[f"{split}_lengths"]
        if lengths.sum() != len(words):
            raise DataError(f"{path}: {split}_lengths add up to {lengths.sum()}, but "
                            f"{split}_words holds {len(words)} words; write it again")
        ends = numpy.cumsum(lengths)
        seqs = [words[end - n:end].tolist() for n, end in zip(lengths.tolist(), ends.tolist())]
        sets.append((seqs, arrays[f"{split}_labels"].tolist()))
    return sets


def save_npz(path, train_set, test_set):
    """Write ``train_set`` and ``test_set`` (each ``(reviews, labels)``) as an .npz that
    ``load_data`` reads (atomically: the old file or the whole new one)."""
    arrays = {}
    for split, (seqs, labels) in zip(SPLITS, (train_set, test_set)):
        if len(seqs) != len(labels):
            raise ValueError(f"the {split} set has {len(seqs)} reviews and {len(labels)} labels; "
                             "they must match")
        lengths = numpy.array([len(s) for s in seqs], dtype="int64")
        words = numpy.array([w for s in seqs for w in s], dtype="int64")
        arrays[f"{split}_words"] = words
        arrays[f"{split}_lengths"] = lengths
        arrays[f"{split}_labels"] = numpy.asarray(labels, dtype="int64")
    atomic_write(path, lambda file: numpy.savez(file, **arrays))


# ----------------------------------------------------------------------------------------------
# Made data, in imdb.pkl's format (shipped as TOY: the IMDB reviews are not)


def toy_imdb(seed=2024, n_train=240, n_test=120, vocab=120):
    """Made reviews in imdb.pkl's layout, ``((reviews, labels), (reviews, labels))``: words 2 ..
    vocab - 1, lengths 3 .. 35, the label 1 when the review's mean word is below vocab / 2 (so a
    model can learn it). Drawn from ``RandomState(seed)``; the defaults made ``TOY``."""
    rng = numpy.random.RandomState(seed)

    def split(n):
        seqs, labels = [], []
        for _ in range(n):
            length = int(rng.randint(3, 36))
            seq = [int(w) for w in rng.randint(2, vocab, size=length)]
            seqs.append(seq)
            labels.append(int(numpy.mean(seq) < vocab / 2))
        return seqs, labels

    return split(n_train), split(n_test)


def write_toy(path, sets=None):
    """``sets`` (``toy_imdb()`` by default) written as the tutorial's imdb_preprocess.py wrote
    imdb.pkl: train then test, two pickles (protocol 5: the bytes of the file the original
    lstm.py ran on for the reference numbers, ``TOY_SHA256``)."""
    train_set, test_set = sets if sets is not None else toy_imdb()

    def dump(file):
        pickle.dump(train_set, file, 5)
        pickle.dump(test_set, file, 5)

    atomic_write(path, dump)
    return path
