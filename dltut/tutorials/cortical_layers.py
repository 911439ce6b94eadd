"""The cortical layers of the 1-D FCN tutorial: rays through BigBrain's cortex, labelled by layer.

Each example is a ray of 200 samples across the cortex with its label at each sample (0 outside
the cortex, 1-6 the six layers). The data (a preliminary version, ``TrainingData190417.tar.gz``)
is a folder ``6layers_segmentation`` of four text files, one ray a line, values separated by
spaces:

* ``training_raw.txt``: the raw intensities along each ray (floats),
* ``training_geo.txt``: the same, smoothed (floats),
* ``training_cls.txt``: the label of each sample (ints 0-6),
* ``training_regions.txt``: the brain region each ray comes from (ints; read, not trained on).

``Cortical6LayersDataset`` gives a set as the tutorial's Cortical6LayersDataset (its own 1-D
loader, code/cnn_1D_segm/data_loader/) gave it to train_fcn1D.py, which preloads the files:

* **Split.** The rays are numbered by line, the numbers shuffled by ``RandomState(1609)`` (the
  original seeded numpy's global generator: ``np.random.seed(1609)``), the first
  ``int(n * split)`` of the shuffled numbers are 'train', the last ``n - int(n * split)`` are
  'valid' (or 'val'), and 'test' is all of them in the shuffled order. The original left numpy's
  global generator in the state ``split_rng`` is left in, and Lasagne then drew the model's
  weights from it: pass ``dataset.split_rng`` where the original used numpy's global generator.
* **Channels.** ``smooth_or_raw`` 'both' (the script's) gives two channels, the smoothed one
  first; 'smooth' or 'raw' one.
* **Batches** (``dataset_loaders.BatchIterator``'s order and shuffles): data ``(batch,
  channels, 200)`` float32, labels ``(batch, 200)`` int32 (seven classes, no void label), and
  filenames the rays' line numbers as a ``(1, batch)`` array (the script reads
  ``batch['filenames'][0]``). The augmentation, if any, runs once a batch, as on images of
  ``(200, 1)`` pixels, and draws from ``augm_rng``.

The data cannot be fetched by dltut: it is shared on Google Drive (``URL``), which answers a
script with a confirmation page. Download ``TrainingData190417.tar.gz`` with a browser, unpack
it, rename the extracted folder ``6layers_segmentation`` and put it in ``data/cortical_layers``
(or give the folder that holds it). Made rays in the same format ship with dltut: ``toy=True``
(``--toy``).
"""

import io
import os
import re

import numpy

from dltut.data import DataError
from dltut.tutorials.dataset_loaders import (BatchIterator, check_folder, dataset_folder,
                                             random_transform)

NAME = "cortical_layers"
URL = "https://drive.google.com/file/d/0B3tbeSUS2FsVOVlIamlDdkNBQUE/"  # TrainingData190417.tar.gz
SUBFOLDER = "6layers_segmentation"
FILES = {"raw": "training_raw.txt", "smooth": "training_geo.txt", "labels": "training_cls.txt",
         "regions": "training_regions.txt"}
SPLIT_SEED = 1609  # the original's np.random.seed before shuffling the rays
SETS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
CHANNELS = {"both": ("smooth", "raw"), "smooth": ("smooth",), "raw": ("raw",)}
N_CLASSES = 7  # 0: outside the cortex, 1-6: the layers

HELP = (f"The cortical-layer rays (a preliminary BigBrain release, TrainingData190417.tar.gz) are "
        f"shared on Google Drive ({URL}), which dltut cannot download: fetch the archive with a "
        f"browser, unpack it, rename the extracted folder {SUBFOLDER} and put it in "
        f"data/{NAME} (so that data/{NAME}/{SUBFOLDER}/training_raw.txt exists), or pass the "
        "folder holding it; or use the made rays shipped with dltut (toy=True, --toy)")


def split_rays(n, which_set, split=0.85, rng=None):
    """The line numbers of the rays of ``which_set`` ('train', 'val' or 'test') among ``n``, in
    the order the original keeps them; ``rng`` (``RandomState(1609)`` if None) draws the shuffle
    and is left in the state the original left numpy's global generator in."""
    rng = numpy.random.RandomState(SPLIT_SEED) if rng is None else rng
    numbers = list(range(n))
    rng.shuffle(numbers)
    cut = int(n * split)
    if which_set == "train":
        return numbers[:cut]
    if which_set == "val":
        return numbers[-(n - cut):]  # (with n == cut, all of them, as the original)
    return numbers


