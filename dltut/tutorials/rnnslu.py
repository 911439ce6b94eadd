"""Slot filling on ATIS with an Elman recurrent network and word embeddings (the tutorial's
rnnslu.py).

Spoken language understanding as sequence labelling: each word of a request such as "show flights
from Boston to New York today" gets a slot label in the IOB representation (``O``,
``B-fromloc.city_name``, ``B-toloc.city_name``, ``I-toloc.city_name``, ``B-depart_date.today``,
...). Each word index becomes a row of a learned embedding matrix; the embeddings of a context
window of ``cs`` words around each word are concatenated into one input vector; an Elman network
runs over the sentence, one hidden state per word, and a softmax layer on top gives each word's
label distribution:

.. math::
    x_t = [e_{w_{t - \\lfloor cs/2 \\rfloor}}, \\ldots, e_{w_{t + \\lfloor cs/2 \\rfloor}}]
    \\qquad (e_{-1}: \\text{the padding row})

    h_t = \\sigma(x_t W_x + h_{t-1} W_h + b_h), \\qquad h_{-1} = h_0 \\text{ (learned)}

    P(y_t = i \\mid w) = softmax(h_t W + b)_i

Training is plain SGD, one update per sentence on the mean negative log-likelihood of its labels,
after which every embedding is scaled back to unit length. After each epoch the validation and
test sentences are labelled and scored with conlleval's chunk F1 (``dltut.conlleval``: the
tutorial ran the perl script); the model of the best validation F1 is kept, and the learning rate
is halved, the model set back to the best one, once 10 epochs have passed without a new best.

References: G. Mesnil, X. He, L. Deng and Y. Bengio, Investigation of Recurrent-Neural-Network
Architectures and Learning Methods for Spoken Language Understanding, Interspeech 2013.
"""

import dataclasses
import gzip
import logging
import os
import random
import timeit
import zlib
from pathlib import Path

import numpy

from dltut import conlleval as _conlleval
from dltut import engine, pickles, saving
from dltut.atomic import atomic_write, check_output_folder
from dltut.data import DataError
from dltut.epochs import Interrupted
from dltut.engine import T
from dltut.fitting import check_positive_integers, check_seed, prepare
from dltut.trainer import StopRequest
from dltut.tutorials.mlp import sigmoid

log = logging.getLogger(__name__)

N_FOLDS = 5  # atis.fold0.pkl.gz ... atis.fold4.pkl.gz
# where the tutorial's data/download.sh fetched the folds from (dltut downloads nothing)
ATIS_URL = "http://lisaweb.iro.umontreal.ca/transfert/lisa/users/mesnilgr/atis/"
DICT_KEYS = ("words2idx", "tables2idx", "labels2idx")
# fitting.Options
RUN_OPTIONS = ("floatX", "mode", "checkpoint", "checkpoint_every", "resume", "overwrite")
MODEL_FILE = "model.npz"  # what savemodel writes into the output folder

# The tutorial's settings: main()'s param when none is given.
DEFAULT_PARAM = {
    "fold": 3,  # which of the 5 folds (0-4)
    "data": "atis",  # "atis": the folds of ``dataset``; "toy": toy_fold(**TOY) (no files)
    "lr": 0.0970806646812754,  # the learning rate at the start
    "verbose": 1,  # log each new best
    "decay": True,  # halve the learning rate after 10 epochs without a new best
    "win": 7,  # number of words in the context window
    "nhidden": 200,  # number of hidden units
    "seed": 345,  # seeds numpy's draws and Python's shuffles
    "emb_dimension": 50,  # dimension of a word embedding
    "nepochs": 60,  # 60 is recommended
    "savemodel": False,  # write the best model to the output folder
}
DATA = ("atis", "toy")  # what param["data"] may name
TOY = {"n_train": 300, "n_valid": 60, "n_test": 60, "seed": 0}  # the made fold of data "toy"
DECAY_PATIENCE = 10  # epochs without a new best before the learning rate is halved
MIN_LEARNING_RATE = 1e-5  # training stops when the learning rate falls below it


# ----------------------------------------------------------------------------------------------
# The data


def shuffle(lol, seed):
    """Shuffle each list of ``lol`` in place, all in the same order.

    Python's ``random`` is seeded with ``seed`` before each list, so every list gets the same
    permutation; the tutorial calls this once an epoch with the same seed.
    """
    for items in lol:
        random.seed(seed)
        random.shuffle(items)


def contextwin(l, win):
    """The context windows of a sentence: for each word index of ``l``, the ``win`` indexes
    around it, padded with -1 (the padding embedding) at both ends.

    >>> contextwin([0, 1, 2, 3, 4], 3)
    [[-1, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, -1]]
    """
    if isinstance(win, bool) or not isinstance(win, int) or win < 1 or win % 2 != 1:
        raise ValueError(f"win must be an odd positive integer (the word and as many words on "
                         f"each side), got {win!r}")
    l = list(l)
    lpadded = win // 2 * [-1] + l + win // 2 * [-1]
    return [lpadded[i:(i + win)] for i in range(len(l))]


