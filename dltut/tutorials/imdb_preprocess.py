"""Build the LSTM tutorial's IMDB data from the Large Movie Review Dataset (the tutorial's
imdb_preprocess.py).

``python -m dltut.tutorials.imdb_preprocess aclImdb_v1.tar.gz imdb.npz`` reads the reviews of
the tarball (or of its extracted ``aclImdb`` folder), tokenizes them as Moses does, lowercases
them, numbers the words of the training reviews by descending frequency from 2 (0 is padding, 1
an unknown word) and writes the reviews as indices to ``imdb.npz`` (``imdb.save_npz``'s format,
which ``train_lstm(data_path="imdb.npz")`` reads) and the dictionary to ``imdb.dict.json``: no
pickle. With ``--download`` it first fetches the tarball (``dltut.download``: progress bar,
resume, SHA256 check), once the tokenizer is found (a missing sacremoses is said before the
download, not after it).

As the tutorial's script:

* each review is the first line of its file, stripped; ``train/pos`` then ``train/neg`` (labels 1
  then 0), likewise ``test``; the files of a folder in name order (the tutorial took ``glob``'s
  order, which is the file system's);
* Moses' tokenizer (``tokenizer.perl -l en -q``, which escapes ``& | < > ' " [ ]`` as
  ``&amp;`` ...): here its Python port sacremoses (``pip install dltut[imdb]``), or the perl script
  itself with ``--tokenizer-perl PATH`` (see ``docs/lstm.md`` for where the two differ);
* lowercasing of ASCII letters only, as Python 2's ``str.lower`` did on the bytes the tutorial
  read (``É`` stays ``É``), then splitting on whitespace;
* the dictionary counts the training reviews' words; equal counts are ordered by first
  appearance (the tutorial's order among equal counts was Python 2's dict order through NumPy's
  unstable argsort: arbitrary).
"""

import argparse
import collections
import json
import logging
import os
import subprocess
import sys
import tarfile

from dltut.atomic import atomic_write
from dltut.tutorials import imdb

log = logging.getLogger(__name__)

FOLDERS = ("train/pos", "train/neg", "test/pos", "test/neg")
TOKENIZER_ARGS = ("-l", "en", "-q", "-")  # the tutorial's tokenizer.perl arguments
# sha256 of aclImdb_v1.tar.gz, as other projects check it (scikit-learn's examples, Julia's
# MLDatasets; md5 7c2ac02c03563afcf9b574c7e56c153a in PaddlePaddle's and torchtext's); not
# checked here against a download (no network)
ACLIMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def moses_tokenizer():
    """``tokenize(sentences)`` by sacremoses (Moses' tokenizer for English, escaping on)."""
    try:
        from sacremoses import MosesTokenizer
    except ImportError:
        raise ImportError("building IMDB needs sacremoses: pip install 'dltut[imdb]' (or "
                          "pip install sacremoses), or pass --tokenizer-perl tokenizer.perl") \
            from None
    tokenizer = MosesTokenizer(lang="en")
    return lambda sentences: [tokenizer.tokenize(s, return_str=True, escape=True)
                              for s in sentences]


def perl_tokenizer(script):
    """``tokenize(sentences)`` by Moses' own ``tokenizer.perl`` at ``script``, as the tutorial
    ran it: all the sentences through one process, one per line."""
    if not os.path.isfile(script):
        raise FileNotFoundError(f"{script}: no such tokenizer; it is "
                                "scripts/tokenizer/tokenizer.perl of github.com/moses-smt/"
                                "mosesdecoder, beside its scripts/share/nonbreaking_prefixes")

    def tokenize(sentences):
        done = subprocess.run(["perl", script, *TOKENIZER_ARGS], input="\n".join(sentences),
                              capture_output=True, text=True, encoding="utf-8", check=True)
        toks = done.stdout.split("\n")[:-1]
        if len(toks) != len(sentences):
            raise RuntimeError(f"{script} returned {len(toks)} lines for {len(sentences)} "
                               "sentences")
        return toks

    return tokenize


def words(tokenized):
    """The words of a tokenized review: ASCII-lowercased (as Python 2's ``str.lower`` of bytes),
    split on whitespace."""
    return tokenized.strip().translate(_ASCII_LOWER).split()


def build_dict(sentences):
    """``{word: index}``: the words of the tokenized ``sentences`` by descending count, from 2;
    equal counts in order of first appearance."""
    wordcount = collections.Counter()
    for ss in sentences:
        wordcount.update(words(ss))
    ranked = sorted(wordcount, key=lambda w: -wordcount[w])  # stable: first appearance first
    log.info("%d  total words  %d  unique words", sum(wordcount.values()), len(ranked))
    return {w: idx + 2 for idx, w in enumerate(ranked)}  # leave 0 (padding) and 1 (unknown)


def grab_data(sentences, dictionary):
    """The tokenized ``sentences`` as lists of indices (1 for a word not in ``dictionary``)."""
    return [[dictionary.get(w, 1) for w in words(ss)] for ss in sentences]


