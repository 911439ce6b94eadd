"""Run the original segmentation tutorials on small made data and record their numbers.

The last three tutorials of lisa-lab/DeepLearningTutorials (``code/cnn_1D_segm``, ``code/unet``,
``code/fcn_2D_segm``) are Python 2 code on Lasagne (on Theano) that reads its data with
fvisin/dataset_loaders. This driver writes made data in those datasets' own file formats (the
files dltut ships under ``dltut/toy/``), runs the original code on it with theano-pymc 1.1.2 and
Lasagne's and dataset_loaders' sources as they are, and writes what it printed and computed as
JSON (``tests/segm_original.json``), for dltut's tests to compare against.

Usage (from the repository root; the sources are extracted trees of the three repositories)::

    python benchmarks/segm_original.py --write-data [--toy DIR]         # numpy and Pillow only
    . .venv-theano/theano-env; export THEANO_FLAGS="$THEANO_FLAGS,floatX=float64" \\
        OPENBLAS_NUM_THREADS=1
    .venv-theano/bin/python benchmarks/segm_original.py --original DLT --lasagne LASAGNE \\
        --dataset-loaders DATASET_LOADERS --parts fcn1d [--out tests/segm_original.json]

    # the loaders part needs scikit-image, which the theano venv has not: any Python 3.11 with
    # numpy 1.23, scipy, Pillow and scikit-image (no Theano) runs it
    PYTHON_WITH_SKIMAGE benchmarks/segm_original.py --original DLT --lasagne LASAGNE \\
        --dataset-loaders DATASET_LOADERS --parts loaders

    # the unet_train part's elastic warp needs SimpleITK (pip install --target DIR SimpleITK)
    PYTHONPATH=DIR .venv-theano/bin/python benchmarks/segm_original.py --original DLT \\
        --lasagne LASAGNE --dataset-loaders DATASET_LOADERS --parts unet_train --epochs 4

``--parts`` takes any of ``fcn1d fcn1d_one_update unet unet_train fcn8 fcn8_train metrics
loaders`` (fcn1d or fcn1d_one_update first when with others, never both in one process: see
``run_fcn1d``);
each part's numbers replace that part's key in ``--out`` and leave the others.
``--write-data`` (re)writes the made data and exits (``--polyps-frames``, ``--polyps-size`` and
``--isbi-size`` make it larger). ``--batch-size``, ``--crop``, ``--unet-filters`` and
``--warp-sigma`` change the training parts' sizes (``unet_train_settings``,
``fcn8_train_settings``) and ``--toy`` their data folder, for benchmarks/bench_segm.py's timings
at the tutorials' sizes; their defaults are the recorded runs'.

The made data (deterministic: numpy RandomState seeds 4101, 4102, 4103)
-----------------------------------------------------------------------
* ``cortical_layers/6layers_segmentation/``: 80 rays of 200 samples. ``training_raw.txt`` and
  ``training_geo.txt`` (the smoothed channel) hold one ray a line, values ``%.2f`` separated by
  single spaces, no trailing space (the loader splits lines on ``' '`` and the last field keeps
  its newline, which ``float`` ignores); ``training_cls.txt`` the labels the same way (0 outside
  the cortex on both sides, 1..6 the layers); ``training_regions.txt`` one integer a line (the
  loader reads it, as int32, and never uses it). Intensities as BigBrain's: ~0 outside the
  brain, 1e4..3e4 inside. The loader reads them as float32.
* ``polyps912/{train,valid,test}/images/N.bmp`` (24-bit RGB BMP) and ``masks2/N.tif`` (8-bit
  grayscale uncompressed TIFF; 0 background, 1 polyp, 2 void: the black border outside the
  endoscope's field), 5/3/3 frames of 48 x 64 (rows x columns; the real ones are 288 x 384),
  named 1..11. skimage.io.imread gives uint8 (48, 64, 3) and uint8 (48, 64).
* ``isbi_em_stacks/train-volume.tif``, ``train-labels.tif``, ``test-volume.tif``: multi-page
  8-bit grayscale uncompressed TIFF, 30 pages of 64 x 64 (the real ones 30 x 512 x 512; 30
  because the loader's splits are ``int(0.85 * 30)`` whatever the file holds). Labels as the
  challenge's: 255 inside cells, 0 on membranes; the loader divides by 255 (class 1 = cells,
  though its ``_mask_labels`` call 1 'Membranes').

How the originals are run
-------------------------
Nothing of the three repositories is edited; their files are imported from where they were
extracted. What is done around them, and why:

* Theano. theano-pymc 1.1.2 with ``floatX=float64`` (C mode, its default linker), one OpenBLAS
  thread. Its Cython scan does not build on Python 3.11, so ``theano.scan.scan_perform_ext`` is
  set to None in ``sys.modules`` before theano is imported and its Python scan is used (none of
  these models has a scan). Lasagne's master (5d3c63cb) expects four names of the old Theano,
  which are added to theano-pymc's modules before lasagne is imported:
  ``theano.sandbox.rng_mrg.MRG_RandomStreams`` (theano-pymc's ``MRG_RandomStream``),
  ``theano.Variable`` (``theano.graph.basic.Variable``), and a module ``theano.gof`` with
  ``Variable`` and ``graph.inputs`` (``theano.graph.basic.graph_inputs``). Lasagne's
  ``layers.dnn`` raises ImportError without cuDNN, so U-Net's recipe falls back to
  ``Conv2DLayer`` as written.
* Python 2. ``train_fcn1D.py``, ``fcn1D.py``, ``Unet_lasagne_recipes.py``, ``fcn8.py`` and the
  training scripts compile on Python 3 and are imported as they are. The data loaders
  (``cnn_1D_segm/data_loader/*.py`` and the ``dataset_loaders`` package) are Python 2 only: an
  import hook translates each of their modules in memory, when it is imported, with these
  lib2to3 fixers and no others: print, numliterals (``0775``), raise (``raise E, V, T``), except,
  dict (``iteritems``/``itervalues``/``iterkeys``; ``keys()`` and friends as lists), imports
  (``ConfigParser``, ``Queue``, ``cPickle``), itertools_imports and itertools (``izip``,
  ``izip_longest``), import (the implicit relative imports such as ``from images.camvid import``
  and ``from parallel_loader_1D import``). Python 2's list-returning builtins are then given to
  each of those modules in its own namespace, where the code relies on them:
  ``range``, ``zip``, ``map`` and ``filter`` return lists (e.g. ``np.random.shuffle(range(n))``
  in cortical_layers.py, ``[1] + range(1) + range(2, n)`` in the loaders), and ``iter`` returns
  an iterator that also has Python 2's ``.next()`` method (``self.names_batches.next()`` in
  ``ThreadedDataset._step``). Python 2's integer ``/`` cannot be given this way; one division
  on a path run here depends on it: the ISBI loader's ``np.array(targets) / 255`` gives float64
  0./1. labels where Python 2 gave uint8 0/1 (the loaders part records them as they come; no
  model here is fed from that loader).
* Missing modules. dataset_loaders' ``__init__`` imports every dataset and its
  ``data_augmentation`` imports scikit-image at the top; the theano venv has neither
  scikit-image nor h5py, so stand-in modules are put in ``sys.modules`` for the names imported
  at module level and never called on the paths run here: ``skimage.color.rgb2gray``,
  ``skimage.color.gray2rgb``, ``skimage.img_as_float`` (used only by the optical-flow and
  image-saving helpers) and ``h5py`` (movingMNIST). Calling any of them raises. (The loaders
  part runs where scikit-image is installed, and uses it: Polyps912Dataset reads with
  ``skimage.io.imread``.)
* Threads. The 2-D loaders are built with ``use_threads=False``: their fetcher threads call
  ``Thread.isAlive``, gone since Python 3.9; with one fetcher thread the batches and their
  order are the same.
* Configuration. dataset_loaders finds its data through a ``config.ini`` beside its
  ``__init__.py``; the package is copied to the work directory and a ``config.ini`` written
  there (``datasets_local_path`` in the work directory, ``shared_path`` the made data), as its
  README asks. The loader copies the data to the local path on first use.
* Observation. To record the order of the batches, their sums, and each training/validation
  step's outputs at full precision, the names ``Cortical6LayersDataset``, ``build_model`` and
  ``theano`` in train_fcn1D's module are replaced by a subclass whose ``next()`` notes the batch
  it returns, a wrapper that notes the initial parameters, and a proxy whose ``function`` notes
  what the compiled function returns; each passes everything through unchanged.

What the parts record
---------------------
* fcn1d: ``train_fcn1D.train('cortical_layers', num_epochs=4, max_patience=25,
  batch_size=[8, 8, 1])`` (its real model: 64 filters of 25, depth 8, bn_relu_conv; learning
  rate 0.0005 decayed by 0.99 before each epoch, weight decay 0.001): the lines it prints from
  "Start training" on (the " took ... s" cut off), the errors it saves (full precision), each
  training and validation step's outputs, each batch's rays (the loader's file indices), data
  and label sums, the splits, and every parameter's name, shape, sums and first values in
  ``get_all_params`` order before training and after.
* unet, fcn8: the builders with ``lasagne.random.set_rng(numpy.random.RandomState(1234))``, as
  the training scripts call them (U-Net with base_n_filters=8 on 2 x 1 x 64 x 64; FCN-8 at full
  VGG width on 1 x 3 x 48 x 64, n_classes=2 and void label 2 as train_fcn8 gives it), outputs,
  losses and two Adam steps in the scripts' own graphs (``MODEL_PROTOCOL``).
* unet_train: ``train_unet.train`` on the made stacks for ``--epochs`` epochs (4 recorded),
  with its command line's settings, base_n_filters=8 and its augmentation's crop and warp
  scaled to the 64 x 64 slices, after ``numpy.random.seed(1234)`` (``run_unet_train``): the
  EPOCH lines it prints (the " took ... s" cut off), the errors it saves, each step's outputs,
  each batch's slices and sums, and every parameter before training and after.
* fcn8_train: ``train_fcn8.train('polyps', ...)`` at VGG-16's width on the made polyps for
  ``--epochs`` epochs, batches of one frame and a 32 x 48 crop (``FCN8_TRAIN``; its command line's
  learning rate 1e-4, weight decay 0, horizontal_flip True, fill_mode 'constant'), after
  ``numpy.random.seed(1234)`` (the script seeds nothing: the weights, the dropout streams' seeds
  and every augmentation draw come from numpy's global generator), the frames in the order of
  their names (its Polyps912Dataset is given a subclass that sorts its glob listing), and, where
  scikit-image is missing, ``skimage.io.imread`` as Pillow's decoding (see ``run_fcn8_train``):
  the lines it prints, each step's outputs, each batch's sums.
* metrics: the scripts' ``crossentropy_metric``, ``accuracy_metric``, ``jaccard_metric``
  (train_fcn1D's ``accuracy_metric``, ``jaccard``) on one made prediction/target pair.
* loaders: Polyps912Dataset's and IsbiEmStacksDataset's batches on the made data.

The run is deterministic: ``Cortical6LayersDataset.filenames`` seeds numpy's global RNG with
1609 (once per dataset built), Lasagne draws the initial weights from numpy's global RNG (its
default ``lasagne.random.get_rng()``), the loaders shuffle with their own
``RandomState(0xbeef)``, and the 1-D model has no dropout. Two runs gave identical JSON but
for the times. One input is the file system's: Polyps912Dataset takes its file names in
``glob.glob`` order (directory order, not sorted), which the batches' order then depends on;
the loaders part records that order (``filenames_property``).
"""