class Cortical6LayersDataset(BatchIterator):
    """The batches of one set of rays (see the module's docstring): ``which_set`` one of 'train',
    'valid' (or 'val') and 'test'; ``split`` the training fraction; ``smooth_or_raw`` the
    channels; ``path`` the folder holding ``6layers_segmentation`` (``data/cortical_layers`` by
    default); ``toy`` the made rays shipped with dltut; the other arguments are
    ``BatchIterator``'s."""

    name = NAME
    non_void_nclasses = N_CLASSES
    _void_labels = ()
    GTclasses = tuple(range(N_CLASSES))
    _mask_labels = {0: "padding", 1: "layers1", 2: "layer2", 3: "layer3", 4: "layer4",
                    5: "layer5", 6: "layer6"}

    def __init__(self, which_set="train", split=0.85, smooth_or_raw="both", path=None,
                 toy=False, **kwargs):
        if which_set not in SETS:
            raise ValueError(f"which_set {which_set!r}: one of {', '.join(SETS)}")
        if smooth_or_raw not in CHANNELS:
            raise ValueError(f"smooth_or_raw {smooth_or_raw!r}: one of {', '.join(CHANNELS)}")
        if not 0 <= split <= 1:
            raise ValueError(f"split {split!r}: the training fraction, between 0 and 1")
        self.which_set = SETS[which_set]
        self.split = split
        self.smooth_or_raw = smooth_or_raw
        self.folder = check_folder(dataset_folder(NAME, path, toy), HELP)
        files = check_folder(self.folder / SUBFOLDER, HELP)
        self.raw = read_rays(files / FILES["raw"], float)
        self.smooth = read_rays(files / FILES["smooth"], float)
        self.mask = read_rays(files / FILES["labels"], int)
        self.regions = read_rays(files / FILES["regions"], int)
        for key in ("smooth", "labels"):
            array = self.smooth if key == "smooth" else self.mask
            if array.shape != self.raw.shape:
                raise DataError(f"{files / FILES[key]}: {array.shape[0]} rays of "
                                f"{array.shape[1]} values, but {FILES['raw']} has "
                                f"{self.raw.shape[0]} of {self.raw.shape[1]}; they must match")
        if len(self.regions) != len(self.raw):
            raise DataError(f"{files / FILES['regions']}: {len(self.regions)} lines for "
                            f"{len(self.raw)} rays; one line a ray")
        bad = (self.mask < 0) | (self.mask >= N_CLASSES)
        if bad.any():
            row, col = (int(i[0]) for i in numpy.nonzero(bad))
            raise DataError(f"{files / FILES['labels']}: line {row + 1}, value {col + 1} is "
                            f"{self.mask[row, col]}; the labels are 0-{N_CLASSES - 1}")
        self.split_rng = numpy.random.RandomState(SPLIT_SEED)
        self.filenames = split_rays(len(self.mask), self.which_set, split, self.split_rng)
        self.data_shape = (self.raw.shape[1], 1, len(CHANNELS[smooth_or_raw]))
        super().__init__(**kwargs)

    def missing_help(self):
        return HELP

    @property
    def batch_shape(self):
        """``[channels, samples]`` of a ray."""
        return [len(CHANNELS[self.smooth_or_raw]), self.raw.shape[1]]

    def get_names(self):
        return self.filenames

    def _rays(self, rows):
        """The rays ``rows`` as ``(n, samples, channels)`` float32 and ``(n, samples)`` int32."""
        arrays = {"smooth": self.smooth, "raw": self.raw}
        x = numpy.stack([arrays[c][rows] for c in CHANNELS[self.smooth_or_raw]], axis=2)
        return x, self.mask[rows]

    def fetch(self, names):
        """The batch of the rays ``names`` (line numbers), augmented as one (batch, 200, 1)
        image, in the (batch, channels, samples) layout."""
        x, y = self._rays(names)
        x, y = random_transform(x[:, :, numpy.newaxis, :], y[:, :, numpy.newaxis],
                                self.augm_rng, nclasses=self.nclasses,
                                void_label=self.void_labels, **self.data_augm_kwargs)
        x, y = x[:, :, 0, :], y[:, :, 0]
        return {"data": numpy.ascontiguousarray(x.transpose(0, 2, 1)), "labels": y,
                "filenames": numpy.array([list(names)])}

    def arrays(self):
        """The whole set in its split order, unaugmented: ``(data, labels, names)``, data ``(n,
        channels, samples)`` float32, labels ``(n, samples)`` int32, names the line numbers."""
        x, y = self._rays(self.filenames)
        return numpy.ascontiguousarray(x.transpose(0, 2, 1)), y, list(self.filenames)


def read_rays(path, kind):
    """The text file ``path`` as a ``(lines, values)`` array: float32 (each value parsed as a
    double, then rounded) for ``kind`` float, int32 for int; one DataError for a missing file,
    a blank line, lines of different lengths, a value that is not a number, a value that is not
    finite or an int out of int32's range."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file. {HELP}")
    try:
        with open(path, "rb") as f:
            text = f.read().decode("ascii")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: byte {error.start} is not ASCII; a ray file holds numbers "
                        "separated by spaces, one ray a line") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise DataError(f"{path}: empty; a ray file holds one ray a line. {HELP}")
    blank = next((i for i, line in enumerate(lines) if not line.strip()), None)
    if blank is not None:
        raise DataError(f"{path}: line {blank + 1} is blank; a ray file holds one ray a line")
    dtype = numpy.float64 if kind is float else numpy.int64
    not_int = re.search(r"[^0-9+\- \t\r\n]", text) if kind is int else None
    if not_int:  # (numpy 1.23's loadtxt would read "2.0" as 2; int("2.0") fails)
        line = text.count("\n", 0, not_int.start()) + 1
        raise DataError(f"{path}: line {line} holds {not_int.group()!r}, not part of an int; "
                        "this file holds whole numbers separated by spaces, one ray a line")
    try:
        values = numpy.loadtxt(io.StringIO(text), dtype=dtype, ndmin=2, comments=None)
    except (ValueError, OverflowError) as error:
        reason = " ".join(str(error).split())
        raise DataError(f"{path}: not a table of numbers ({reason[:200]}); a ray file holds "
                        "numbers separated by spaces, one ray a line, all of one length") from None
    if len(values) != len(lines):
        raise DataError(f"{path}: {len(values)} rays read from {len(lines)} lines; one ray a "
                        "line")
    if kind is float:
        bad = ~numpy.isfinite(values)
        if bad.any():
            row, col = (int(i[0]) for i in numpy.nonzero(bad))
            raise DataError(f"{path}: line {row + 1}, value {col + 1} is {values[row, col]}; "
                            "the rays' values are finite numbers")
        return values.astype(numpy.float32)
    if values.size and (values.min() < -2**31 or values.max() >= 2**31):
        raise DataError(f"{path}: a value out of int32's range; labels and regions are small "
                        "ints")
    return values.astype(numpy.int32)