def read_reviews(source):
    """``{folder: [first line of each review, stripped]}`` for ``FOLDERS``, from the tarball
    ``aclImdb_v1.tar.gz`` or its extracted ``aclImdb`` folder; files in name order."""
    source = os.fspath(source)
    if os.path.isdir(source):
        root = os.path.join(source, "aclImdb") if os.path.isdir(
            os.path.join(source, "aclImdb")) else source
        reviews = {}
        for folder in FOLDERS:
            directory = os.path.join(root, folder)
            if not os.path.isdir(directory):
                raise FileNotFoundError(f"{directory}: missing; {source} should be the "
                                        "extracted aclImdb folder (train/pos, train/neg, "
                                        "test/pos, test/neg)")
            names = sorted(n for n in os.listdir(directory) if n.endswith(".txt"))
            reviews[folder] = [_first_line(open(os.path.join(directory, n), "rb").read(),
                                           os.path.join(directory, n)) for n in names]
        return reviews
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source}: no such file; get {imdb.ACLIMDB} (or pass --download)")
    try:
        with tarfile.open(source, "r:*") as tar:
            found = {folder: [] for folder in FOLDERS}
            for member in tar:
                parts = member.name.split("/")
                if (member.isfile() and len(parts) == 4 and parts[0] == "aclImdb"
                        and "/".join(parts[1:3]) in found and parts[3].endswith(".txt")):
                    data = tar.extractfile(member).read()
                    found["/".join(parts[1:3])].append((parts[3], _first_line(data, member.name)))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"{source}: not a readable tar archive ({error}); download it again") \
            from error
    empty = [folder for folder, items in found.items() if not items]
    if empty:
        raise ValueError(f"{source}: no reviews in aclImdb/{', aclImdb/'.join(empty)}; it should "
                         f"be the Large Movie Review Dataset ({imdb.ACLIMDB})")
    return {folder: [text for _, text in sorted(items)] for folder, items in found.items()}


def _first_line(data, name):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{name}: not UTF-8 ({error})") from None
    return text.split("\n", 1)[0].strip()  # the tutorial's f.readline().strip()


def preprocess(source, tokenize=None):
    """``(train_set, test_set, dictionary)`` built from ``source`` as the tutorial's script."""
    reviews = read_reviews(source)
    tokenize = tokenize or moses_tokenizer()
    log.info("Tokenizing..")
    tokenized = {folder: tokenize(reviews[folder]) for folder in FOLDERS}
    log.info("Building dictionary..")
    dictionary = build_dict(tokenized["train/pos"] + tokenized["train/neg"])
    sets = []
    for split in ("train", "test"):
        pos = grab_data(tokenized[f"{split}/pos"], dictionary)
        neg = grab_data(tokenized[f"{split}/neg"], dictionary)
        sets.append((pos + neg, [1] * len(pos) + [0] * len(neg)))
    return sets[0], sets[1], dictionary


def write(path, train_set, test_set, dictionary, dict_path=None):
    """The sets as an .npz (``imdb.save_npz``) and the dictionary as JSON (``dict_path``, by
    default ``imdb.dict.json`` beside ``path``)."""
    imdb.save_npz(path, train_set, test_set)
    dict_path = dict_path or os.path.join(os.path.dirname(os.path.abspath(path)),
                                          "imdb.dict.json")
    text = json.dumps(dictionary, ensure_ascii=False, indent=0).encode("utf-8")
    atomic_write(dict_path, lambda file: file.write(text))
    return dict_path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m dltut.tutorials.imdb_preprocess",
        description="Build the LSTM tutorial's IMDB data (an .npz, no pickle) from the Large "
                    "Movie Review Dataset.")
    parser.add_argument("source", help="aclImdb_v1.tar.gz or its extracted aclImdb folder")
    parser.add_argument("out", nargs="?", default="imdb.npz", help="default imdb.npz")
    parser.add_argument("--dict", dest="dict_path", help="the dictionary's JSON (default "
                        "imdb.dict.json beside OUT)")
    parser.add_argument("--tokenizer-perl", metavar="PATH",
                        help="tokenize with Moses' tokenizer.perl instead of sacremoses")
    parser.add_argument("--download", action="store_true",
                        help=f"first download SOURCE from {imdb.ACLIMDB} (resumed if broken, "
                             "its SHA256 checked)")
    parser.add_argument("--url", default=imdb.ACLIMDB, help="where --download fetches from "
                        "(default the dataset's page)")
    parser.add_argument("--sha256", default=ACLIMDB_SHA256,
                        help="the tarball's checksum (default aclImdb_v1.tar.gz's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        tokenize = perl_tokenizer(args.tokenizer_perl) if args.tokenizer_perl else None
        if args.download:
            from dltut import download

            # a missing sacremoses is said before a long download, not after
            tokenize = tokenize or moses_tokenizer()

            download.fetch(args.url, args.source, sha256=args.sha256)
        train_set, test_set, dictionary = preprocess(args.source, tokenize)
        dict_path = write(args.out, train_set, test_set, dictionary, args.dict_path)
    except (OSError, ValueError, ImportError, RuntimeError,
            subprocess.CalledProcessError) as error:
        print(f"imdb_preprocess: error: {error}", file=sys.stderr)
        return 2
    log.info("wrote %s (%d train, %d test reviews) and %s (%d words)", args.out,
             len(train_set[0]), len(test_set[0]), dict_path, len(dictionary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