import argparse
import builtins
import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import types

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ------------------------------------------------------------------------------------------------
# Made data
# ------------------------------------------------------------------------------------------------

CORTICAL_SEED = 4101
POLYPS_SEED = 4102
ISBI_SEED = 4103
N_RAYS = 80
RAY_LENGTH = 200
# the six layers' usual thicknesses along a ray (pixels) and cell densities (arbitrary units,
# as the BigBrain intensities: ~0 outside the brain, ~1e4 to 3e4 inside)
LAYER_WIDTHS = (20, 13, 37, 7, 26, 32)
LAYER_LEVELS = (9000.0, 18500.0, 19000.0, 22500.0, 21500.0, 20500.0)
WHITE_LEVEL = 18000.0


def _gauss_smooth(x, sigma):
    """Gaussian smoothing of a 1-D array, edges repeated."""
    r = int(math.ceil(3 * sigma))
    t = np.arange(-r, r + 1, dtype=float)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(x, r, mode="edge"), k, mode="valid")


def make_rays(n=N_RAYS, seed=CORTICAL_SEED):
    """Made BigBrain rays: (raw, smooth, labels, regions), raw/smooth (n, 200) float, labels
    (n, 200) int in 0..6 (0 outside the cortex on both sides), regions (n,) int."""
    rng = np.random.RandomState(seed)
    raw = np.zeros((n, RAY_LENGTH))
    smooth = np.zeros((n, RAY_LENGTH))
    labels = np.zeros((n, RAY_LENGTH), dtype=int)
    regions = np.arange(n) * 4 // n
    for i in range(n):
        start = rng.randint(22, 48)
        scale = rng.uniform(0.75, 1.02)
        widths = [max(3, int(round(w * scale * rng.uniform(0.85, 1.15)))) for w in LAYER_WIDTHS]
        while start + sum(widths) > RAY_LENGTH - 8:
            widths[int(np.argmax(widths))] -= 1
        gain = rng.uniform(0.85, 1.15)
        mean = np.full(RAY_LENGTH, WHITE_LEVEL * gain * rng.uniform(0.9, 1.05))
        mean[:start] = 0.0
        pos = start
        for layer, (w, level) in enumerate(zip(widths, LAYER_LEVELS), start=1):
            labels[i, pos:pos + w] = layer
            mean[pos:pos + w] = level * gain * rng.uniform(0.93, 1.07)
            pos += w
        mean = _gauss_smooth(mean, 1.5)
        noise = _gauss_smooth(rng.normal(0.0, 4000.0, RAY_LENGTH), 1.2)
        inside = np.clip((np.arange(RAY_LENGTH) - start + 3) / 4.0, 0.0, 1.0)
        r = mean + inside * noise
        r = np.where(inside > 0, np.maximum(r, 0.0), np.abs(rng.normal(0.0, 15.0, RAY_LENGTH)))
        raw[i] = r
        smooth[i] = _gauss_smooth(r, 6.0)
    return raw, smooth, labels, regions


def write_cortical(directory, seed=CORTICAL_SEED, n=N_RAYS):
    """The four text files of Cortical6LayersDataset, in DIR/6layers_segmentation/: one ray a
    line, its 200 values separated by single spaces (as the loader splits them on ' ')."""
    raw, smooth, labels, regions = make_rays(n=n, seed=seed)
    d = os.path.join(directory, "6layers_segmentation")
    os.makedirs(d, exist_ok=True)
    rows = {
        "training_raw.txt": [" ".join("%.2f" % v for v in row) for row in raw],
        "training_geo.txt": [" ".join("%.2f" % v for v in row) for row in smooth],
        "training_cls.txt": [" ".join("%d" % v for v in row) for row in labels],
        "training_regions.txt": ["%d" % v for v in regions],
    }
    for name, lines in rows.items():
        with open(os.path.join(d, name), "w", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
    return d


POLYPS_SPLITS = (("train", 5), ("valid", 3), ("test", 3))
POLYPS_SIZE = (48, 64)  # height, width (the real frames are 288 x 384 or 500 x 574)


def make_polyp_frame(rng, shape=POLYPS_SIZE):
    """One made colonoscopy frame and its mask: RGB uint8 (h, w, 3), mask uint8 (h, w) with 0
    background, 1 polyp, 2 void (the black border outside the endoscope's rounded field)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    # field of view: a rounded rectangle; outside it is the void border
    ny, nx = np.abs(yy - cy) / (h / 2.0 - 1.5), np.abs(xx - cx) / (w / 2.0 - 1.5)
    fov = (ny ** 4 + nx ** 4) <= 1.0
    # the polyp: a lumpy ellipse somewhere inside
    py, px = rng.uniform(0.3 * h, 0.7 * h), rng.uniform(0.25 * w, 0.75 * w)
    ry, rx = rng.uniform(0.12 * h, 0.25 * h), rng.uniform(0.12 * w, 0.22 * w)
    ang = np.arctan2(yy - py, xx - px)
    bump = 1.0 + 0.12 * np.sin(3 * ang + rng.uniform(0, 2 * np.pi))
    rho = np.sqrt(((yy - py) / ry) ** 2 + ((xx - px) / rx) ** 2) / bump
    polyp = (rho <= 1.0) & fov
    # colours: pinkish-red mucosa, darker towards a lumen, the polyp lighter and redder,
    # a specular highlight, noise
    ly, lx = rng.uniform(0.2 * h, 0.8 * h), rng.uniform(0.2 * w, 0.8 * w)
    shade = 0.55 + 0.45 * np.clip(np.hypot(yy - ly, xx - lx) / (0.6 * w), 0, 1)
    base = np.array([rng.uniform(170, 210), rng.uniform(85, 115), rng.uniform(70, 95)])
    img = shade[..., None] * base
    dome = np.clip(1.0 - rho, 0.0, 1.0)[..., None]
    img = np.where(polyp[..., None], img * 0.9 + np.array([40.0, 10.0, 0.0]) + 50.0 * dome, img)
    hy, hx = py - 0.4 * ry, px - 0.3 * rx
    img += 90.0 * np.exp(-(((yy - hy) ** 2 + (xx - hx) ** 2) / 3.0))[..., None]
    img += rng.normal(0.0, 6.0, img.shape)
    img = np.where(fov[..., None], img, rng.uniform(0, 6, img.shape))
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), dtype=np.uint8)
    mask[polyp] = 1
    mask[~fov] = 2
    return img, mask


def write_polyps(directory, seed=POLYPS_SEED, splits=POLYPS_SPLITS, shape=POLYPS_SIZE):
    """dataset_loaders' polyps912 layout: DIR/{train,valid,test}/images/N.bmp (24-bit RGB BMP)
    and DIR/{train,valid,test}/masks2/N.tif (8-bit grayscale uncompressed TIFF, 0/1/2);
    ``splits`` the (split, frame count) pairs, ``shape`` the frames' (rows, cols)."""
    from PIL import Image
    rng = np.random.RandomState(seed)
    number = 1
    for split, count in splits:
        for sub in ("images", "masks2"):
            os.makedirs(os.path.join(directory, split, sub), exist_ok=True)
        for _ in range(count):
            img, mask = make_polyp_frame(rng, shape=shape)
            Image.fromarray(img, "RGB").save(os.path.join(directory, split, "images",
                                                          "%d.bmp" % number))
            Image.fromarray(mask, "L").save(os.path.join(directory, split, "masks2",
                                                         "%d.tif" % number), compression="raw")
            number += 1
    return directory


ISBI_SLICES = 30  # the loader's splits are int(0.85 * 30): the stacks must have 30 slices
ISBI_SIZE = 64  # the real slices are 512 x 512


def make_em_stack(rng, n=ISBI_SLICES, size=ISBI_SIZE, n_cells=18):
    """A made serial-section EM stack: images uint8 (n, size, size) and labels uint8 with the
    ISBI 2012 convention, 255 inside cells and 0 on membranes."""
    seeds = []
    while len(seeds) < n_cells:  # cell centres at least 10 pixels apart
        c = rng.uniform(-4, size + 4, 2)
        if all(np.hypot(*(c - o)) >= 10.0 for o in seeds):
            seeds.append(c)
    seeds = np.array(seeds)
    drift = rng.normal(0.0, 0.12, (n_cells, 2))
    shade = rng.uniform(150, 205, n_cells)
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    images, labels = [], []
    for k in range(n):
        pts = seeds + k * drift + rng.normal(0.0, 0.2, seeds.shape)
        d = np.sqrt((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2)
        order = np.sort(d, axis=-1)
        nearest = np.argmin(d, axis=-1)
        membrane = (order[..., 1] - order[..., 0]) < 1.6
        img = shade[nearest] + rng.normal(0.0, 12.0, (size, size))
        # a few dark organelles inside cells
        for _ in range(3):
            oy, ox, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(1.5, 3.0)
            img -= 70.0 * np.exp(-((yy - oy) ** 2 + (xx - ox) ** 2) / (2 * r * r))
        img = np.where(membrane, rng.uniform(35, 75, (size, size)), img)
        img = np.clip(np.round(img), 0, 255).astype(np.uint8)
        images.append(img)
        labels.append(np.where(membrane, 0, 255).astype(np.uint8))
    return np.array(images), np.array(labels)


def _write_stack(path, frames):
    from PIL import Image
    pages = [Image.fromarray(f, "L") for f in frames]
    pages[0].save(path, save_all=True, append_images=pages[1:], compression="raw")


def write_isbi(directory, seed=ISBI_SEED, size=ISBI_SIZE):
    """The ISBI 2012 EM stacks as dataset_loaders reads them: DIR/train-volume.tif,
    train-labels.tif, test-volume.tif, multi-page 8-bit grayscale uncompressed TIFF, 30 pages
    of ``size`` x ``size``."""
    rng = np.random.RandomState(seed)
    os.makedirs(directory, exist_ok=True)
    train_x, train_y = make_em_stack(rng, size=size)
    test_x, _ = make_em_stack(rng, size=size)
    _write_stack(os.path.join(directory, "train-volume.tif"), train_x)
    _write_stack(os.path.join(directory, "train-labels.tif"), train_y)
    _write_stack(os.path.join(directory, "test-volume.tif"), test_x)
    return directory


def write_all(toy, polyps_splits=POLYPS_SPLITS, polyps_size=POLYPS_SIZE, isbi_size=ISBI_SIZE):
    write_cortical(os.path.join(toy, "cortical_layers"))
    write_polyps(os.path.join(toy, "polyps912"), splits=polyps_splits, shape=polyps_size)
    write_isbi(os.path.join(toy, "isbi_em_stacks"), size=isbi_size)


def file_digests(toy):
    out = {}
    for sub in ("cortical_layers", "polyps912", "isbi_em_stacks"):
        for dirpath, _, files in sorted(os.walk(os.path.join(toy, sub))):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, toy)] = hashlib.sha256(f.read()).hexdigest()
    return out


