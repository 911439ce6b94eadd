"""The EM stacks of the U-Net tutorial: the ISBI 2012 challenge on segmenting neuronal membranes.

Three multi-page TIFF files, each 30 greyscale slices of 512x512 pixels of a serial-section
electron microscopy stack (``dltut.imagefiles.read_tiff``):

* ``train-volume.tif``: the training slices,
* ``train-labels.tif``: their labels, 255 and 0 (every value below 255 becomes class 0, 255
  class 1: the loader divided the uint8 labels by 255 under Python 2, an integer division),
* ``test-volume.tif``: the test slices, without labels.

``IsbiEmStacksDataset`` gives a set as dataset_loaders' IsbiEmStacksDataset gave it to
train_unet.py: slices as float32 ``value / 255`` in ``(1, rows, cols)``, labels uint8 0 or 1 (two
classes, no void label), batched, shuffled and augmented by ``dataset_loaders.BatchIterator``.
The split takes ``int(split * n)`` slices for training (``n`` the stack's slices, 30): 'train'
is slices ``0 .. int(split * n) - 1`` and 'test' all of test-volume.tif, as in the original. Its
'val' set has ``n - int(split * n)`` examples (5), numbered from 0, and the original reads
example ``i`` from slice ``i``: the validation slices are the first five training slices, not
the last five. dltut keeps that, to give what the original gave; ``val_slices='last'`` reads the
slices the split meant instead. (The original also fixed ``n`` at 30 and ``data_shape`` at
(512, 512, 1); here both are the files'.)

``download(folder)`` fetches the three files from the challenge's site (``URL``; the site asks
visitors to register, and may refuse an unregistered download) with ``dltut.download.fetch``
(resumed, put in place whole) and checks them against the MD5 sums another public loader of this
data publishes (``MD5``: dltut has no SHA256 of them). Made stacks in the same format ship with
dltut: ``toy=True`` (``--toy``).
"""

import hashlib
import os

import numpy

from dltut.data import DataError
from dltut.imagefiles import read_tiff
from dltut.tutorials.dataset_loaders import BatchIterator, check_folder, dataset_folder

NAME = "isbi_em_stacks"
URL = "http://brainiac2.mit.edu/isbi_challenge/sites/default/files/"
FILES = ("train-volume.tif", "train-labels.tif", "test-volume.tif")
MD5 = {"train-volume.tif": "465461edbe0254630c4ec5577f1e7764",
       "train-labels.tif": "657fe6b728c6dd0152e295c6d800001d",
       "test-volume.tif": "9767660d7abe4e0ecbdd0061a16058ad"}
SETS = {"train": "train", "val": "val", "valid": "val", "test": "test"}

HELP = ("The ISBI 2012 EM stacks come from the challenge's site, "
        "http://brainiac2.mit.edu/isbi_challenge/ (register there): put train-volume.tif, "
        f"train-labels.tif and test-volume.tif in data/{NAME} (isbi_em_stacks.download(folder) "
        f"fetches them from {URL}), or pass their folder; or use the made stacks shipped with "
        "dltut (toy=True, --toy)")


def download(folder, files=FILES):
    """Fetch ``files`` from the challenge's site into ``folder`` (made if missing) and check each
    against ``MD5``; returns the folder. A file already there is checked, not fetched again."""
    from dltut.download import fetch

    os.makedirs(folder, exist_ok=True)
    for name in files:
        path = os.path.join(folder, name)
        fetch(URL + name, path)
        digest = hashlib.md5(open(path, "rb").read()).hexdigest()
        if digest != MD5[name]:
            raise DataError(f"{path}: MD5 {digest}, expected {MD5[name]}: not the challenge's "
                            "file (an error page, or a changed file?); remove it and fetch it "
                            "again, or download it by hand after registering")
    return folder


class IsbiEmStacksDataset(BatchIterator):
    """The batches of one set of the EM stacks (see the module's docstring): ``which_set`` one
    of 'train', 'val' (or 'valid') and 'test'; ``split`` the training fraction; ``path`` the
    folder of the three TIFF files (``data/isbi_em_stacks`` by default); ``toy`` the made stacks
    shipped with dltut; ``val_slices`` 'first' (the original's) or 'last'; the other arguments
    are ``BatchIterator``'s."""

    name = NAME
    non_void_nclasses = 2
    _void_labels = ()
    _cmap = {0: (0, 0, 0), 1: (255, 255, 255)}
    _mask_labels = {0: "Non-membranes", 1: "Membranes"}

    def __init__(self, which_set="train", split=0.85, path=None, toy=False, val_slices="first",
                 **kwargs):
        if which_set not in SETS:
            raise ValueError(f"which_set {which_set!r}: one of {', '.join(SETS)}")
        if not 0 <= split <= 1:
            raise ValueError(f"split {split!r}: the training fraction, between 0 and 1")
        if val_slices not in ("first", "last"):
            raise ValueError(f"val_slices {val_slices!r}: 'first' (the original's) or 'last'")
        self.which_set = SETS[which_set]
        self.split = split
        self.folder = check_folder(dataset_folder(NAME, path, toy), HELP)
        if self.which_set == "test":
            self.set_has_GT = False
            self.volume = read_stack(self.folder / "test-volume.tif")
            self.labels = None
            self.start, self.end = 0, len(self.volume)
        else:
            self.volume = read_stack(self.folder / "train-volume.tif")
            self.labels = read_stack(self.folder / "train-labels.tif") // 255
            if self.labels.shape != self.volume.shape:
                raise DataError(f"{self.folder / 'train-labels.tif'}: {len(self.labels)} "
                                f"slices of {self.labels.shape[1]}x{self.labels.shape[2]} for "
                                f"the {len(self.volume)} slices of {self.volume.shape[1]}x"
                                f"{self.volume.shape[2]} of train-volume.tif; they must match")
            n = len(self.volume)
            cut = int(split * n)
            self.start, self.end = (0, cut) if self.which_set == "train" else (cut, n)
        # examples 0 .. end - start - 1, read from these slices
        first = self.start if (self.which_set == "val" and val_slices == "last") else 0
        self.slices = range(first, first + self.end - self.start)
        self.data_shape = self.volume.shape[1:] + (1,)
        super().__init__(**kwargs)

    def missing_help(self):
        return HELP

    def get_names(self):
        return list(range(self.end - self.start))

    def load_example(self, name):
        """Example ``name``: ``(rows, cols, 1)`` float32 in [0, 1] and ``(rows, cols)`` uint8
        labels (None for the test set)."""
        index = self.slices[name]
        x = self.volume[index][:, :, numpy.newaxis].astype(numpy.float32) / 255
        y = self.labels[index] if self.labels is not None else None
        return x, y


def read_stack(path):
    """The slices of a stack file as one ``(slices, rows, cols)`` uint8 array: every page
    greyscale and of one size; or a DataError naming the file."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file. {HELP}")
    pages = read_tiff(path)
    shapes = {page.shape for page in pages}
    if len(shapes) > 1 or pages[0].ndim != 2:
        raise DataError(f"{path}: pages of shape(s) {', '.join(map(str, sorted(shapes)))}; an "
                        "EM stack is greyscale slices of one size")
    return numpy.stack(pages)
