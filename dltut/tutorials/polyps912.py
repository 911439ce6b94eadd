"""The polyps of the FCN-8 tutorial: EndoScene's 912 colonoscopy frames, polyp against background.

The dataset (``polyps_split7.zip`` in the tutorial's text) is three folders, ``train``, ``valid``
and ``test`` (547, 183 and 182 frames of 20, 8 and 8 patients), each with

* ``images/NAME.bmp``: the frame, an RGB bitmap (read by ``dltut.imagefiles.read_bmp``),
* ``masks2/NAME.tif``: its labels, an 8-bit greyscale TIFF: 0 background, 1 polyp, 2 void (the
  border of the frame outside the endoscope's view).

``Polyps912Dataset`` reads a set as dataset_loaders' Polyps912Dataset gave it to train_fcn8.py:
the frames as float32 ``value / 255.`` in ``(3, rows, cols)``, the masks as int32 with the void
label 2 (``void_labels == [2]``, ``non_void_nclasses == 2``: the mapping leaves 0, 1, 2 as they
are), the examples in the order in which the folder lists its ``*.bmp`` files (glob's order, which
depends on the disk: ``order='sorted'`` sorts them by name, or give the names in the order you
want), batched, shuffled and augmented by ``dataset_loaders.BatchIterator``. The frames differ
in size (CVC-ColonDB's and CVC-ClinicDB's), so a batch of more than one needs a ``crop_size``.

The data cannot be fetched by dltut: it was shared from Google Drive (``URL``), which answers a
script with a confirmation page. Download ``polyps_split7.zip`` from there with a browser, unzip
it and move (or link) the folder that holds ``train``, ``valid`` and ``test`` to
``data/polyps912`` (or give its path). Made data in the same format ships with dltut:
``toy=True`` (``--toy``).
"""

import glob
import os

import numpy

from dltut.data import DataError
from dltut.imagefiles import read_bmp, read_tiff
from dltut.tutorials.dataset_loaders import TOY, BatchIterator, check_folder, dataset_folder

NAME = "polyps912"
TOY_FOLDER = TOY / NAME  # made polyps in the same format, shipped with dltut
URL = "https://drive.google.com/file/d/0B_60jvsCt1hhZWNfcW4wbHE5N3M/view"  # polyps_split7.zip
SETS = {"train": "train", "training": "train", "val": "valid", "valid": "valid",
        "validation": "valid", "test": "test", "testing": "test"}  # the loader's spellings
LABELS = (0, 1, 2)  # background, polyp, void

HELP = (f"The polyps (EndoScene, polyps_split7.zip) are shared on Google Drive ({URL}), which "
        "dltut cannot download: fetch the zip with a browser, unzip it and put the folder "
        f"holding train/, valid/ and test/ (each with images/*.bmp and masks2/*.tif) at "
        f"data/{NAME}, or pass its path; or use the made polyps shipped with dltut (toy=True, "
        "--toy)")


class Polyps912Dataset(BatchIterator):
    """The batches of one set of the polyps (see the module's docstring): ``which_set`` one of
    'train', 'valid' (or 'val', 'validation') and 'test' (or 'training', 'testing'); ``path``
    the folder holding ``train``, ``valid`` and ``test`` (``data/polyps912`` by default);
    ``toy`` the made polyps shipped with dltut; ``order`` 'listing' (the folder's order, as the
    original), 'sorted', or the names themselves; the other arguments are
    ``BatchIterator``'s."""

    name = NAME
    non_void_nclasses = 2
    _void_labels = (2,)
    _cmap = {0: (0, 0, 0), 1: (255, 255, 255), 2: (128, 128, 128)}
    _mask_labels = {0: "Background", 1: "Polyp", 2: "Void"}

    def __init__(self, which_set="train", path=None, toy=False, order="listing", **kwargs):
        if which_set not in SETS:
            raise ValueError(f"which_set {which_set!r}: one of {', '.join(SETS)}")
        self.which_set = SETS[which_set]
        self.folder = check_folder(dataset_folder(NAME, path, toy), HELP)
        self.image_path = check_folder(self.folder / self.which_set / "images", HELP)
        self.mask_path = check_folder(self.folder / self.which_set / "masks2", HELP)
        self.order = order
        super().__init__(**kwargs)

    def missing_help(self):
        return HELP

    def get_names(self):
        """The frames' names (without ``.bmp``) in ``order``; each must have its mask."""
        listed = [os.path.splitext(os.path.basename(p))[0] for p in
                  glob.glob(os.path.join(glob.escape(str(self.image_path)), "*.bmp"))]
        if isinstance(self.order, str):
            if self.order not in ("listing", "sorted"):
                raise ValueError(f"order {self.order!r}: 'listing', 'sorted' or a list of the "
                                 "frames' names")
            names = sorted(listed) if self.order == "sorted" else listed
        else:
            names = [str(n) for n in self.order]
            unknown = sorted(set(names) - set(listed))
            if unknown:
                raise ValueError(f"order names {unknown[0]!r}, which is not a frame of "
                                 f"{self.image_path} (no {unknown[0]}.bmp)")
        for name in names:
            if not os.path.isfile(self.mask_path / f"{name}.tif"):
                raise DataError(f"{self.mask_path / (name + '.tif')}: no such file, the mask "
                                f"of {self.image_path / (name + '.bmp')}; every frame needs its "
                                "mask (unzip the dataset again)")
        return names

    def load_example(self, name):
        """Frame ``name`` as ``(rows, cols, 3)`` float32 in [0, 1] and its mask ``(rows,
        cols)`` int32."""
        image_file = self.image_path / f"{name}.bmp"
        mask_file = self.mask_path / f"{name}.tif"
        image = read_bmp(image_file).astype(numpy.float32) / 255.0
        pages = read_tiff(mask_file)
        if len(pages) != 1 or pages[0].ndim != 2:
            raise DataError(f"{mask_file}: {len(pages)} page(s) of shape {pages[0].shape}; a "
                            "mask is one greyscale page of labels 0, 1, 2")
        mask = pages[0].astype(numpy.int32)
        if mask.shape != image.shape[:2]:
            raise DataError(f"{mask_file}: a mask of {mask.shape[0]}x{mask.shape[1]} for the "
                            f"{image.shape[0]}x{image.shape[1]} frame {image_file}; they must "
                            "match")
        bad = numpy.setdiff1d(numpy.unique(mask), LABELS)
        if bad.size:
            raise DataError(f"{mask_file}: label {bad[0]}; the polyps' masks hold 0 "
                            "(background), 1 (polyp) and 2 (void)")
        return image, mask