# ------------------------------------------------------------------------------------------------
# Python 2 modules, translated on import
# ------------------------------------------------------------------------------------------------

PY2_FIXERS = ["lib2to3.fixes.fix_" + name for name in (
    "print", "numliterals", "raise", "except", "dict", "imports", "itertools_imports",
    "itertools", "import")]


class _Py2Iterator:
    """Python 2's iterator: ``next(it)`` and ``it.next()``."""

    def __init__(self, iterable):
        self._it = builtins.iter(iterable)

    def __iter__(self):
        return self

    def __next__(self):
        return builtins.next(self._it)

    next = __next__


PY2_BUILTINS = {
    "range": lambda *a: list(builtins.range(*a)),
    "zip": lambda *a: list(builtins.zip(*a)),
    "map": lambda f, *a: list(builtins.map(f, *a)),
    "filter": lambda f, a: list(builtins.filter(f, a)),
    "iter": lambda *a: _Py2Iterator(builtins.iter(*a)),
}


class Py2Loader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from lib2to3 import refactor
        source = self.get_data(self.path).decode("utf-8")
        if not source.endswith("\n"):
            source += "\n"
        tool = refactor.RefactoringTool(PY2_FIXERS)
        translated = str(tool.refactor_string(source, self.path))
        return compile(translated, self.path, "exec", dont_inherit=True)

    def exec_module(self, module):
        module.__dict__.update(PY2_BUILTINS)
        super().exec_module(module)