def default_folder():
    """Where ``atisfold`` looks for the folds: ``$ATISDATA`` (the tutorial's variable), else
    ``data`` in the working directory."""
    return Path(os.environ.get("ATISDATA") or "data")


def atisfold(fold, folder=None):
    """``(train_set, valid_set, test_set, dicts)`` of ATIS fold ``fold`` (0-4), read from
    ``atis.fold{fold}.pkl.gz`` in ``folder`` (``default_folder()`` if None).

    Each set is ``(lex, ne, y)``: lists of int arrays, one per sentence, of word indexes, named
    entity indexes and label indexes; ``dicts`` maps ``words2idx``, ``tables2idx`` and
    ``labels2idx`` to dicts of names to indexes. The file is a Python 2 pickle, read with
    ``dltut.pickles`` (no code in it runs).
    """
    if isinstance(fold, bool) or fold not in range(N_FOLDS):
        raise ValueError(f"fold must be one of 0-{N_FOLDS - 1} (the five ATIS folds), "
                         f"got {fold!r}")
    folder = Path(folder) if folder is not None else default_folder()
    name = f"atis.fold{fold}.pkl.gz"
    path = folder / name
    if not path.is_file():
        raise DataError(f"{path}: no such file; the tutorial's ATIS folds came from "
                        f"{ATIS_URL}{name} (its data/download.sh): put atis.fold0-4.pkl.gz in "
                        f"{folder}, or set ATISDATA to their folder")
    return load_fold(path)


