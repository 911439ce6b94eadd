"""imdb: load_data and prepare_data give what the tutorial's imdb.py gives on made data; the .npz
format round-trips; a missing, damaged or unsafe file is one clear DataError with nothing run."""

import gzip
import hashlib
import json
import os
import pickle
import shutil

import numpy
import pytest

from dltut import engine
from dltut.data import DataError
from dltut.tutorials import imdb


def made_imdb():
    """The made reviews the original imdb.py and lstm.py ran on (imdb.toy_imdb's defaults; the
    same function, file /tmp/lstm_orig/make_data.py, made their imdb.pkl)."""
    return imdb.toy_imdb()


MADE_IMDB_SHA256 = "ceb8b3fce51dc8b24f8dc3800d809357e6ebdf3f2181c3610326a60edc263393"


def write_made_imdb(path):
    """The imdb.pkl shipped with dltut (imdb.TOY) copied to ``path``: the file the original ran
    on (its sha256 is checked)."""
    shutil.copyfile(imdb.TOY, path)
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == MADE_IMDB_SHA256
    return path


def test_the_shipped_toy_is_the_made_reviews_the_original_ran_on(tmp_path):
    """imdb.TOY is toy_imdb() as write_toy writes it, byte for byte: the file whose sha256 the
    original's runs recorded; read back, the made reviews."""
    assert imdb.TOY_SHA256 == MADE_IMDB_SHA256
    with open(imdb.TOY, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == MADE_IMDB_SHA256
    imdb.write_toy(tmp_path / "imdb.pkl")
    assert (tmp_path / "imdb.pkl").read_bytes() == imdb.TOY.read_bytes()
    assert imdb.read(imdb.TOY) == made_imdb()
    assert os.path.getsize(imdb.TOY) < 20_000
    (train_x, train_y), (test_x, test_y) = made_imdb()
    assert (len(train_x), len(test_x)) == (240, 120) and set(train_y) == set(test_y) == {0, 1}


def _digest(sets):
    return hashlib.sha256(json.dumps([[list(map(list, s[0])), list(s[1])] for s in sets])
                          .encode()).hexdigest()


# The original imdb.py (code/imdb.py, six installed) on theano-pymc 1.1.2 (numpy 1.23.5), run on
# made_imdb()'s imdb.pkl: numpy.random.seed(123); load_data("imdb.pkl", n_words=100,
# valid_portion=0.1, maxlen=30) -> set sizes and the sha256 of json.dumps([[reviews, labels] of
# train, valid, test]); then numpy.random.seed(5); load_data("imdb.pkl", n_words=50,
# valid_portion=0.25, maxlen=None, sort_by_len=False).
ORIGINAL_LOADS = [
    (123, dict(n_words=100, valid_portion=0.1, maxlen=30), [175, 19, 120],
     "5bacc45432c7e62560cdd09131f2759a7f3dc320e5628e9184cc62fb3bbb6c24"),
    (5, dict(n_words=50, valid_portion=0.25, maxlen=None, sort_by_len=False), [180, 60, 120],
     "da41b304c20a9c8a816993f5bc6982182926d64362cff8616920ccbd32cb2120"),
]


@pytest.mark.parametrize("seed, options, sizes, digest", ORIGINAL_LOADS)
def test_load_data_gives_the_original_sets(tmp_path, seed, options, sizes, digest):
    path = write_made_imdb(tmp_path / "imdb.pkl")
    sets = imdb.load_data(path, rng=numpy.random.RandomState(seed), **options)
    assert [len(s[0]) for s in sets] == sizes
    assert _digest(sets) == digest
    # numpy's global state by default, as the tutorial
    numpy.random.seed(seed)
    assert _digest(imdb.load_data(path, **options)) == digest


def test_load_data_maps_rare_words_to_1_and_sorts_by_length(tmp_path):
    path = write_made_imdb(tmp_path / "imdb.pkl")
    train, valid, test = imdb.load_data(path, n_words=60, rng=numpy.random.RandomState(0))
    for seqs, labels in (train, valid, test):
        assert all(w == 1 or 2 <= w < 60 for s in seqs for w in s)
        assert [len(s) for s in seqs] == sorted(len(s) for s in seqs)
    raw_train, raw_test = made_imdb()
    assert sorted(map(len, raw_test[0])) == [len(s) for s in test[0]]
    assert len(train[0]) + len(valid[0]) == len(raw_train[0])


def test_prepare_data_is_the_originals():
    # the original's prepare_data([[5, 6, 7], [8], [9, 10]], [1, 0, 1], maxlen=3)
    x, mask, y = imdb.prepare_data([[5, 6, 7], [8], [9, 10]], [1, 0, 1], maxlen=3)
    assert x.tolist() == [[8, 9], [0, 10]] and x.dtype == numpy.int64
    assert mask.tolist() == [[1.0, 1.0], [0.0, 1.0]] and mask.dtype == engine.floatX()
    assert y == [0, 1]
    x, mask, y = imdb.prepare_data([[5, 6, 7], [8]], [1, 0])
    assert x.tolist() == [[5, 8], [6, 0], [7, 0]] and y == [1, 0]
    assert imdb.prepare_data([[5, 6, 7]], [1], maxlen=2) == (None, None, None)


def test_npz_and_gzip_round_trips(tmp_path):
    train, test = made_imdb()
    imdb.save_npz(tmp_path / "imdb.npz", train, test)
    assert imdb.read(tmp_path / "imdb.npz") == (train, test)
    with gzip.open(tmp_path / "imdb.pkl.gz", "wb") as f:
        pickle.dump(train, f, 2)
        pickle.dump(test, f, 2)
    assert imdb.read(tmp_path / "imdb.pkl.gz") == (train, test)
    rng = numpy.random.RandomState(3)
    from_npz = imdb.load_data(tmp_path / "imdb.npz", n_words=80, maxlen=20, rng=rng)
    rng = numpy.random.RandomState(3)
    from_pickle = imdb.load_data(write_made_imdb(tmp_path / "imdb.pkl"), n_words=80, maxlen=20,
                                 rng=rng)
    assert from_npz == from_pickle


def test_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(DataError) as error:
        imdb.load_data(tmp_path / "imdb.pkl")
    message = str(error.value)
    assert "\n" not in message and imdb.ORIGIN in message and "aclImdb_v1.tar.gz" in message
    assert "imdb_preprocess" in message


class _System:
    """Pickles as a call of os.system: what a malicious data file does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("name", ["imdb.pkl", "imdb.pkl.gz"])
def test_a_pickle_that_runs_code_is_refused_with_nothing_run(tmp_path, name):
    witness = tmp_path / "ran"
    payload = pickle.dumps(_System(f"touch {witness}"), 2) + pickle.dumps(([], []), 2)
    (tmp_path / name).write_bytes(gzip.compress(payload) if name.endswith(".gz") else payload)
    with pytest.raises(DataError, match=r"refused to load (posix|os)\.system") as error:
        imdb.load_data(tmp_path / name)
    assert "\n" not in str(error.value)
    assert not witness.exists()


def test_damaged_files_are_one_clear_error(tmp_path):
    path = write_made_imdb(tmp_path / "imdb.pkl")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DataError, match="truncated or corrupt"):
        imdb.load_data(path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a zip archive"):
        imdb.load_data(tmp_path / "bad.npz")
    numpy.savez(tmp_path / "partial.npz", train_words=numpy.arange(3))
    with pytest.raises(DataError, match="missing array"):
        imdb.load_data(tmp_path / "partial.npz")
    (tmp_path / "imdb.txt").write_text("x")
    with pytest.raises(DataError, match="unknown suffix"):
        imdb.load_data(tmp_path / "imdb.txt")
    with open(tmp_path / "odd.pkl", "wb") as f:
        pickle.dump(([[2, 3]], [0, 1]), f)
        pickle.dump(([], []), f)
    with pytest.raises(DataError, match="1 reviews and 2 labels"):
        imdb.load_data(tmp_path / "odd.pkl")


@pytest.mark.parametrize("train, message", [
    (([5], [1]), "train review 0 is 5, not a list of word indices"),
    (([[2, 10**12]], [1]), "train review 0, word 1 is 1000000000000, not a word index (an int "
                           "from 0 to 2147483647)"),
    (([[2, 2.7]], [1]), "train review 0, word 1 is 2.7, not a word index"),
    (([[2, True]], [1]), "train review 0, word 1 is True, not a word index"),
    (([[2], [3]], [1, 10**9]), "train label 1 is 1000000000; IMDB labels are 0 (negative) or 1 "
                               "(positive)"),
    (([[2], [3]], [5, 0]), "train label 0 is 5; IMDB labels are 0"),  # not six classes
    (([[2], []], [0, 1]), "train review 1 is empty"),
    (("abc", [1, 2, 3]), "the train reviews are a str, expected a list"),
], ids=["review-int", "word-huge", "word-float", "word-bool", "label-huge", "label-5",
        "review-empty", "reviews-str"])
def test_a_bad_review_or_label_is_one_error_naming_it(tmp_path, train, message):
    path = tmp_path / "imdb.pkl"
    with open(path, "wb") as f:
        pickle.dump(train, f, 2)
        pickle.dump(([[2, 3]], [0]), f, 2)
    with pytest.raises(DataError) as error:
        imdb.load_data(path)
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)
    assert "imdb_preprocess" in str(error.value)  # what to do


def test_numpy_integers_are_words_and_labels(tmp_path):
    path = tmp_path / "imdb.pkl"
    with open(path, "wb") as f:
        pickle.dump(([[numpy.int64(2), 3]], [numpy.int32(1)]), f, 2)
        pickle.dump(([(4, 5)], (0,)), f, 2)
    assert imdb.read(path) == (([[2, 3]], [1]), ([[4, 5]], [0]))
    assert all(type(w) is int for w in imdb.read(path)[0][0][0])


def test_an_npz_word_beyond_any_vocabulary_is_refused(tmp_path):
    imdb.save_npz(tmp_path / "imdb.npz", ([[2, 10**12]], [1]), ([[3]], [0]))
    with pytest.raises(DataError, match="train review 0, word 1 is 1000000000000"):
        imdb.load_data(tmp_path / "imdb.npz")


@pytest.mark.parametrize("train, words", [
    ("dtype-hole", ["refused an array of dtype 'O8'", "nothing was run"]),
    (([[2, 3], [4]], [0, 10**9]), ["train label 1 is 1000000000"]),
    (([7, [4]], [0, 1]), ["train review 0 is 7"]),
], ids=["dtype-hole", "label", "review"])
def test_lstm_refuses_a_crafted_imdb_pickle_in_one_line(tmp_path, train, words):
    from hostile import assert_refused, run_dltut
    from test_pickles import EXPLOITS

    if train == "dtype-hole":
        train = ([[2]], [EXPLOITS["scalar"]])
    path = tmp_path / "imdb.pkl"
    path.write_bytes(pickle.dumps(train, 2) + pickle.dumps(([[2, 3]], [0]), 2))
    refused = run_dltut(["run", "lstm", "--data-path", path, "--max-epochs", 1], tmp_path)
    assert_refused(refused, "imdb.pkl", *words)