class Py2Finder(importlib.abc.MetaPathFinder):
    """Finds modules under the given folders and loads them with Py2Loader."""

    def __init__(self, roots):
        self.roots = [os.path.realpath(r) + os.sep for r in roots]

    def find_spec(self, fullname, path, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        if not any(os.path.realpath(spec.origin).startswith(r) for r in self.roots):
            return None
        spec.loader = Py2Loader(fullname, spec.origin)
        return spec


def _refuse(name):
    def missing(*args, **kwargs):
        raise RuntimeError("%s is a stand-in of segm_original.py: not available here" % name)
    return missing


def stub_missing_modules():
    """Stand-ins for modules imported at module level by dataset_loaders and never called on
    the paths run here (see the docstring)."""
    try:
        import skimage  # noqa: F401
    except ImportError:
        skimage = types.ModuleType("skimage")
        skimage.img_as_float = _refuse("skimage.img_as_float")
        color = types.ModuleType("skimage.color")
        color.rgb2gray = _refuse("skimage.color.rgb2gray")
        color.gray2rgb = _refuse("skimage.color.gray2rgb")
        skimage.color = color
        sys.modules["skimage"] = skimage
        sys.modules["skimage.color"] = color
    try:
        import h5py  # noqa: F401
    except ImportError:
        sys.modules["h5py"] = types.ModuleType("h5py")


# ------------------------------------------------------------------------------------------------
# Theano and Lasagne
# ------------------------------------------------------------------------------------------------

def import_theano_and_lasagne(lasagne_root):
    sys.modules.setdefault("theano.scan.scan_perform_ext", None)  # the Cython scan: Python 3.11
    import theano
    import theano.graph.basic
    import theano.sandbox.rng_mrg as rng_mrg
    if not hasattr(rng_mrg, "MRG_RandomStreams"):
        rng_mrg.MRG_RandomStreams = rng_mrg.MRG_RandomStream
    if not hasattr(theano, "Variable"):
        theano.Variable = theano.graph.basic.Variable
    if not hasattr(theano, "gof"):
        gof = types.ModuleType("theano.gof")
        gof.Variable = theano.graph.basic.Variable
        gof.graph = types.ModuleType("theano.gof.graph")
        gof.graph.inputs = theano.graph.basic.graph_inputs
        gof.graph.Variable = theano.graph.basic.Variable
        theano.gof = gof
        sys.modules["theano.gof"] = gof
        sys.modules["theano.gof.graph"] = gof.graph
    sys.path.insert(0, os.path.abspath(lasagne_root))
    import lasagne
    assert os.path.realpath(lasagne.__file__).startswith(os.path.realpath(lasagne_root)), \
        lasagne.__file__
    return theano, lasagne


def prepare_dataset_loaders(dsl_root, work, shared_paths):
    """Copy the dataset_loaders package into WORK, write its config.ini, and make it importable
    through the Python 2 import hook."""
    src = os.path.join(os.path.abspath(dsl_root), "dataset_loaders")
    parent = os.path.join(work, "dataset_loaders_src")
    dst = os.path.join(parent, "dataset_loaders")
    if os.path.exists(parent):
        shutil.rmtree(parent)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    local = os.path.join(work, "datasets")
    if os.path.exists(local):
        shutil.rmtree(local)
    os.makedirs(local)
    with open(os.path.join(dst, "config.ini"), "w") as f:
        f.write("[general]\ndatasets_local_path = %s\n\n" % local)
        for name, path in shared_paths.items():
            f.write("[%s]\nshared_path = %s\n\n" % (name, os.path.abspath(path)))
    sys.path.insert(0, parent)
    return parent


class Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


def f64(x):
    return float(np.asarray(x, dtype=np.float64))


def jsonable(x):
    """Floats as full-precision JSON numbers; non-finite ones as strings."""
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else repr(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def param_summary(params, names):
    out = []
    for p in params:
        v = np.asarray(p.get_value(), dtype=np.float64)
        flat = v.ravel()
        out.append({
            "name": names.get(p, p.name),
            "shape": list(v.shape),
            "sum": float(v.sum()),
            "abs_sum": float(np.abs(v).sum()),
            "sq_sum": float((v * v).sum()),
            "first": [float(a) for a in flat[:3]],
            "last": float(flat[-1]),
        })
    return out


def param_names(lasagne, net):
    """param -> 'layerkey.paramname' from a dict of named layers."""
    names = {}
    for key, layer in net.items():
        for p in layer.params:
            names.setdefault(p, "%s.%s" % (key, p.name))
    return names


# ------------------------------------------------------------------------------------------------
# fcn1D
# ------------------------------------------------------------------------------------------------

FCN1D_BATCH_SIZE = [8, 8, 1]  # the fcn1d parts' batches where --batch-size gives none


def run_fcn1d(args, work, one_update=False):
    """train_fcn1D's run; ``one_update``: with its ``final_reshape`` reshaping to ``(-1,
    n_classes)`` instead of to the sizes of a training-mode output built beside the network.

    That output's batch normalisations bring clones of each layer's running averages into every
    function: theano-pymc then updates them twice per training step (two clones of one storage,
    updated in place one after the other) and once per validation step (with the validation
    batch's statistics). ``one_update`` leaves one update per training step, as Lasagne means.
    """
    theano, lasagne, train_fcn1D = import_script(args, work, "train_fcn1D")
    # train_fcn1D leaves Lasagne's RNG alone: its weights come from numpy's global RNG
    assert lasagne.random.get_rng() is np.random, "run fcn1d before the parts that set_rng"

    batches = {"train": [], "val": []}
    splits = {}
    steps = {"train": [], "valid": []}
    captured = {}

    base = train_fcn1D.Cortical6LayersDataset

    class Recorded(base):
        def get_names(self):
            names = base.get_names(self)
            splits[self.which_set] = {
                "rays": [int(i) for i in names["default"]],
                "nbatches_at_init": None,
            }
            return names

        def _fill_names_batches(self, shuffle):
            base._fill_names_batches(self, shuffle)
            if splits[self.which_set]["nbatches_at_init"] is None:
                splits[self.which_set].update(
                    nbatches_at_init=self.nbatches, nsamples=self.nsamples,
                    data_shape=list(self.data_shape), void_labels=list(self.void_labels),
                    non_void_nclasses=self.non_void_nclasses, nclasses=self.nclasses)

        def next(self):
            b = base.next(self)
            batches[self.which_set].append({
                "rays": [int(i) for i in b["filenames"][0]],
                "data_sum": f64(np.sum(b["data"], dtype=np.float64)),
                "labels_sum": int(np.sum(b["labels"])),
                "data_dtype": str(b["data"].dtype),
                "data_shape": list(b["data"].shape),
            })
            return b

    build_model = train_fcn1D.build_model

    def recorded_build_model(*a, **kw):
        outputs, net = build_model(*a, **kw)
        if one_update:
            net["final_reshape"].shape = (-1, kw["n_classes"])
        params = lasagne.layers.get_all_params(outputs)
        trainable = set(lasagne.layers.get_all_params(outputs, trainable=True))
        names = param_names(lasagne, net)
        captured.update(outputs=outputs, params=params, names=names, kwargs=kw)
        captured["initial"] = param_summary(params, names)
        for entry, p in zip(captured["initial"], params):
            entry["trainable"] = p in trainable
        return outputs, net

    class TheanoProxy(types.ModuleType):
        def __getattr__(self, name):
            return getattr(theano, name)

        @staticmethod
        def function(inputs, outputs, *a, **kw):
            fn = theano.function(inputs, outputs, *a, **kw)
            kind = "train" if kw.get("updates") else "valid"

            def call(*xs):
                out = fn(*xs)
                steps[kind].append([np.asarray(o, dtype=np.float64).tolist() for o in out])
                return out
            return call

    saved = {k: getattr(train_fcn1D, k) for k in ("Cortical6LayersDataset", "build_model",
                                                   "theano")}
    train_fcn1D.Cortical6LayersDataset = Recorded
    train_fcn1D.build_model = recorded_build_model
    train_fcn1D.theano = TheanoProxy("theano")

    savepath = os.path.join(work, "save_models")
    buf = io.StringIO()
    t0 = time.time()
    try:
        with contextlib.redirect_stdout(Tee(sys.stdout, buf)):
            train_fcn1D.train("cortical_layers", num_epochs=args.epochs, max_patience=25,
                              savepath=savepath, loadpath=savepath,
                              batch_size=list(args.batch_size or FCN1D_BATCH_SIZE))
    finally:
        for k, v in saved.items():
            setattr(train_fcn1D, k, v)
    seconds = time.time() - t0
    printed = buf.getvalue().splitlines()
    start = printed.index("Start training")
    loop_lines = [re.sub(r" took [0-9.e+-]+ s$", "", line) for line in printed[start + 1:]]

    exp = [d for d in os.listdir(os.path.join(savepath, "cortical_layers"))]
    assert len(exp) == 1, exp
    with np.load(os.path.join(savepath, "cortical_layers", exp[0], "fcn1D_errors_last.npz")) as f:
        errors = {k: f[k].tolist() for k in f.files}

    final = param_summary(captured["params"], captured["names"])
    n_train = len(steps["train"]) // args.epochs
    n_valid = len(steps["valid"]) // args.epochs
    return {
        "how": ("train_fcn1D.train('cortical_layers', num_epochs=%d, max_patience=25, "
                "batch_size=%r) on dltut/toy/cortical_layers, floatX=float64"
                % (args.epochs, list(args.batch_size or FCN1D_BATCH_SIZE))),
        "settings": {
            "epochs": args.epochs, "batch_size": list(args.batch_size or FCN1D_BATCH_SIZE),
            "learning_rate": 0.0005, "weight_decay": 0.001, "lr_decay_per_epoch": 0.99,
            "n_filters": 64, "filter_size": 25, "depth": 8, "block": "bn_relu_conv",
            "n_rays": N_RAYS, "split": 0.85,
        },
        "splits": splits,
        "printed_loop_lines": loop_lines,
        "epoch_lines": [l for l in loop_lines if l.startswith("EPOCH")],
        "errors_last_npz": errors,
        "train_steps": [
            {"cost": s[0], "acc": s[1]} for s in steps["train"]],
        "valid_steps": [
            {"cost": s[0], "acc": s[1], "jacc_num_denom": s[2]} for s in steps["valid"]],
        "batches_per_epoch": {"train": n_train, "valid": n_valid},
        "train_batches": [batches["train"][e * n_train:(e + 1) * n_train]
                          for e in range(args.epochs)],
        "valid_batches": [batches["val"][e * n_valid:(e + 1) * n_valid]
                          for e in range(args.epochs)],
        "initial_params": captured["initial"],
        "final_params": final,
        "seconds": seconds,
    }


# ------------------------------------------------------------------------------------------------
# U-Net and FCN-8: the builders, forward, loss, two Adam steps
# ------------------------------------------------------------------------------------------------

UNET_SEED = 1234  # lasagne.random.set_rng(numpy.random.RandomState(UNET_SEED))
FCN8_SEED = 1234
UNET_INPUT = (2, 1, 64, 64)  # batch, channels, rows, columns
FCN8_INPUT = (1, 3, 48, 64)


def seeded_input(shape, seed):
    """A made image batch: RandomState(seed).uniform(size=shape), float64."""
    return np.random.RandomState(seed).uniform(size=shape)


def seeded_targets(n, n_values, seed):
    """Made per-pixel targets: RandomState(seed).randint(0, n_values, n), int32."""
    return np.random.RandomState(seed).randint(0, n_values, n).astype("int32")


def layer_param_names(lasagne, output, net=None):
    """Names for get_all_params(output) in its order: 'key.param' for layers of the net dict,
    'key<Class.param' for the layers hidden below one (batch_norm wraps a convolution in
    BatchNormLayer and NonlinearityLayer), 'index:Class.param' without a net dict."""
    layers = lasagne.layers.get_all_layers(output)
    lname = {}
    if net is not None:
        named = {layer: key for key, layer in net.items()}
        for key, layer in net.items():
            l, depth = layer, 0
            while True:
                lname.setdefault(l, key if depth == 0 else "%s<%s" % (key, type(l).__name__))
                inp = getattr(l, "input_layer", None)
                if inp is None or inp in named:
                    break
                l, depth = inp, depth + 1
    names = {}
    for i, l in enumerate(layers):
        for p in l.params:
            names.setdefault(p, "%s.%s" % (lname.get(l, "%d:%s" % (i, type(l).__name__)), p.name))
    return names


def array_summary(a, picks=8):
    a = np.asarray(a, dtype=np.float64)
    flat = a.ravel()
    idx = sorted(set(int(round(t)) for t in np.linspace(0, flat.size - 1, picks)))
    out = {"shape": list(a.shape), "sum": float(flat.sum()),
           "abs_sum": float(np.abs(flat).sum()), "sq_sum": float((flat * flat).sum()),
           # sum(flat[i] * (i % 13 - 6)): rows of probabilities all sum to 1, this does not
           "signed_sum_mod13": float((flat * (np.arange(flat.size) % 13 - 6)).sum()),
           "values_at": {str(i): float(flat[i]) for i in idx}}
    if a.ndim == 2:
        out["column_sums"] = a.sum(axis=0).tolist()
    return out


MODEL_PROTOCOL = (
    "lasagne.random.set_rng(numpy.random.RandomState(1234)); build; then, in this order: "
    "prediction = get_output(out, deterministic=False); loss = script.crossentropy_metric("
    "prediction, target_var, void_labels) (+ weight_decay * regularize_network_params(out, l2) "
    "when weight_decay > 0); train_fn = function([x, t], loss, updates=adam(loss, "
    "get_all_params(out, trainable=True), learning_rate)); test_prediction = get_output(out, "
    "deterministic=True); val_fn = function([x, t], [crossentropy_metric, accuracy_metric, "
    "jaccard_metric(test_prediction, t, n_classes)]); look_train = function([x, t], "
    "[prediction, loss], no_default_updates=True); look_det = function([x], test_prediction). "
    "Calls: look_det(x) -> output_deterministic_initial; val_fn -> valid_fn_initial; "
    "look_train -> output_train_initial, loss_train_initial; train_fn twice -> train_fn_losses "
    "(each the loss before its update; batch-norm running averages and dropout streams advance "
    "with each call); look_train -> output/loss_train_after_2_steps; look_det -> "
    "output_deterministic_after_2_steps; val_fn -> valid_fn_after_2_steps. Dropout streams: "
    "get_output(deterministic=False) is called once inside buildFCN8 (for the shape of "
    "'final_dimshuffle') before the script's, so the script's draw is each stream's second "
    "call site. Outputs are (pixels, classes) rows in the order the model flattens them.")


def model_checks(theano, lasagne, script, output, input_var, x, y, void_labels, n_classes,
                 learning_rate, weight_decay, get_output, names):
    """The training script's loss, Adam updates and validation function, as it builds them, on
    one made batch: outputs and loss at the initial parameters, the loss of two train_fn calls,
    the loss, outputs and validation numbers after them, and the parameters before and after."""
    T = theano.tensor
    target_var = T.ivector("target_var")
    prediction = get_output(deterministic=False)
    loss = script.crossentropy_metric(prediction, target_var, void_labels)
    if weight_decay > 0:
        weightsl2 = lasagne.regularization.regularize_network_params(
            output, lasagne.regularization.l2)
        loss += weight_decay * weightsl2
    params = lasagne.layers.get_all_params(output, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=learning_rate)
    t = time.time()
    train_fn = theano.function([input_var, target_var], loss, updates=updates)
    compile_train = time.time() - t

    test_prediction = get_output(deterministic=True)
    test_loss = script.crossentropy_metric(test_prediction, target_var, void_labels)
    test_acc = script.accuracy_metric(test_prediction, target_var, void_labels)
    test_jacc = script.jaccard_metric(test_prediction, target_var, n_classes)
    t = time.time()
    val_fn = theano.function([input_var, target_var], [test_loss, test_acc, test_jacc])
    # observation only: the training graph's output and loss without any update (no Adam step,
    # no batch-norm running averages, no advance of a dropout stream)
    look_train = theano.function([input_var, target_var], [prediction, loss],
                                 no_default_updates=True)
    look_det = theano.function([input_var], test_prediction)
    compile_rest = time.time() - t

    all_params = lasagne.layers.get_all_params(output)
    trainable = set(params)
    initial = param_summary(all_params, names)
    for entry, p in zip(initial, all_params):
        entry["trainable"] = p in trainable

    t = time.time()
    out_det0 = look_det(x)
    val0 = val_fn(x, y)
    out_train0, loss0 = look_train(x, y)
    step_losses = [float(train_fn(x, y)) for _ in range(2)]
    out_train2, loss2 = look_train(x, y)
    out_det2 = look_det(x)
    val2 = val_fn(x, y)
    run_seconds = time.time() - t
    return {
        "learning_rate": learning_rate, "weight_decay": weight_decay,
        "void_labels": list(void_labels), "n_classes": n_classes,
        "initial_params": initial,
        "output_deterministic_initial": array_summary(out_det0),
        "output_train_initial": array_summary(out_train0),
        "argmax_counts_train_initial": np.bincount(np.argmax(out_train0, axis=1),
                                                   minlength=n_classes).tolist(),
        "loss_train_initial": float(loss0),
        "valid_fn_initial": {"loss": float(val0[0]), "acc": float(val0[1]),
                             "jacc_num_denom": np.asarray(val0[2]).tolist()},
        "train_fn_losses": step_losses,
        "loss_train_after_2_steps": float(loss2),
        "output_train_after_2_steps": array_summary(out_train2),
        "output_deterministic_after_2_steps": array_summary(out_det2),
        "valid_fn_after_2_steps": {"loss": float(val2[0]), "acc": float(val2[1]),
                                   "jacc_num_denom": np.asarray(val2[2]).tolist()},
        "params_after_2_steps": param_summary(all_params, names),
        "seconds": {"compile_train_fn": compile_train, "compile_others": compile_rest,
                    "run": run_seconds},
    }


def setup(args, work):
    """Theano and Lasagne with their shims, the stand-in modules, dataset_loaders configured for
    the made data and imported through the Python 2 hook (with cnn_1D_segm's data_loader), the
    three tutorials' folders on sys.path. Once per process."""
    theano, lasagne = import_theano_and_lasagne(args.lasagne)
    setup_loaders(args, work)
    return theano, lasagne


def setup_loaders(args, work):
    if any(isinstance(f, Py2Finder) for f in sys.meta_path):
        return
    stub_missing_modules()
    prepare_dataset_loaders(args.dataset_loaders, work, {
        "cortical_layers": os.path.join(args.toy, "cortical_layers"),
        "polyps912": os.path.join(args.toy, "polyps912"),
        "isbi_em_stacks": os.path.join(args.toy, "isbi_em_stacks")})
    code = os.path.join(os.path.abspath(args.original), "code")
    sys.meta_path.insert(0, Py2Finder([os.path.join(work, "dataset_loaders_src"),
                                       os.path.join(code, "cnn_1D_segm", "data_loader")]))
    for folder in ("cnn_1D_segm", "unet", "fcn_2D_segm"):
        sys.path.insert(0, os.path.join(code, folder))


def import_script(args, work, module):
    theano, lasagne = setup(args, work)
    script = __import__(module)
    assert os.path.realpath(script.__file__).startswith(
        os.path.realpath(os.path.join(args.original, "code")) + os.sep), script.__file__
    return theano, lasagne, script


def run_unet(args, work):
    """build_UNet as train_unet.py calls it, but with base_n_filters=8 (64 there) on a made
    2 x 1 x 64 x 64 batch with made 0/1 targets (ISBI has no void label); train_unet's
    crossentropy_metric, accuracy_metric, jaccard_metric and Adam, with its command line's
    settings (learning rate 1e-4, weight decay 0: main() passes -penal_cst 0.0 as weight_decay)
    and with train()'s defaults (learn_step 0.005, weight_decay 1e-4)."""
    theano, lasagne, script = import_script(args, work, "train_unet")
    import Unet_lasagne_recipes
    T = theano.tensor
    x = seeded_input(UNET_INPUT, 11)
    y = seeded_targets(int(np.prod(UNET_INPUT)) // UNET_INPUT[1], 2, 12)
    out = {"protocol": MODEL_PROTOCOL, "conv_layer_class": Unet_lasagne_recipes.ConvLayer.__name__,
           "rng_seed": UNET_SEED, "input": {"shape": list(UNET_INPUT), "seed": 11,
                                            "summary": array_summary(x)},
           "targets": {"n": int(y.size), "values": 2, "seed": 12, "sum": int(y.sum())},
           "build": ("build_UNet(n_input_channels=1, num_output_classes=2, pad='same', "
                     "base_n_filters=8, do_dropout=False, input_dim=(None, None))")}
    for label, lr, wd in (("command_line", 0.0001, 0.0), ("train_defaults", 0.005, 1e-4)):
        lasagne.random.set_rng(np.random.RandomState(UNET_SEED))
        net = Unet_lasagne_recipes.build_UNet(
            n_input_channels=1, num_output_classes=2, pad="same", base_n_filters=8,
            do_dropout=False, input_dim=(None, None))
        output = net["output_flattened"]
        input_var = T.tensor4("input_var")
        names = layer_param_names(lasagne, output, net)

        def get_output(deterministic, output=output, input_var=input_var):
            return lasagne.layers.get_output(output, input_var, deterministic=deterministic)
        out[label] = model_checks(theano, lasagne, script, output, input_var, x, y,
                                  void_labels=[], n_classes=2, learning_rate=lr,
                                  weight_decay=wd, get_output=get_output, names=names)
        print("unet", label, out[label]["train_fn_losses"], out[label]["seconds"], flush=True)
    return out


# train_unet.train on the made stacks (part unet_train): its command line's settings (learning
# rate 1e-4, weight decay 0, batch sizes 5 5 1) with 8 filters in the first block instead of 64
# and its augmentation with the crop and warp scaled to the 64 x 64 slices (224 / 512 -> 32 / 64,
# warp_sigma 10 -> 1.25), numpy's global RNG seeded first
UNET_TRAIN_SEED = 1234
UNET_TRAIN_FILTERS = 8
UNET_TRAIN_BATCH_SIZE = [5, 5, 1]
UNET_TRAIN_AUGMENTATION = {"rotation_range": 25, "shear_range": 0.41, "horizontal_flip": True,
                           "vertical_flip": True, "fill_mode": "reflect", "spline_warp": True,
                           "warp_sigma": 1.25, "warp_grid_size": 3, "crop_size": (32, 32)}


def unet_train_settings(args):
    """The unet_train part's (batch sizes, base_n_filters, augmentation): the recorded run's
    (UNET_TRAIN_*) but where --batch-size, --unet-filters, --crop or --warp-sigma say otherwise
    (benchmarks/bench_segm.py gives the tutorial's: 5 5 1, 64, 224 x 224, 10)."""
    augmentation = dict(UNET_TRAIN_AUGMENTATION)
    if args.crop:
        augmentation["crop_size"] = tuple(args.crop)
    if args.warp_sigma is not None:
        augmentation["warp_sigma"] = args.warp_sigma
    return list(args.batch_size or UNET_TRAIN_BATCH_SIZE), args.unet_filters, augmentation


def run_unet_train(args, work):
    """train_unet.train('em', learn_step=1e-4, weight_decay=0.0, num_epochs=--epochs,
    max_patience=100, data_augmentation=UNET_TRAIN_AUGMENTATION, batch_size=[5, 5, 1]) on the
    made ISBI stacks, after ``numpy.random.seed(UNET_TRAIN_SEED)``: Lasagne draws the weights
    and the loaders' random_transform the augmentation from numpy's global RNG, in the order
    the script runs (the first training batch, which the script takes to read the image size,
    the weights, then every later batch; a validation batch draws its two flips' numbers too).

    Around the script, as for fcn1d: its ``IsbiEmStacksDataset`` is a subclass built with
    use_threads=False (the fetcher thread calls Thread.isAlive, gone since Python 3.9; without
    it the augmentation draws come in batch order, which a thread did not promise) whose labels
    are uint8, as Python 2's integer division gave them (``load_sequence``'s ``/ 255``: float64
    labels would not pass the ivector), and which notes each batch's slices and sums; its
    ``build_UNet`` passes base_n_filters=UNET_TRAIN_FILTERS (the script fixes 64); ``theano``
    notes what the compiled functions return. The spline warp needs SimpleITK (``pip install
    --target DIR SimpleITK``, then DIR on PYTHONPATH). ``unet_train_settings`` says where the
    command line changes the batches, the filters or the augmentation."""
    import SimpleITK  # noqa: F401  (the warp's; fail before minutes of compiling)
    batch_size, n_filters, augmentation = unet_train_settings(args)
    theano, lasagne, train_unet = import_script(args, work, "train_unet")
    lasagne.random.set_rng(np.random)  # Lasagne's default: numpy's global RNG
    batches = {"train": [], "val": []}
    pending = {"train": [], "val": []}
    steps = {"train": [], "valid": []}
    captured = {}

    base = train_unet.IsbiEmStacksDataset

    class Recorded(base):
        def __init__(self, *a, **kw):
            kw["use_threads"] = False
            base.__init__(self, *a, **kw)

        def load_sequence(self, sequence):
            ret = base.load_sequence(self, sequence)
            if self.set_has_GT:
                ret["labels"] = ret["labels"].astype("uint8")  # Python 2's 255 / 255
            pending[self.which_set] += [int(idx) for _, idx in sequence]
            return ret

        def next(self):
            x, y = base.next(self)
            batches[self.which_set].append({
                "slices": pending[self.which_set],
                "data_sum": f64(np.sum(x, dtype=np.float64)),
                "labels_sum": int(np.sum(y)), "data_shape": list(np.shape(x)),
                "labels_dtype": str(np.asarray(y).dtype)})
            pending[self.which_set] = []
            return [x, y]

    build_UNet = train_unet.build_UNet

    def recorded_build_UNet(**kw):
        net = build_UNet(**dict(kw, base_n_filters=n_filters))
        output = net["output_flattened"]
        params = lasagne.layers.get_all_params(output)
        names = layer_param_names(lasagne, output, net)
        captured.update(params=params, names=names, kwargs=dict(kw))
        captured["initial"] = param_summary(params, names)
        return net

    class TheanoProxy(types.ModuleType):
        def __getattr__(self, name):
            return getattr(theano, name)

        @staticmethod
        def function(inputs, outputs, *a, **kw):
            fn = theano.function(inputs, outputs, *a, **kw)
            kind = "train" if kw.get("updates") else "valid"

            def call(*xs):
                out = fn(*xs)
                steps[kind].append(np.asarray(out, dtype=np.float64).tolist() if kind == "train"
                                   else [np.asarray(o, dtype=np.float64).tolist() for o in out])
                return out
            return call

    saved = {k: getattr(train_unet, k) for k in ("IsbiEmStacksDataset", "build_UNet", "theano")}
    train_unet.IsbiEmStacksDataset = Recorded
    train_unet.build_UNet = recorded_build_UNet
    train_unet.theano = TheanoProxy("theano")
    savepath = os.path.join(work, "save_models")
    buf = io.StringIO()
    t0 = time.time()
    np.random.seed(UNET_TRAIN_SEED)
    try:
        with contextlib.redirect_stdout(Tee(sys.stdout, buf)):
            train_unet.train("em", learn_step=0.0001, weight_decay=0.0, num_epochs=args.epochs,
                             max_patience=100, data_augmentation=dict(augmentation),
                             batch_size=list(batch_size), early_stop_class=None,
                             savepath=savepath,
                             loadpath=savepath, train_from_0_255=False)
    finally:
        for k, v in saved.items():
            setattr(train_unet, k, v)
    seconds = time.time() - t0
    printed = buf.getvalue().splitlines()
    epoch_lines = [re.sub(r" took [0-9.e+-]+ s$", "", line) for line in printed
                   if line.startswith("EPOCH")]
    folder = os.path.join(savepath, "em", "unet_data_aug")
    with np.load(os.path.join(folder, "unet_errors_last.npz")) as f:
        errors = {k: f[k].tolist() for k in f.files}
    n_train = len(steps["train"]) // args.epochs
    return {
        "how": ("numpy.random.seed(%d); train_unet.train('em', learn_step=0.0001, "
                "weight_decay=0.0, num_epochs=%d, max_patience=100, data_augmentation=%r, "
                "batch_size=%r) with build_UNet(base_n_filters=%d) on "
                "dltut/toy/isbi_em_stacks, floatX=float64"
                % (UNET_TRAIN_SEED, args.epochs, augmentation, batch_size, n_filters)),
        "settings": {"epochs": args.epochs, "batch_size": batch_size, "learning_rate": 0.0001,
                     "weight_decay": 0.0, "max_patience": 100,
                     "base_n_filters": n_filters, "np_random_seed": UNET_TRAIN_SEED,
                     "data_augmentation": {k: list(v) if isinstance(v, tuple) else v
                                           for k, v in augmentation.items()},
                     "SimpleITK": SimpleITK.Version_VersionString()},
        "build_kwargs": {k: (v if isinstance(v, (int, float, str, type(None), tuple, list))
                             else repr(v)) for k, v in captured["kwargs"].items()},
        "epoch_lines": epoch_lines,
        "errors_last_npz": errors,
        "train_losses": steps["train"],
        "valid_steps": [{"cost": v[0], "acc": v[1], "jacc_num_denom": v[2]}
                        for v in steps["valid"]],
        "train_batches": batches["train"],
        "valid_batches": batches["val"],
        "batches_per_epoch": {"train": n_train,
                              "valid": len(steps["valid"]) // args.epochs},
        "initial_params": captured["initial"],
        "final_params": param_summary(captured["params"], captured["names"]),
        "seconds": seconds,
    }


def run_fcn8(args, work):
    """buildFCN8 as train_fcn8.py calls it (n_classes=2, the polyps' non-void classes,
    void_labels=[2], trainable=True, load_weights=False, pascal=True, layer=['probs'], its
    default dropout 0.5) on a made 1 x 3 x 48 x 64 batch with made 0/1/2 targets (2 void);
    train_fcn8's metrics and Adam with its command line's settings (learning rate 1e-4, weight
    decay 0). Then the same with dropout=0.0 (the same initial weights: each DropoutLayer still
    draws its stream's seed), where the training graph has no random draw."""
    theano, lasagne, script = import_script(args, work, "train_fcn8")
    import fcn8
    T = theano.tensor
    x = seeded_input(FCN8_INPUT, 21)
    y = seeded_targets(FCN8_INPUT[0] * FCN8_INPUT[2] * FCN8_INPUT[3], 3, 22)
    out = {"protocol": MODEL_PROTOCOL, "rng_seed": FCN8_SEED,
           "input": {"shape": list(FCN8_INPUT), "seed": 21,
                                           "summary": array_summary(x)},
           "targets": {"n": int(y.size), "values": 3, "seed": 22, "sum": int(y.sum()),
                       "void": int((y == 2).sum())}}
    noise = lasagne.layers.noise
    streams = noise.RandomStreams
    for label, dropout in (("command_line", 0.5), ("command_line_dropout_0", 0.0)):
        seeds = []

        def recording_streams(seed, *a, **kw):
            seeds.append(int(seed))
            return streams(seed, *a, **kw)
        noise.RandomStreams = recording_streams
        try:
            lasagne.random.set_rng(np.random.RandomState(FCN8_SEED))
            input_var = T.tensor4("input_var")
            t = time.time()
            convmodel = fcn8.buildFCN8(3, input_var, n_classes=2, void_labels=[2],
                                       trainable=True, load_weights=False, pascal=True,
                                       layer=["probs"], dropout=dropout)
            build_seconds = time.time() - t
        finally:
            noise.RandomStreams = streams
        names = layer_param_names(lasagne, convmodel)

        def get_output(deterministic, convmodel=convmodel):
            return lasagne.layers.get_output(convmodel, deterministic=deterministic)[0]
        res = model_checks(theano, lasagne, script, convmodel, input_var, x, y,
                           void_labels=[2], n_classes=2, learning_rate=0.0001,
                           weight_decay=0.0, get_output=get_output, names=names)
        res["build"] = ("buildFCN8(3, input_var, n_classes=2, void_labels=[2], trainable=True, "
                        "load_weights=False, pascal=True, layer=['probs'], dropout=%r)" % dropout)
        res["dropout_stream_seeds"] = seeds
        res["seconds"]["build"] = build_seconds
        out[label] = res
        print("fcn8", label, res["train_fn_losses"], res["seconds"], flush=True)
    out["layers"] = [[type(l).__name__, list(l.output_shape)]
                     for l in lasagne.layers.get_all_layers(convmodel)]
    return out


FCN8_TRAIN_SEED = 1234  # numpy.random.seed before train_fcn8.train (the script seeds nothing)
FCN8_TRAIN = {"learn_step": 0.0001, "weight_decay": 0.0, "max_patience": 100,
              "batch_size": [1, 1, 1],
              "data_augmentation": {"crop_size": (32, 48), "horizontal_flip": True,
                                    "fill_mode": "constant"}}


def fcn8_train_settings(args):
    """The fcn8_train part's keywords to train_fcn8.train: FCN8_TRAIN but where --batch-size or
    --crop say otherwise (benchmarks/bench_segm.py gives the command line's: 10 1 1, 224 x 224)."""
    settings = dict(FCN8_TRAIN, data_augmentation=dict(FCN8_TRAIN["data_augmentation"]))
    if args.batch_size:
        settings["batch_size"] = list(args.batch_size)
    if args.crop:
        settings["data_augmentation"]["crop_size"] = tuple(args.crop)
    return settings


def _pillow_imread(path):
    """skimage.io.imread's array for the made polyps' files: uint8 (rows, cols, 3) for the
    24-bit BMP frames, uint8 (rows, cols) for the 8-bit TIFF masks (Pillow's decoding)."""
    from PIL import Image
    with Image.open(path) as image:
        return np.array(image)


def run_fcn8_train(args, work):
    """train_fcn8.train('polyps', ...) on the made polyps of dltut/toy/polyps912 with its command
    line's settings (learning rate 1e-4, weight decay 0, max_patience 100, horizontal_flip True,
    fill_mode 'constant') but ``--epochs`` epochs, batches of one frame and a crop of 32 x 48
    (``FCN8_TRAIN``), after ``numpy.random.seed(1234)``: the script seeds nothing, and Lasagne's
    weights, the dropout streams' seeds and the augmentation all draw from numpy's global
    generator. Two things are done around the script (and said in its record): the frames are
    taken in the order of their names (the subclass of Polyps912Dataset it is given sorts the
    folder's glob listing, which depends on the disk), and where scikit-image is missing (the
    theano venv) ``skimage.io.imread`` is Pillow's decoding (``_pillow_imread``; the loaders part,
    run with scikit-image, records the same arrays). Records the lines it prints from "Start
    training" on (the " took ... s" cut off, the per-batch "Training batch"/"Valid batch" lines
    left out), each training and validation step's outputs, each batch's file names and sums."""
    settings = fcn8_train_settings(args)
    theano, lasagne, script = import_script(args, work, "train_fcn8")
    lasagne.random.set_rng(np.random)  # the script's: numpy's global generator
    imread = "scikit-image"
    if not hasattr(sys.modules.get("skimage"), "io"):
        io_module = types.ModuleType("skimage.io")
        io_module.imread = _pillow_imread
        sys.modules["skimage"].io = io_module
        sys.modules["skimage.io"] = io_module
        imread = "Pillow (segm_original._pillow_imread)"
    batches = {"train": [], "valid": [], "test": []}
    steps = {"train": [], "valid": []}
    base = script.Polyps912Dataset

    class Sorted(base):
        @property
        def filenames(self):
            return sorted(base.filenames.fget(self))

        def next(self):
            b = base.next(self)
            x, y = b if isinstance(b, list) else (b["data"], b["labels"])
            batches[self.which_set].append({
                "data_shape": list(np.shape(x)), "data_sum": f64(np.sum(x, dtype=np.float64)),
                "labels_sum": int(np.sum(y)), "void": int(np.sum(np.asarray(y) == 2))})
            return b

    class TheanoProxy(types.ModuleType):
        def __getattr__(self, name):
            return getattr(theano, name)

        @staticmethod
        def function(inputs, outputs, *a, **kw):
            fn = theano.function(inputs, outputs, *a, **kw)
            kind = "train" if kw.get("updates") else "valid"

            def call(*xs):
                out = fn(*xs)
                values = out if isinstance(out, list) else [out]
                steps[kind].append([np.asarray(o, dtype=np.float64).tolist() for o in values])
                return out
            return call

    saved = {k: getattr(script, k) for k in ("Polyps912Dataset", "theano")}
    script.Polyps912Dataset, script.theano = Sorted, TheanoProxy("theano")
    savepath = os.path.join(work, "save_models")
    buf = io.StringIO()
    t0 = time.time()
    error = None
    np.random.seed(FCN8_TRAIN_SEED)
    try:
        with contextlib.redirect_stdout(Tee(sys.stdout, buf)):
            script.train("polyps", num_epochs=args.epochs, savepath=savepath, **settings)
    except (IOError, OSError) as e:  # no epoch after the second improved: no best model file
        error = "%s: %s" % (type(e).__name__, e)
    finally:
        for k, v in saved.items():
            setattr(script, k, v)
    printed = buf.getvalue().splitlines()
    start = printed.index("Start training")
    lines = [re.sub(r" took [0-9.e+-]+ s$", "", line) for line in printed[start + 1:]
             if not line.startswith(("Training batch", "Valid batch"))]
    return {
        "how": ("train_fcn8.train('polyps', num_epochs=%d, savepath=..., **%r) on "
                "dltut/toy/polyps912 (frames in name order), numpy.random.seed(%d) before, "
                "floatX=float64" % (args.epochs, settings, FCN8_TRAIN_SEED)),
        "settings": dict(settings, epochs=args.epochs, seed=FCN8_TRAIN_SEED,
                         data_augmentation={k: list(v) if isinstance(v, tuple) else v
                                            for k, v in settings["data_augmentation"].items()}),
        "imread": imread,
        "printed_loop_lines": lines,
        "epoch_lines": [l for l in lines if l.startswith("EPOCH")],
        "final_lines": [l for l in lines if l.startswith("FINAL MODEL")],
        "error": error,
        "train_steps": [s[0] for s in steps["train"]],
        "valid_steps": [{"cost": s[0], "acc": s[1], "jacc_num_denom": s[2]}
                        for s in steps["valid"]],
        "batches": batches,
        "seconds": time.time() - t0,
    }


def run_metrics(args, work):
    """The training scripts' metric functions on one made prediction/target pair: 40 pixels, 2
    classes and a void label 2 (as the polyps), and the same pair without void for fcn1D's."""
    theano, lasagne, fcn8_script = import_script(args, work, "train_fcn8")
    _, _, unet_script = import_script(args, work, "train_unet")
    _, _, train_fcn1D = import_script(args, work, "train_fcn1D")
    T = theano.tensor
    rng = np.random.RandomState(31)
    logits = rng.normal(size=(40, 3))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pred2 = probs[:, :2] / probs[:, :2].sum(1, keepdims=True)  # 2 classes
    target = rng.randint(0, 3, 40).astype("int32")  # 2 = void
    target2 = np.where(target == 2, rng.randint(0, 2, 40), target).astype("int32")  # no void
    p = T.matrix("p")
    t = T.ivector("t")
    out = {"pred_2_classes": pred2.tolist(), "target_void_2": target.tolist(),
           "pred_3_classes": probs.tolist(), "target_no_void": target2.tolist()}
    for name, script in (("train_fcn8", fcn8_script), ("train_unet", unet_script)):
        f = theano.function([p, t], [script.crossentropy_metric(p, t, [2]),
                                     script.accuracy_metric(p, t, [2]),
                                     script.jaccard_metric(p, t, 2)])
        ce, acc, jac = f(pred2, target)
        out[name] = {"crossentropy_void_2": float(ce), "accuracy_void_2": float(acc),
                     "jaccard_num_denom_2_classes": np.asarray(jac).tolist()}
        f = theano.function([p, t], [script.crossentropy_metric(p, t, []),
                                     script.accuracy_metric(p, t, []),
                                     script.jaccard_metric(p, t, 3)])
        ce, acc, jac = f(probs, target2)
        out[name].update(crossentropy_no_void=float(ce), accuracy_no_void=float(acc),
                         jaccard_num_denom_3_classes_no_void=np.asarray(jac).tolist())
    f = theano.function([p, t], [
        lasagne.objectives.categorical_crossentropy(p, t).mean(),
        train_fcn1D.accuracy_metric(p, t, []), train_fcn1D.jaccard(p, t, 3),
        train_fcn1D.accuracy_metric(p, t, [2])])
    ce, acc, jac, acc_void = f(probs, target2)
    out["train_fcn1D"] = {"categorical_crossentropy_mean_no_void": float(ce),
                          "accuracy_no_void": float(acc),
                          "jaccard_num_denom_3_classes_no_void": np.asarray(jac).tolist(),
                          "accuracy_void_2_on_target_no_void": float(acc_void)}
    f = theano.function([p, t], [train_fcn1D.accuracy_metric(p, t, [2]),
                                 train_fcn1D.jaccard(p, t, 2)])
    acc, jac = f(pred2, target)
    out["train_fcn1D"].update(accuracy_void_2=float(acc),
                              jaccard_num_denom_2_classes_void_2=np.asarray(jac).tolist())
    return out


# ------------------------------------------------------------------------------------------------
# The 2-D loaders on the made data (no Theano; Polyps912Dataset needs scikit-image)
# ------------------------------------------------------------------------------------------------

def batch_record(batch, n_classes_seen=4):
    x, y = batch["data"], batch["labels"]
    yi = np.asarray(y).astype(np.int64)
    return {
        "filenames": [f if isinstance(f, str) else int(f)
                      for f in np.asarray(batch["filenames"]).ravel().tolist()],
        "data_shape": list(x.shape), "data_dtype": str(x.dtype),
        "data_sum": float(np.sum(x, dtype=np.float64)),
        "data_sum_per_item": [float(np.sum(a, dtype=np.float64)) for a in x],
        "labels_shape": list(np.shape(y)), "labels_dtype": str(np.asarray(y).dtype),
        "label_counts": np.bincount(yi.ravel(), minlength=n_classes_seen).tolist(),
        "labels_weighted_sum": float(np.sum(yi * np.arange(yi[0].size).reshape(yi[0].shape))),
    }


def run_loaders(args, work):
    """Polyps912Dataset and IsbiEmStacksDataset on the made data, as train_fcn8.py and
    train_unet.py build them but with return_list=False (to see the file names) and
    use_threads=False (their fetcher threads call Thread.isAlive, gone in Python 3.9; one thread
    gives the same batches in the same order). Augmentation: train_fcn8's default
    (horizontal_flip, fill_mode='constant') with a crop of 32 x 48 instead of 224 x 224, after
    numpy.random.seed(5): the flips and crops draw from numpy's global RNG."""
    setup_loaders(args, work)
    from dataset_loaders.images.polyps912 import Polyps912Dataset
    from dataset_loaders.images.isbi_em_stacks import IsbiEmStacksDataset
    import skimage
    out = {"skimage": skimage.__version__}

    def polyps(which, bs, shuffle, augm=None):
        return Polyps912Dataset(which_set=which, batch_size=bs, seq_per_subset=0, seq_length=0,
                                data_augm_kwargs=augm or {}, return_one_hot=False,
                                return_01c=False, overlap=0, use_threads=False,
                                shuffle_at_each_epoch=shuffle, return_list=False,
                                return_0_255=False)

    def epochs(it, n):
        return [[batch_record(it.next()) for _ in range(it.nbatches)] for _ in range(n)]

    p = {}
    for which, shuffle in (("train", True), ("valid", False), ("test", False)):
        it = polyps(which, 1, shuffle)
        p[which] = {"filenames_property": list(it.filenames), "nbatches": it.nbatches,
                    "epochs": epochs(it, 2 if shuffle else 1)}
    p["nclasses"], p["void_labels"] = Polyps912Dataset.nclasses, Polyps912Dataset.void_labels
    p["mapping"] = {str(k): v for k, v in Polyps912Dataset._mapping.items()}
    augm = {"crop_size": (32, 48), "horizontal_flip": True, "fill_mode": "constant"}
    np.random.seed(5)
    it = polyps("train", 2, True, augm)
    p["train_augmented"] = {"data_augm_kwargs": {k: list(v) if isinstance(v, tuple) else v
                                                 for k, v in augm.items()},
                            "np_random_seed": 5, "batch_size": 2, "nbatches": it.nbatches,
                            "epochs": epochs(it, 2)}
    out["polyps912"] = p

    def isbi(which, bs, shuffle):
        return IsbiEmStacksDataset(which_set=which, batch_size=bs, seq_per_subset=0,
                                   seq_length=0, data_augm_kwargs={}, return_one_hot=False,
                                   return_01c=False, overlap=0, use_threads=False,
                                   shuffle_at_each_epoch=shuffle, return_list=False,
                                   return_0_255=False)
    q = {}
    for which, bs, shuffle, n in (("train", 5, True, 2), ("valid", 5, False, 1),
                                  ("test", 10, False, 1)):
        it = isbi(which, bs, shuffle)
        q[which] = {"batch_size": bs, "nbatches": it.nbatches}
        try:
            q[which]["epochs"] = epochs(it, n)
        except RuntimeError as e:  # the test set: random_transform refuses its empty labels
            q[which]["error"] = "%s: %s" % (type(e).__name__, e)
    q["nclasses"], q["void_labels"] = IsbiEmStacksDataset.nclasses, IsbiEmStacksDataset.void_labels
    out["isbi_em_stacks"] = q
    return out


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--original", help="DeepLearningTutorials' tree (with code/)")
    p.add_argument("--lasagne", help="Lasagne's tree (with lasagne/)")
    p.add_argument("--dataset-loaders", help="dataset_loaders' tree (with dataset_loaders/)")
    p.add_argument("--toy", default=os.path.join(ROOT, "dltut", "toy"),
                   help="where the made data is (default: dltut/toy)")
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "segm_original.json"))
    p.add_argument("--work", default=None, help="work directory (default: a new temporary one)")
    p.add_argument("--parts", nargs="+", default=["fcn1d"],
                   choices=["fcn1d", "fcn1d_one_update", "unet", "unet_train", "fcn8",
                            "fcn8_train", "metrics", "loaders"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, nargs=3, default=None,
                   help="training, validation, test batches (default: each part's own: fcn1d "
                   "8 8 1, unet_train 5 5 1, fcn8_train 1 1 1)")
    p.add_argument("--unet-filters", type=int, default=UNET_TRAIN_FILTERS,
                   help="unet_train's base_n_filters (the tutorial's 64)")
    p.add_argument("--crop", type=int, nargs=2, metavar=("ROWS", "COLS"),
                   help="unet_train's and fcn8_train's training crop (default: 32 32 and 32 48, "
                   "for the made data's 64 x 64 slices and 48 x 64 frames; the tutorials' 224 224)")
    p.add_argument("--warp-sigma", type=float, default=None,
                   help="unet_train's spline warp's sigma (default 1.25; the tutorial's 10)")
    p.add_argument("--write-data", action="store_true",
                   help="(re)write the made data under --toy and exit")
    p.add_argument("--polyps-frames", type=int, nargs=3, metavar=("TRAIN", "VALID", "TEST"),
                   default=[n for _, n in POLYPS_SPLITS], help="--write-data's polyps frames")
    p.add_argument("--polyps-size", type=int, nargs=2, metavar=("ROWS", "COLS"),
                   default=list(POLYPS_SIZE), help="--write-data's polyps frames' size (the real "
                   "ones 288 384)")
    p.add_argument("--isbi-size", type=int, default=ISBI_SIZE,
                   help="--write-data's ISBI slices' side (the real ones 512)")
    args = p.parse_args(argv)

    if args.write_data:
        write_all(args.toy, polyps_splits=tuple(zip(("train", "valid", "test"),
                                                    args.polyps_frames)),
                  polyps_size=tuple(args.polyps_size), isbi_size=args.isbi_size)
        for k, v in file_digests(args.toy).items():
            print(v, k)
        return
    for name in ("original", "lasagne", "dataset_loaders"):
        if not getattr(args, name):
            p.error("--%s is needed to run the originals" % name.replace("_", "-"))

    work = args.work or tempfile.mkdtemp(prefix="segm-original-")
    os.makedirs(work, exist_ok=True)
    results = {}
    if "fcn1d" in args.parts and "fcn1d_one_update" in args.parts:
        p.error("run fcn1d and fcn1d_one_update in two processes (each seeds numpy's global RNG)")
    if "fcn1d" in args.parts:
        results["fcn1d"] = run_fcn1d(args, work)
    if "fcn1d_one_update" in args.parts:
        results["fcn1d_one_update"] = run_fcn1d(args, work, one_update=True)
    if "unet_train" in args.parts:  # before unet, which sets Lasagne's RNG
        results["unet_train"] = run_unet_train(args, work)
    if "unet" in args.parts:
        results["unet"] = run_unet(args, work)
    if "fcn8" in args.parts:
        results["fcn8"] = run_fcn8(args, work)
    if "fcn8_train" in args.parts:
        results["fcn8_train"] = run_fcn8_train(args, work)
    if "metrics" in args.parts:
        results["metrics"] = run_metrics(args, work)
    if "loaders" in args.parts:
        results["loaders"] = run_loaders(args, work)

    recorded = {}
    if os.path.exists(args.out):
        with open(args.out) as f:
            recorded = json.load(f)
    env = {"numpy": np.__version__, "python": sys.version.split()[0],
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}
    if "theano" in sys.modules:
        import theano
        env.update(theano=theano.__version__, floatX=theano.config.floatX,
                   mode=str(theano.config.mode), linker=str(theano.config.linker))
    recorded.setdefault("environment", {})
    for part in results:
        recorded["environment"][part] = env
    recorded["made_data_sha256"] = file_digests(args.toy)
    recorded.update(jsonable(results))
    with open(args.out, "w") as f:
        json.dump(recorded, f, indent=1, sort_keys=False)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
