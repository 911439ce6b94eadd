"""imdb_preprocess: the data built from a made aclImdb_v1.tar.gz is what the tutorial's
imdb_preprocess.py builds from it; sacremoses against Moses' tokenizer.perl on made reviews."""

import collections
import hashlib
import io
import json
import sys
import tarfile

import numpy
import pytest

from dltut.tutorials import imdb, imdb_preprocess

FRAGMENTS = [
    "This movie", "was", "great", "terrible", "I didn't like it", "Mr. Smith's acting",
    "\"a masterpiece\"", "'so-called' drama", "<br /><br />", "(really)", "5.5/10", "--",
    "well-made", "U.S.A.", "e.g. the ending", "$5", "50%", "the plot...", "wow!", "why?",
    "[spoiler]", "A & B", "Café Noir", "ÉTÉ", "it's", "can't", "won't", "one|two", "#1",
    "don't watch", "10/10", "etc.", "No. 5", "<i>italic</i>", "...and then", "3:30", "1,000",
]


def made_reviews(seed=7, per_folder=12):
    """``{folder: [(file name, text)]}`` of made reviews: fragments with punctuation, quotes,
    HTML breaks and non-ASCII letters; a second line that the tutorial ignores."""
    rng = numpy.random.RandomState(seed)
    reviews = {}
    for folder in imdb_preprocess.FOLDERS:
        items = []
        for i in range(per_folder):
            parts = [FRAGMENTS[k] for k in rng.randint(0, len(FRAGMENTS), rng.randint(4, 14))]
            text = " ".join(parts) + rng.choice([".", "!", " U.S.A.", "", " ..."])
            items.append((f"{rng.randint(0, 12500)}_{i}_{rng.randint(1, 11)}.txt",
                          "  " + text + "\nsecond line, never read\n"))
        reviews[folder] = items
    return reviews