def load_fold(path):
    """One ATIS fold file (``.pkl.gz`` or ``.pkl``): ``(train_set, valid_set, test_set,
    dicts)``, checked (see ``atisfold``)."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            fold = pickles.load(f, source=path)
    except pickles.UnsafePickleError as error:
        raise DataError(str(error)) from None
    except (EOFError, OSError, zlib.error, pickles.pickle.UnpicklingError, ValueError,
            TypeError, AttributeError, ImportError, IndexError, KeyError) as error:
        raise DataError(f"{path}: truncated or corrupt pickle ({error}); "
                        "re-copy the file") from None
    return check_fold(fold, path)


def check_fold(fold, where="the fold"):
    """``fold`` as ``atisfold`` returns it, or a DataError saying what in it is wrong.

    The sets become lists of int32 arrays (the tutorial's types: its compiled functions take
    int32); the indexes of ``words2idx`` and ``labels2idx`` must be integers from 0 to their
    length - 1 (the network has one output per label), and every word and label of the sentences
    one of them.
    """
    if not isinstance(fold, (tuple, list)) or len(fold) != 4:
        raise DataError(f"{where}: expected (train_set, valid_set, test_set, dicts), got "
                        f"{type(fold).__name__} of length {_length(fold)}")
    *sets, dicts = fold
    if not isinstance(dicts, dict) or any(not isinstance(dicts.get(key), dict)
                                          for key in DICT_KEYS):
        got = _shown(sorted(map(str, dicts))) if isinstance(dicts, dict) else \
            type(dicts).__name__
        raise DataError(f"{where}: dicts must be a dict of the dicts {', '.join(DICT_KEYS)}, got "
                        f"{got}")
    n_words, n_labels = len(dicts["words2idx"]), len(dicts["labels2idx"])
    for key, n in (("labels2idx", n_labels), ("words2idx", n_words)):
        bad = next((v for v in dicts[key].values() if not isinstance(v, (int, numpy.integer))
                    or not 0 <= v < n), None)
        if bad is not None:  # the network has n outputs (labels) or n + 1 embeddings (words)
            raise DataError(f"{where}: {key} has the index {_shown(bad)}; its {n} indexes must be "
                            f"integers in 0-{n - 1}")
    word_indexes = set(dicts["words2idx"].values())
    label_indexes = set(dicts["labels2idx"].values())
    checked = []
    for set_name, one_set in zip(("train", "valid", "test"), sets):
        if not isinstance(one_set, (tuple, list)) or len(one_set) != 3:
            raise DataError(f"{where}: the {set_name} set must be (lex, ne, y), got "
                            f"{type(one_set).__name__} of length {_length(one_set)}")
        for part, seq in zip(("lex", "ne", "y"), one_set):
            if not _is_sequence(seq):
                raise DataError(f"{where}: the {set_name} set's {part} must be a list of one "
                                f"index array a sentence, got {_described(seq)}")
            if len(seq) == 0:
                raise DataError(f"{where}: the {set_name} set has no sentences ({part} is empty; "
                                f"an empty set scores an F1 of 0.0): re-copy the fold")
        lex, ne, y = ([_int_array(s, f"{where}: {set_name} {part} {i}") for i, s in enumerate(seq)]
                      for part, seq in zip(("lex", "ne", "y"), one_set))
        if not len(lex) == len(ne) == len(y):
            raise DataError(f"{where}: the {set_name} set has {len(lex)} sentences, {len(ne)} "
                            f"named-entity sequences and {len(y)} label sequences")
        for i, (words, labels) in enumerate(zip(lex, y)):
            if len(words) != len(labels) or len(words) == 0:
                raise DataError(f"{where}: {set_name} sentence {i} has {len(words)} words and "
                                f"{len(labels)} labels; a sentence needs one label per word")
            bad_word = next((int(w) for w in words if int(w) not in word_indexes), None)
            if bad_word is not None:
                raise DataError(f"{where}: {set_name} sentence {i}: word index {bad_word} is not "
                                f"in words2idx (0-{n_words - 1})")
            bad_label = next((int(v) for v in labels if int(v) not in label_indexes), None)
            if bad_label is not None:
                raise DataError(f"{where}: {set_name} sentence {i}: label {bad_label} is not in "
                                f"labels2idx (0-{n_labels - 1})")
        checked.append((lex, ne, y))
    return (*checked, dicts)


def _length(value):
    try:
        return len(value)
    except TypeError:
        return "-"


def _shown(value):
    """``value``'s repr on one line (an array's spans lines), cut to 60 characters."""
    return " ".join(repr(value).split())[:60]


def _is_sequence(value):
    return isinstance(value, (tuple, list)) or isinstance(value, numpy.ndarray) and value.ndim


def _described(value):
    if _is_sequence(value):
        return f"an empty {type(value).__name__}" if len(value) == 0 else \
            f"a {type(value).__name__} of {len(value)}"
    return f"a value of type {type(value).__name__}"


def _int_array(sequence, where):
    """``sequence`` (an int array, or a list of ints) as int32, checked: indexes beyond int32
    would wrap round into valid ones."""
    if isinstance(sequence, (tuple, list)) and all(
            isinstance(v, (int, numpy.integer)) and not isinstance(v, (bool, numpy.bool_))
            for v in sequence):
        beyond = [v for v in sequence if not -2**31 <= v < 2**31]
        if beyond:
            raise DataError(f"{where}: index {beyond[0]} is beyond int32; re-copy the fold")
        sequence = numpy.array(sequence, dtype="int64")
    if not isinstance(sequence, numpy.ndarray) or sequence.ndim != 1 or not (
            sequence.size == 0 or numpy.issubdtype(sequence.dtype, numpy.integer)):
        shape = f" of shape {sequence.shape}" if isinstance(sequence, numpy.ndarray) else ""
        kind = sequence.dtype if isinstance(sequence, numpy.ndarray) else _described(sequence)
        raise DataError(f"{where}: expected a 1-d array of int indexes, got {kind}{shape}")
    beyond = sequence[(sequence < -2**31) | (sequence >= 2**31)]
    if beyond.size:
        raise DataError(f"{where}: index {beyond[0]} is beyond int32; re-copy the fold")
    return sequence.astype("int32")


# ----------------------------------------------------------------------------------------------
# Scoring


def conlleval(p, g, w, filename=None):
    """Precision, recall and F1 of predicted label sequences, as the tutorial computed them.

    ``p``, ``g``, ``w``: the predicted labels, the correct labels and the words of each sentence
    (names, not indexes). The tutorial wrote them as conlleval.pl's input (``BOS O O``, one
    ``word correct predicted`` line per word, ``EOS O O`` and an empty line per sentence), ran the
    script and read back ``{'p': precision, 'r': recall, 'f1': F1}`` with two decimals, as
    printed; so does this, without perl (``dltut.conlleval``). That file is written to
    ``filename`` if given.
    """
    lines = []
    for sl, sp, sw in zip(g, p, w):
        lines.append("BOS O O")
        lines.extend(f"{word} {correct} {predicted}" for correct, predicted, word
                     in zip(sl, sp, sw))
        lines.extend(["EOS O O", ""])
    if filename is not None:
        text = "".join(line + "\n" for line in lines)
        atomic_write(filename, lambda file: file.write(text.encode("utf-8")))
    return _conlleval.evaluate_lines(lines).rounded()


# ----------------------------------------------------------------------------------------------
# The model


# the one mode RNNSLU cannot run in, and why (dltut's default JAX mode: its functions compile in C)
NOT_IN_JAX = engine.NotIn("RNNSLU", "jax", "PyTensor's JAX backend cannot trace the gradient of a "
                          "scan over sentences of any length", logger=log)


class RNNSLU:
    """An Elman network over word embeddings and context windows.

    ``nh``: hidden units, ``nc``: classes (labels), ``ne``: words in the vocabulary, ``de``:
    dimension of a word embedding, ``cs``: words in a context window. The parameters are drawn
    from ``rng`` (``RandomState(345)`` if None) as the tutorial drew them from NumPy's global
    state: ``embeddings`` (ne + 1, de; the last row is the padding word -1), ``wx`` (de * cs, nh),
    ``wh`` (nh, nh) and ``w`` (nh, nc), each ``0.2 * uniform(-1, 1)``; ``bh``, ``b`` and the
    initial state ``h0`` start at zero. ``params`` is ``[emb, wx, wh, w, bh, b, h0]``.

    ``classify(idxs)`` gives the labels of one sentence's context-window matrix (int32, one row a
    word); ``sentence_train(idxs, y, lr)`` makes one SGD step on its mean negative
    log-likelihood and returns it. The tutorial then called ``normalize()``, which scales each
    embedding to unit length; here that scaling is part of ``sentence_train``'s update of the
    embeddings (the same values, one compiled call a sentence instead of two). ``normalize()``
    is still there. Each function is compiled when first used (``main`` compiles both before
    its clock starts, as the tutorial did in the constructor). In JAX mode (dltut's default)
    they are compiled in the C mode: PyTensor's JAX backend cannot trace the gradient of a scan
    over a sentence of any length.
    """

    def __init__(self, nh, nc, ne, de, cs, rng=None):
        check_positive_integers(nh=nh, nc=nc, ne=ne, de=de, cs=cs)
        if rng is None:
            rng = numpy.random.RandomState(345)
        self.nh, self.nc, self.ne, self.de, self.cs = nh, nc, ne, de, cs

        def uniform(shape, name):
            value = 0.2 * rng.uniform(-1.0, 1.0, shape)
            return engine.shared(value.astype(engine.floatX()), name=name)

        # parameters of the model
        self.emb = uniform((ne + 1, de), "embeddings")  # add one for padding at the end
        self.wx = uniform((de * cs, nh), "wx")
        self.wh = uniform((nh, nh), "wh")
        self.w = uniform((nh, nc), "w")
        self.bh = engine.shared_zeros((nh,), "bh")
        self.b = engine.shared_zeros((nc,), "b")
        self.h0 = engine.shared_zeros((nh,), "h0")
        self.params = [self.emb, self.wx, self.wh, self.w, self.bh, self.b, self.h0]

        # as many columns as context window size, as many lines as words in the sentence
        idxs = T.imatrix("idxs")
        x = self.emb[idxs].reshape((idxs.shape[0], de * cs))
        y_sentence = T.ivector("y_sentence")  # labels

        # x_t wx of every word at once, before the scan (as the tutorial's lstm.py does with its
        # inputs): one product reads wx once a sentence rather than once a word, forward and in
        # the gradient (docs/speed.md, "rnnslu")
        def recurrence(xw_t, h_tm1):
            return sigmoid(xw_t + T.dot(h_tm1, self.wh) + self.bh)

        h, _ = engine.scan(fn=recurrence, sequences=T.dot(x, self.wx), outputs_info=[self.h0],
                           n_steps=x.shape[0], name="recurrence")
        # the softmax of every step at once, after the scan (the tutorial's s_t, one row a word)
        p_y_given_x_sentence = engine.softmax(T.dot(h, self.w) + self.b)
        y_pred = T.argmax(p_y_given_x_sentence, axis=1)

        # cost and gradients and learning rate
        lr = T.scalar("lr")
        sentence_nll = -T.mean(T.log(p_y_given_x_sentence)[T.arange(x.shape[0]), y_sentence])
        sentence_gradients = engine.grad(sentence_nll, self.params)
        sentence_updates = {p: p - lr * g for p, g in zip(self.params, sentence_gradients)}
        sentence_updates[self.emb] = _unit_rows(sentence_updates[self.emb])

        # the compiled functions, each compiled when first used (see _compiled)
        self._graphs = {
            "classify": ([idxs], y_pred, []),
            "sentence_train": ([idxs, y_sentence, lr], sentence_nll,
                               list(sentence_updates.items())),
            "normalize": ([], [], [(self.emb, _unit_rows(self.emb))]),
        }
        self._functions = {}

    @property
    def classify(self):
        """``classify(idxs)``: the label indexes of a sentence's context-window matrix."""
        return self._compiled("classify")

    @property
    def sentence_train(self):
        """``sentence_train(idxs, y, lr)``: one SGD step; returns the NLL before it."""
        return self._compiled("sentence_train")

    def normalize(self):
        """Scale each embedding (row of ``emb``) to unit length."""
        self._compiled("normalize")()

    def prepare(self):
        """Compile the three functions now rather than at their first call (in one mode, said
        once)."""
        with NOT_IN_JAX.compiling():
            for name in self._graphs:
                self._compiled(name)

    def _compiled(self, name):
        if name not in self._functions:
            inputs, outputs, updates = self._graphs[name]
            with NOT_IN_JAX.compiling():
                self._functions[name] = engine.function(inputs, outputs, updates=updates,
                                                        name=name)
        return self._functions[name]

    def train(self, x, y, window_size, learning_rate):
        """One SGD step on the sentence of word indexes ``x`` with labels ``y``, the embeddings
        normalised after it; returns the sentence's negative log-likelihood before the step."""
        words = numpy.asarray(contextwin(x, window_size), dtype="int32")
        labels = numpy.asarray(y, dtype="int32")
        return self.sentence_train(words, labels, numpy.asarray(learning_rate,
                                                                dtype=engine.floatX()))

    def predict(self, x, window_size):
        """The label indexes of the sentence of word indexes ``x``."""
        return self.classify(numpy.asarray(contextwin(x, window_size), dtype="int32"))

    def get_values(self):
        """``{name: array}``: a copy of the parameters' values."""
        return {p.name: numpy.array(p.get_value()) for p in self.params}

    def set_values(self, values):
        for p in self.params:
            p.set_value(numpy.array(values[p.name]))

    def arch(self):
        """What a model file says of this network (``dltut.saving``'s ``arch``): its sizes."""
        return {"model": "rnnslu", "nh": self.nh, "nc": self.nc, "ne": self.ne, "de": self.de,
                "cs": self.cs}

    def save(self, folder):
        """Write the parameters and the sizes to ``folder/model.npz``, a ``dltut.saving`` model
        file (written to a temporary file, then renamed)."""
        saving.save_model(os.path.join(folder, MODEL_FILE), self.arch(), self.get_values())

    def load(self, folder):
        """Set the parameters from ``folder/model.npz`` written by ``save`` for these sizes; a
        ``saving.ModelFileError`` naming the file if it holds another model or other arrays."""
        path = os.path.join(folder, MODEL_FILE)
        saved = saving.load_model(path)
        if saved.arch.get("model") != "rnnslu":
            raise saving.ModelFileError(f"{path}: a {saved.arch['model']!r} model, not an "
                                        "RNNSLU's (savemodel writes those)")
        if saved.arch != self.arch():
            sizes = tuple(saved.arch.get(key) for key in ("nh", "nc", "ne", "de", "cs"))
            raise saving.ModelFileError(
                f"{path}: a model of sizes (nh, nc, ne, de, cs) = {sizes}, not "
                f"{(self.nh, self.nc, self.ne, self.de, self.cs)}")
        self.set_values(self.checked_values(path, saved.params))

    def checked_values(self, path, values):
        """``values`` (``{name: array}`` read from ``path``) as this network's parameters, in
        floatX; a ``saving.ModelFileError`` naming the file unless they are exactly its
        parameters, of its shapes, in floats (what ``set_values`` would otherwise take)."""
        names = sorted(p.name for p in self.params)
        if sorted(values) != names:
            raise saving.ModelFileError(f"{path}: arrays {sorted(values)}, an RNNSLU has "
                                        f"{names} (a file of another model?)")
        for p in self.params:
            value, shape = values[p.name], p.get_value(borrow=True).shape
            if value.shape != shape or value.dtype.kind != "f":
                raise saving.ModelFileError(
                    f"{path}: {p.name} is {value.dtype} of shape {value.shape}, this "
                    f"network's is floats of shape {shape} (a file of another model?)")
        return {name: value.astype(engine.floatX()) for name, value in values.items()}


def _unit_rows(emb):
    return emb / T.sqrt((emb ** 2).sum(axis=1)).dimshuffle(0, "x")


# ----------------------------------------------------------------------------------------------
# The experiment


@dataclasses.dataclass
class RNNSLURun:
    """What ``main`` did."""

    param: dict  # the settings and, as the tutorial added them, clr, ce, vf1, tf1, vp, ...
    epochs: list  # one dict an epoch: epoch, clr (the rate it trained with), valid, test, new_best
    rnn: RNNSLU  # the model as training left it
    best_params: dict  # the parameters of the best epoch's model
    folder: str  # the output folder (conlleval's input files, the saved model)
    training_time: float  # seconds spent training (the epochs' "completed in" summed)


def main(param=None, dataset=None, output_folder="rnnslu", **options):
    """Train the Elman network on an ATIS fold with early stopping on validation F1 (rnnslu.py).

    ``param`` holds the settings, ``DEFAULT_PARAM`` (the tutorial's) where a key is missing.
    ``dataset`` is the folder of the folds (``default_folder()`` if None), one fold file, or the
    fold itself as ``atisfold`` returns it. Each epoch: the training sentences are shuffled
    (Python's ``random`` seeded with ``seed`` each time), one SGD step is made per sentence,
    then the validation and test sentences are labelled and scored with conlleval; a validation
    F1 above the best so far logs ``NEW BEST`` and keeps the model. With ``decay``, once the
    best is 10 or more epochs old the learning rate is halved and the model set back to the best
    one (at every such epoch: the tutorial's model then is its best model, and goes on training);
    training stops when the rate falls below 1e-5 or after ``nepochs`` epochs. The conlleval
    input files (``current.*.txt``, ``best.*.txt``) go into ``output_folder``, and with
    ``savemodel`` the best model (``model.npz``). ``options``: ``floatX`` and ``mode`` (``c``
    or ``numba``; where the current mode is JAX, dltut's default, the run compiles in C mode);
    ``checkpoint`` (a ``.npz`` written every ``checkpoint_every`` epochs and at the end: the
    model, the best model kept and the run's counters; a fresh run refuses to replace an
    existing one unless ``overwrite``) and ``resume`` (such a file: the run goes on as the
    unbroken run would, with the same settings; ``nepochs`` may differ). The output folder is
    created if missing and checked writable once the fold is read, before any training. SIGINT or
    SIGTERM stop the run after the current sentence with ``dltut.epochs.Interrupted``; the
    checkpoint holds the last epoch it wrote. Returns an ``RNNSLURun``.
    """
    param = _check_param(param)
    if param["data"] == "toy" and dataset is not None:
        raise ValueError("data 'toy' trains on a made fold (toy_fold): give no dataset "
                         "(--dataset), or data 'atis' (no --toy) to read it")
    NOT_IN_JAX.check(options.get("mode"))
    options = prepare(options, only=RUN_OPTIONS)
    return _main(param, dataset, output_folder, options)


main.__test__ = False


def _main(param, dataset, output_folder, options):
    log.info("%s", str(param))  # formatted now: param gets the run's results later
    train_set, valid_set, test_set, dic = (toy_fold(**TOY) if param["data"] == "toy"
                                           else _load(dataset, param["fold"]))
    check_output_folder(output_folder, "output_folder")  # before training, not at a new best

    idx2label = {k: v for v, k in dic["labels2idx"].items()}
    idx2word = {k: v for v, k in dic["words2idx"].items()}

    train_lex, train_ne, train_y = (list(s) for s in train_set)  # shuffled in place
    valid_lex, valid_ne, valid_y = valid_set
    test_lex, test_ne, test_y = test_set

    vocsize = len(dic["words2idx"])
    nclasses = len(dic["labels2idx"])

    groundtruth_valid = [[idx2label[x] for x in y] for y in valid_y]
    words_valid = [[idx2word[x] for x in w] for w in valid_lex]
    groundtruth_test = [[idx2label[x] for x in y] for y in test_y]
    words_test = [[idx2word[x] for x in w] for w in test_lex]

    # instantiate the model; the tutorial seeded numpy's global state and Python's random
    rng = numpy.random.RandomState(param["seed"])
    random.seed(param["seed"])
    rnn = RNNSLU(nh=param["nhidden"], nc=nclasses, ne=vocsize, de=param["emb_dimension"],
                 cs=param["win"], rng=rng)

    # train with early stopping on validation set
    state = _RunState(param, sizes=[vocsize, nclasses, len(train_lex), len(valid_lex),
                                    len(test_lex)])
    # a failed write is a warning naming the file: training goes on (saving.CheckpointWriter)
    write_checkpoint = saving.CheckpointWriter(options.checkpoint, state.save)
    if options.resume is not None:
        state.load(options.resume, rnn)
        for _ in range(state.epochs_done):  # the training order after those epochs
            shuffle([train_lex, train_ne, train_y], param["seed"])
    rnn.prepare()  # compiled now, before the clock starts
    with StopRequest() as stop:
        for e in range(state.epochs_done, param["nepochs"]):
            if state.stopped:
                break
            # shuffle
            shuffle([train_lex, train_ne, train_y], param["seed"])
            param["ce"] = e
            tic = timeit.default_timer()
            for x, y in zip(train_lex, train_y):
                rnn.train(x, y, param["win"], param["clr"])
                if stop():
                    raise Interrupted("training", e, options.checkpoint)
            elapsed = timeit.default_timer() - tic
            state.training_time += elapsed
            log.info("[learning] epoch %i >> %2.2f%% completed in %.2f (sec) <<", e, 100.0,
                     elapsed)

            # evaluation: the predicted labels' names, scored by conlleval
            res_test = conlleval([[idx2label[i] for i in rnn.predict(x, param["win"])]
                                  for x in test_lex], groundtruth_test, words_test,
                                 os.path.join(output_folder, "current.test.txt"))
            res_valid = conlleval([[idx2label[i] for i in rnn.predict(x, param["win"])]
                                   for x in valid_lex], groundtruth_valid, words_valid,
                                  os.path.join(output_folder, "current.valid.txt"))
            state.epochs.append({"epoch": e, "clr": param["clr"], "valid": res_valid,
                                 "test": res_test, "new_best": res_valid["f1"] > state.best_f1})

            if res_valid["f1"] > state.best_f1:
                if param["savemodel"]:
                    rnn.save(output_folder)
                state.best_params = rnn.get_values()
                state.best_f1 = res_valid["f1"]
                if param["verbose"]:
                    log.info("NEW BEST: epoch %s valid F1 %s best test F1 %s", e,
                             res_valid["f1"], res_test["f1"])
                param["vf1"], param["tf1"] = res_valid["f1"], res_test["f1"]
                param["vp"], param["tp"] = res_valid["p"], res_test["p"]
                param["vr"], param["tr"] = res_valid["r"], res_test["r"]
                param["be"] = e
                for split in ("test", "valid"):
                    os.replace(os.path.join(output_folder, f"current.{split}.txt"),
                               os.path.join(output_folder, f"best.{split}.txt"))

            # learning rate decay if no improvement in 10 epochs
            if param["decay"] and abs(param["be"] - param["ce"]) >= DECAY_PATIENCE:
                param["clr"] *= 0.5
                # The tutorial's `rnn = best_rnn`: the model goes back to the best one's values
                # the first time; from then on rnn *is* best_rnn, so later halvings (until a new
                # best) leave the model as it is.
                if state.best_params is not None:
                    rnn.set_values(state.best_params)
                    state.best_params = None
            state.epochs_done = e + 1
            state.stopped = param["clr"] < MIN_LEARNING_RATE
            if options.checkpoint and (state.epochs_done % options.checkpoint_every == 0
                                       or state.epochs_done == param["nepochs"]
                                       or state.stopped):
                write_checkpoint(options.checkpoint, rnn)
            if state.stopped:
                break

    log.info("BEST RESULT: epoch %s valid F1 %s best test F1 %s with the model %s", param["be"],
             param["vf1"], param["tf1"], output_folder)
    # after a setback without a new best since, the best model is the model itself
    best = state.best_params if state.best_params is not None else rnn.get_values()
    return RNNSLURun(param, state.epochs, rnn, best, output_folder, state.training_time)


class _RunState:
    """What ``main`` carries from epoch to epoch, and its checkpoint (``saving.save_run``: the
    model's values, the kept best model's, and the rest as the run's counters)."""

    # the results the tutorial adds to param as it goes
    RESULTS = ("clr", "ce", "vf1", "tf1", "vp", "tp", "vr", "tr", "be")
    # what may differ between a checkpoint's run and the run resuming it
    FREE = ("nepochs", "verbose", "savemodel")

    def __init__(self, param, sizes):
        self.param = param
        self.sizes = sizes  # words, labels, training, validation and test sentences
        param["clr"] = param["lr"]
        self.best_f1 = -numpy.inf
        self.best_params = None  # None once the model has been set back to them
        self.epochs = []
        self.epochs_done = 0
        self.stopped = False  # the learning rate fell below MIN_LEARNING_RATE
        self.training_time = 0.0

    def _settings(self):
        return {**{key: self.param[key] for key in DEFAULT_PARAM if key not in self.FREE},
                "data sizes": self.sizes, "floatX": engine.floatX()}

    def save(self, path, rnn):
        params = saving.by_name(rnn.params)
        best = None if self.best_params is None else [self.best_params[n] for n in params]
        counters = {"best_f1": self.best_f1, "epochs": self.epochs,
                    "epochs_done": self.epochs_done, "stopped": self.stopped,
                    "training_time": self.training_time,
                    "results": {key: self.param[key] for key in self.RESULTS if key in self.param}}
        saving.save_run(path, "rnnslu", self._settings(), params, params, counters=counters,
                        best=best)

    def load(self, path, rnn):
        saved = saving.read_run(path, "rnnslu", self._settings(), _COUNTERS, state=False,
                                check=_run_problem)
        params = saving.by_name(rnn.params)
        saved.restore(params, params)
        if saved.best is not None:
            self.best_params = dict(zip(params, saved.best))
        run = saved.run
        self.param.update(run["results"])
        self.best_f1, self.epochs = run["best_f1"], run["epochs"]
        self.epochs_done, self.stopped = run["epochs_done"], run["stopped"]
        self.training_time = run["training_time"]
        log.info("... resuming from %s (%d epochs done)", path, self.epochs_done)


def _is_scores(value):  # conlleval's rounded {p, r, f1}
    return isinstance(value, dict) and sorted(value) == ["f1", "p", "r"] \
        and all(map(saving.is_number, value.values()))


# the run's counters in its checkpoint (_RunState.save): each key and its kind
_COUNTERS = {
    "best_f1": (saving.is_number, "a number"), "epochs": list,
    "epochs_done": (saving.is_index, "an epoch count"), "stopped": bool,
    "training_time": (lambda value: saving.is_number(value) and value >= 0, "seconds (>= 0)"),
    "results": dict,
}
_EPOCH_KEYS = {  # one of its epochs
    "epoch": saving.is_index, "clr": lambda value: saving.is_number(value) and value > 0,
    "valid": _is_scores, "test": _is_scores, "new_best": lambda value: isinstance(value, bool),
}


def _run_problem(run):
    """What is wrong with the counters of a checkpoint (``saving.read_run``'s ``check``): one
    record per epoch done (what a resume replays, so a file cannot ask for more), and the
    tutorial's results of those epochs (``clr`` > 0, the current and best epochs among them)."""
    if not 1 <= run["epochs_done"] == len(run["epochs"]):
        return f"{run['epochs_done']} epochs done and {len(run['epochs'])} epoch records"
    for index, epoch in enumerate(run["epochs"]):
        if not isinstance(epoch, dict) or sorted(epoch) != sorted(_EPOCH_KEYS) \
                or not all(test(epoch[key]) for key, test in _EPOCH_KEYS.items()):
            return f"epoch record {index} {str(epoch)[:80]}"
    results = run["results"]
    if sorted(results) != sorted(_RunState.RESULTS):
        return f"results {sorted(results)}, expected {', '.join(_RunState.RESULTS)}"
    for key, value in results.items():
        if key in ("ce", "be"):  # epochs among those done
            ok = saving.is_index(value) and value < run["epochs_done"]
        else:
            ok = saving.is_number(value) and (key != "clr" or value > 0)
        if not ok:
            return f"results {key} {str(value)[:80]}"
    return None


def _load(dataset, fold):
    """The fold ``main`` trains on: ``dataset`` is a folder of folds (or None), a fold file, or
    the fold itself."""
    if dataset is None or isinstance(dataset, (str, os.PathLike)):
        path = Path(dataset) if dataset is not None else None
        if path is not None and path.is_file():
            return load_fold(path)
        return atisfold(fold, path)
    return check_fold(dataset, "dataset")


def _check_param(param):
    """``DEFAULT_PARAM`` updated with ``param``, each value checked; a ValueError names a bad
    one."""
    param = dict(param or {})
    unknown = set(param) - set(DEFAULT_PARAM)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}: main takes "
                         f"{', '.join(DEFAULT_PARAM)}")
    param = {**DEFAULT_PARAM, **param}
    if param["data"] not in DATA:
        raise ValueError(f"data {param['data']!r}: the tutorial has 'atis' (the folds of "
                         "dataset), and dltut 'toy' (a made fold, toy_fold)")
    if isinstance(param["fold"], bool) or param["fold"] not in range(N_FOLDS):
        raise ValueError(f"fold must be one of 0-{N_FOLDS - 1}, got {param['fold']!r}")
    lr = param["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
        raise ValueError(f"lr must be a positive number (the learning rate), got {lr!r}")
    check_positive_integers(nhidden=param["nhidden"], emb_dimension=param["emb_dimension"],
                            nepochs=param["nepochs"])
    contextwin([], param["win"])  # an odd positive integer
    check_seed(param["seed"])
    return param


# ----------------------------------------------------------------------------------------------
# Made data, in the folds' format (for examples and tests: the ATIS folds are not shipped)

_FILLERS = ("show", "me", "flights", "please", "i", "want", "a", "flight", "list", "the",
            "cheapest", "fares", "what", "are")
_CITIES = (("boston",), ("denver",), ("dallas",), ("atlanta",), ("new", "york"),
           ("san", "francisco"), ("las", "vegas"))
_DATES = (("today",), ("tomorrow",), ("monday",), ("next", "friday"))


def toy_fold(n_train=60, n_valid=20, n_test=20, seed=0):
    """A made fold in ``atisfold``'s format: requests such as "show me flights from boston to
    new york tomorrow", with the slots ``B-/I-fromloc``, ``B-/I-toloc``, ``B-/I-date`` and ``O``
    (7 labels, 32 words). Drawn from ``RandomState(seed)``; the ``ne`` sequences are zeros."""
    rng = numpy.random.RandomState(seed)
    words = sorted(set(_FILLERS) | {"from", "to", "on"}
                   | {w for c in _CITIES for w in c} | {w for d in _DATES for w in d})
    labels = ["O"] + [f"{p}-{slot}" for slot in ("fromloc", "toloc", "date") for p in "BI"]
    words2idx = {w: i for i, w in enumerate(words)}
    labels2idx = {label: i for i, label in enumerate(labels)}

    def phrase(marker, names, slot):
        name = names[rng.randint(len(names))]
        tags = [f"B-{slot}"] + [f"I-{slot}"] * (len(name) - 1)
        return ([marker] if marker else []) + list(name), (["O"] if marker else []) + tags

    def sentence():
        sentence_words, sentence_tags = [], []
        for _ in range(1 + rng.randint(3)):
            sentence_words.append(_FILLERS[rng.randint(len(_FILLERS))])
            sentence_tags.append("O")
        parts = [phrase("from", _CITIES, "fromloc"), phrase("to", _CITIES, "toloc")]
        if rng.rand() < 0.5:
            parts.reverse()
        if rng.rand() < 0.6:
            parts.append(phrase("on" if rng.rand() < 0.5 else None, _DATES, "date"))
        for part_words, part_tags in parts[:1 + rng.randint(len(parts))]:
            sentence_words += part_words
            sentence_tags += part_tags
        return (numpy.array([words2idx[w] for w in sentence_words], dtype="int32"),
                numpy.array([labels2idx[t] for t in sentence_tags], dtype="int32"))

    sets = []
    for n in (n_train, n_valid, n_test):
        lex, y = zip(*(sentence() for _ in range(n)))
        sets.append((list(lex), [numpy.zeros(len(s), dtype="int32") for s in lex], list(y)))
    dicts = {"words2idx": words2idx, "tables2idx": {"<NOTABLE>": 0}, "labels2idx": labels2idx}
    return (*sets, dicts)