def write_made_tarball(path, reviews=None):
    """The made reviews as aclImdb_v1.tar.gz lays them out (aclImdb/train/pos/NNN_R.txt, ...),
    with a README and an unsup folder that the tutorial does not read."""
    reviews = reviews or made_reviews()
    with tarfile.open(path, "w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("aclImdb/README", b"made")
        add("aclImdb/train/unsup/0_0.txt", b"unlabelled, not read")
        for folder, items in reviews.items():
            for name, text in items:
                add(f"aclImdb/{folder}/{name}", text.encode("utf-8"))
    return path


# The tutorial's imdb_preprocess.py on made_reviews()'s tarball, extracted: ported to Python 3
# with the bytes Python 2 had (files read "rb", the tokenizer fed and read as bytes, so lower()
# and split() act on ASCII only as they did), cPickle -> pickle, list(wordcount.values()) and
# .keys(), sorted(glob.glob(...)) (glob's order is the file system's), dataset_path and
# tokenizer_cmd set; run by theano-pymc's Python 3.11 (numpy 1.23.5) with Moses' tokenizer.perl
# (perl 5.36) from github.com/moses-smt/mosesdecoder at d2b558728 (2018-10-30, the last
# before "tokenizer.perl: split final dots unconditionally", 9fc964da7: the tokenizer of the
# tutorial's time). Its imdb.pkl, read back with its imdb.dict.pkl (1 -> "<unk>"), as
# json.dumps([train reviews as words..., train labels], [test ...], ensure_ascii=False):
ORIGINAL_WORDS_SHA256 = "534a3f3f74d397536b05ef0354a94d14af3c4904a8528897dbc138217750d806"
# With tokenizer.perl at HEAD (34452895f) the same run gives 521713316c5c...: the only
# difference is the last word of a review, "U.S.A." -> "u.s.a ." (split since 2018) where
# sacremoses 0.2.0 and the older script keep "u.s.a.".
# Its dictionary, the words by index from 2 (equal counts in an arbitrary order: Python 2's
# dict order through numpy's unstable argsort; here Python 3's):
ORIGINAL_DICTIONARY = [
    "&lt;", "&gt;", "/", "i", "&apos;t", "a", "&apos;", "&amp;", "b", "&quot;", "...",
    "&apos;s", "!", "5", "br", "mr.", "smith", "acting", "well-made", "it", ".", "u.s.a.",
    "italic", "watch", "don", "the", ")", "really", "(", "drama", "?", "why", "10", "didn",
    "like", "3", "one", "&#124;", "two", "--", "30", "masterpiece", ":", "this", "1", "#",
    "movie", "wow", "$", "so-called", "1,000", "ÉtÉ", "ending", "e.g.", "and", "no.", "then",
    "etc", "terrible", "&#93;", "spoiler", "café", "noir", "%", "50", "can", "plot", "&#91;",
    "won", "great", "5.5", "&apos;so-called", "was",
]


def _as_words(sets, dictionary):
    words = {index: word for word, index in dictionary.items()}
    return [[[words.get(i, "<unk>") for i in review] for review in x] + [list(y)]
            for x, y in sets]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("sacremoses")
    path = write_made_tarball(tmp_path_factory.mktemp("acl") / "aclImdb_v1.tar.gz")
    return path, imdb_preprocess.preprocess(path)


def test_the_data_is_the_tutorials(built):
    _, (train, test, dictionary) = built
    words = _as_words((train, test), dictionary)
    digest = hashlib.sha256(json.dumps(words, ensure_ascii=False).encode()).hexdigest()
    assert digest == ORIGINAL_WORDS_SHA256
    assert len(train[0]) == len(test[0]) == 24 and train[1] == test[1] == [1] * 12 + [0] * 12
    # the same dictionary but for the order among equal counts
    assert sorted(dictionary) == sorted(ORIGINAL_DICTIONARY)
    counts = collections.Counter(w for review in words[0][:-1] for w in review)
    ours = [counts[w] for w in sorted(dictionary, key=dictionary.get)]
    assert ours == [counts[w] for w in ORIGINAL_DICTIONARY] == sorted(ours, reverse=True)
    assert sorted(dictionary.values()) == list(range(2, len(dictionary) + 2))


def test_ties_keep_first_appearance_and_words_are_ascii_lowercased():
    tokenized = ["b a ÉTÉ A", "c b"]
    assert imdb_preprocess.build_dict(tokenized) == {"b": 2, "a": 3, "ÉtÉ": 4, "c": 5}
    assert imdb_preprocess.grab_data(["A z b"], {"a": 2, "b": 3}) == [[2, 1, 3]]


def test_command_writes_npz_and_json_that_load_data_reads(built, tmp_path):
    path, (train, test, dictionary) = built
    assert imdb_preprocess.main([str(path), str(tmp_path / "imdb.npz")]) == 0
    assert imdb.read(tmp_path / "imdb.npz") == (train, test)
    assert json.loads((tmp_path / "imdb.dict.json").read_text("utf-8")) == dictionary
    # the extracted folder gives the same
    with tarfile.open(path) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    assert imdb_preprocess.preprocess(tmp_path / "x")[:2] == (train, test)
    sets = imdb.load_data(tmp_path / "imdb.npz", n_words=20, rng=numpy.random.RandomState(0))
    assert all(w < 20 for s in sets for review in s[0] for w in review)


def test_bad_sources_are_one_clear_error(tmp_path, capsys):
    assert imdb_preprocess.main([str(tmp_path / "missing.tar.gz")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "bad.tar.gz").write_bytes(b"not a tarball")
    assert imdb_preprocess.main([str(tmp_path / "bad.tar.gz")]) == 2
    assert "not a readable tar archive" in capsys.readouterr().err
    reviews = made_reviews()
    del reviews["test/neg"]
    write_made_tarball(tmp_path / "partial.tar.gz", reviews)
    out = str(tmp_path / "imdb.npz")
    assert imdb_preprocess.main([str(tmp_path / "partial.tar.gz"), out]) == 2
    assert "no reviews in aclImdb/test/neg" in capsys.readouterr().err
    assert not (tmp_path / "imdb.npz").exists()


def test_a_missing_sacremoses_is_said_before_any_download(tmp_path, monkeypatch, capsys):
    """--download without the extra dltut[imdb]: one line naming it, and nothing fetched."""
    from dltut import download

    monkeypatch.setitem(sys.modules, "sacremoses", None)
    monkeypatch.setattr(download, "fetch", lambda *args, **kwargs: pytest.fail("downloaded"))
    assert imdb_preprocess.main(["--download", str(tmp_path / "aclImdb_v1.tar.gz"),
                                 str(tmp_path / "imdb.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'dltut[imdb]'" in err
    assert list(tmp_path.iterdir()) == []
