"""MNIST for the tutorials, read from files only (nothing is ever downloaded).

The tutorials trained on ``mnist.pkl.gz``, a pickle of three ``(x, y)`` pairs built from the
original MNIST files. ``load_data`` rebuilds exactly that split from the four IDX files shipped
inside the package, in ``dltut/mnist/`` (so every kind of install has them):

* train: the first 50,000 of the 60,000 training images,
* valid: the last 10,000 training images,
* test:  the 10,000 test images.

Each image is a row of 784 pixels, ``uint8 value / 256`` computed in float32 (so the largest pixel
is 255/256, as in ``mnist.pkl.gz``, not 1.0), then cast to floatX; each label is an int32 in 0-9.

``load_data`` also reads the tutorial's own ``mnist.pkl.gz`` and an ``.npz`` of the six arrays (see
``save_npz``). ``load_shared`` puts the three pairs into shared variables, as the tutorial's
``load_data`` did. Every problem with a file raises one ``DataError`` that names the file, the bad
value and what to do.
"""

import gzip
import hashlib
import logging
import math
import os
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy

from dltut import pickles
from dltut.atomic import atomic_write
from dltut.engine import floatX, shared

logger = logging.getLogger(__name__)

# The MNIST files shipped inside the package; the environment variable DLTUT_DATA overrides them.
DEFAULT_DATASET = Path(__file__).resolve().parent / "mnist"
CHECKSUMS = "SHA256SUMS"  # beside them: the sha256 of each shipped file

ROWS, COLS = 28, 28
PIXELS = ROWS * COLS  # 784
N_CLASSES = 10
N_TRAIN = 50000  # the tutorial's train set: the first 50,000 training images
N_VALID = 10000  # its valid set: the last 10,000

IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: n, rows, cols
LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: n

# The four IDX files, each found with or without .gz.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SPLITS = ("train", "valid", "test")
NPZ_KEYS = tuple(f"{split}_{part}" for split in SPLITS for part in ("x", "y"))


class DataError(ValueError):
    """A dataset file is missing, damaged or not what the tutorials expect."""


# ----------------------------------------------------------------------------------------------
# Entry points


def default_dataset():
    """The dataset ``load_data()`` reads: ``$DLTUT_DATA`` if set, else ``DEFAULT_DATASET``."""
    return Path(os.environ.get("DLTUT_DATA") or DEFAULT_DATASET)


def load_data(dataset=None):
    """Load MNIST as ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``.

    ``dataset`` is a directory of the four MNIST IDX files (``.gz`` or not), the tutorial's
    ``mnist.pkl.gz`` or an ``.npz`` written by ``save_npz``; ``None`` means ``default_dataset()``.
    Each x is a floatX array of shape (n, 784), each y an int32 array of shape (n,).
    """
    path = _resolve(dataset)
    logger.info("... loading data")
    logger.debug("reading MNIST from %s", path)
    if path == DEFAULT_DATASET:
        verify_checksums(path)
    if path.is_dir():
        return _load_idx_dir(path)
    if path.name.endswith((".pkl.gz", ".pkl")):
        return _load_pickle(path)
    if path.suffix == ".npz":
        return _load_npz(path)
    raise DataError(
        f"{path}: unknown dataset suffix {''.join(path.suffixes)!r}; "
        "pass a directory of MNIST IDX files, a .pkl.gz (the tutorial's mnist.pkl.gz) or a .npz"
    )


def shared_dataset(data_xy, name, borrow=True):
    """Shared variables ``{name}_x`` (floatX) and ``{name}_y`` (int32) holding one ``(x, y)`` pair.

    The tutorial stored the labels as floatX (the only type a GPU held) and cast them to int32 in
    the graph; we store int32 directly, so ``shared_y`` is used as the labels are.
    """
    data_x, data_y = data_xy
    shared_x = shared(numpy.asarray(data_x, dtype=floatX()), name=f"{name}_x", borrow=borrow)
    shared_y = shared(numpy.asarray(data_y, dtype="int32"), name=f"{name}_y", borrow=borrow)
    return shared_x, shared_y


def load_shared(dataset=None):
    """``load_data`` as shared variables: ``((train_x, train_y), (valid_x, valid_y), (test_x,
    test_y))`` named ``train_x``, ``train_y``, ... as the tutorial's ``load_data`` returned them."""
    return tuple(shared_dataset(pair, split) for split, pair in zip(SPLITS, load_data(dataset)))


def save_npz(path, datasets):
    """Write ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))`` to ``path`` (.npz).

    The arrays are stored as given, under the keys ``train_x``, ``train_y``, ... that ``load_data``
    reads. The file is written to a temporary name in the same folder and renamed, so ``path`` is
    either the old file or the whole new one, never a partial one.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise DataError(f"{path}: save_npz writes .npz files; name it {path.stem}.npz")
    splits = _check_structure(datasets, path)
    arrays = {f"{split}_{part}": numpy.asarray(value)
              for split, pair in zip(SPLITS, splits) for part, value in zip("xy", pair)}
    atomic_write(path, lambda file: numpy.savez_compressed(file, **arrays))


# ----------------------------------------------------------------------------------------------
# Finding the dataset


def _resolve(dataset):
    if dataset is not None:
        path = Path(dataset)
        if not path.exists():
            raise DataError(f"{path}: no such file or directory; pass the path of an MNIST dataset")
        return path
    path = default_dataset()
    if path.exists():
        return path
    if os.environ.get("DLTUT_DATA"):
        raise DataError(f"DLTUT_DATA={path}: no such file or directory; fix or unset DLTUT_DATA")
    raise DataError(
        f"{path}: the MNIST files shipped with dltut are not there (a damaged install?); "
        "reinstall dltut (pip install --force-reinstall dltut, or pip install -e . from the "
        "repository), or pass a dataset path (load_data(dataset=...) or DLTUT_DATA)"
    )


def verify_checksums(directory):
    """Check the files of ``directory`` against the sha256 sums listed in its ``SHA256SUMS``.

    Every listed file that is present must match (the list also names the decompressed IDX
    files, which are not shipped); at least one must be present. A mismatch is a DataError.
    """
    directory = Path(directory)
    sums_path = directory / CHECKSUMS
    try:
        lines = sums_path.read_text().splitlines()
    except OSError as error:
        raise DataError(f"{sums_path}: cannot read the checksums ({error.strerror}); "
                        "reinstall dltut") from error
    checked = 0
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        expected, name = line.split()
        path = directory / name
        if not path.exists():
            continue
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise DataError(f"{path}: sha256 {actual}, expected {expected} ({sums_path}): the file "
                            "is damaged; reinstall dltut")
        checked += 1
    if not checked:
        raise DataError(f"{sums_path}: none of the files it lists is in {directory}; reinstall dltut")


def _idx_paths(directory):
    """The four IDX files in ``directory``, preferring the ``.gz`` of each."""
    found, missing = {}, []
    for key, stem in IDX_FILES.items():
        candidates = [directory / f"{stem}.gz", directory / stem]
        found[key] = next((p for p in candidates if p.is_file()), None)
        if found[key] is None:
            missing.append(f"{stem}[.gz]")
    if missing:
        raise DataError(
            f"{directory}: missing {', '.join(missing)}; put the four MNIST IDX files there "
            "(see data/README.md)"
        )
    return found


# ----------------------------------------------------------------------------------------------
# The IDX files


def _load_idx_dir(directory):
    paths = _idx_paths(directory)
    train_images = _read_images(paths["train_images"])
    train_labels = _read_labels(paths["train_labels"])
    test_images = _read_images(paths["test_images"])
    test_labels = _read_labels(paths["test_labels"])
    _check_counts(train_images, paths["train_images"], train_labels, paths["train_labels"])
    _check_counts(test_images, paths["test_images"], test_labels, paths["test_labels"])
    if len(train_images) != N_TRAIN + N_VALID:
        raise DataError(
            f"{paths['train_images']}: {len(train_images)} training images, the tutorial split "
            f"needs {N_TRAIN + N_VALID} ({N_TRAIN} train + {N_VALID} valid); use the original "
            "MNIST file or write your own split with save_npz"
        )
    train_x = _pixels(train_images, paths["train_images"])
    test_x = _pixels(test_images, paths["test_images"])
    train_y, test_y = train_labels.astype(numpy.int32), test_labels.astype(numpy.int32)
    return (
        (train_x[:N_TRAIN], train_y[:N_TRAIN]),
        (train_x[N_TRAIN:], train_y[N_TRAIN:]),
        (test_x, test_y),
    )


def _read_images(path):
    images = _read_idx(path, IMAGE_MAGIC, "image")
    if images.shape[1:] != (ROWS, COLS):
        rows, cols = images.shape[1:]
        raise DataError(f"{path}: images of {rows}x{cols}, expected {ROWS}x{COLS} (not MNIST?)")
    return images


def _read_labels(path):
    labels = _read_idx(path, LABEL_MAGIC, "label")
    _check_labels(labels, path)
    return labels


def _read_idx(path, magic, kind):
    """The uint8 array of an IDX file: a big-endian header (magic, then one uint32 per dimension),
    then the values."""
    raw = _read_bytes(path)
    ndim = magic & 0xFF
    header_size = 4 * (1 + ndim)
    if len(raw) >= 4 and int.from_bytes(raw[:4], "big") != magic:
        raise DataError(
            f"{path}: bad magic 0x{int.from_bytes(raw[:4], 'big'):08X}, expected 0x{magic:08X} "
            f"(not an MNIST {kind} file?)"
        )
    if len(raw) < header_size:
        raise DataError(
            f"{path}: truncated, {len(raw)} bytes, shorter than the {header_size}-byte header of "
            f"an MNIST {kind} file; re-copy the file"
        )
    header = numpy.frombuffer(raw, dtype=">u4", count=1 + ndim)
    shape = tuple(int(n) for n in header[1:])
    expected = math.prod(shape)
    body = len(raw) - header_size
    if body != expected:
        what = "truncated" if body < expected else "too long"
        dims = "x".join(str(n) for n in shape[1:])
        items = f"{shape[0]} {kind}s" + (f" of {dims}" if dims else "")
        raise DataError(
            f"{path}: {what}, the header says {items} ({expected} bytes) but {body} bytes follow; "
            "re-copy the file"
        )
    return numpy.frombuffer(raw, dtype=numpy.uint8, offset=header_size).reshape(shape)


def _read_bytes(path):
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(
            f"{path}: truncated or corrupt gzip stream ({error}); re-copy the file"
        ) from error


def _check_counts(images, images_name, labels, labels_name):
    if len(images) != len(labels):
        raise DataError(
            f"{images_name}: {len(images)} images but {labels_name}: {len(labels)} labels; "
            "the two files must come from the same set"
        )


# ----------------------------------------------------------------------------------------------
# Pixels and labels, from any source


def _pixels(x, where):
    """(n, 784) floatX pixels from uint8 (divided by 256, in float32) or floats in [0, 1]."""
    if x.ndim < 2 or x.shape[1:] not in ((PIXELS,), (ROWS, COLS)):
        raise DataError(
            f"{where}: images of shape {x.shape[1:]}, expected {ROWS}x{COLS} or {PIXELS} pixels"
        )
    if x.dtype == numpy.uint8:
        x = x.astype(numpy.float32)
        x /= numpy.float32(256)  # exact: 255/256 is the largest pixel
    elif numpy.issubdtype(x.dtype, numpy.floating):
        bad = numpy.flatnonzero(~((x >= 0) & (x <= 1)))
        if bad.size:
            index = numpy.unravel_index(bad[0], x.shape)
            raise DataError(
                f"{where}: pixel value {x[index]} at index {tuple(int(i) for i in index)} is "
                "outside [0, 1]; store floats in [0, 1] or uint8 values 0-255"
            )
    else:
        raise DataError(f"{where}: pixels of dtype {x.dtype}, expected uint8 or floats in [0, 1]")
    return x.reshape(len(x), PIXELS).astype(floatX(), copy=False)


def _check_labels(y, where):
    if y.ndim != 1 or not numpy.issubdtype(y.dtype, numpy.integer):
        raise DataError(
            f"{where}: labels of shape {y.shape} and dtype {y.dtype}, expected a 1-d integer array"
        )
    bad = numpy.flatnonzero((y < 0) | (y >= N_CLASSES))
    if bad.size:
        raise DataError(
            f"{where}: label {y[bad[0]]} at index {bad[0]} is outside 0-{N_CLASSES - 1} "
            "(not MNIST labels?)"
        )


def _as_set(x, y, path, x_name, y_name):
    """One ``(x, y)`` pair of ``path`` checked and converted: floatX (n, 784) and int32 (n,)."""
    x, y = numpy.asarray(x), numpy.asarray(y)
    x = _pixels(x, f"{path}: {x_name}")
    _check_labels(y, f"{path}: {y_name}")
    if len(x) != len(y):
        raise DataError(f"{path}: {len(x)} images in {x_name} but {len(y)} labels in {y_name}")
    return x, y.astype(numpy.int32)


def _check_structure(datasets, where):
    """``datasets`` as three ``(x, y)`` pairs, or a DataError saying how it differs."""
    expected = "expected (train_set, valid_set, test_set), each an (x, y) pair"
    if not isinstance(datasets, (tuple, list)) or len(datasets) != 3:
        raise DataError(f"{where}: {expected}; got {_describe(datasets)}")
    for split, pair in zip(SPLITS, datasets):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise DataError(f"{where}: {expected}; {split}_set is {_describe(pair)}")
    return datasets


def _describe(value):
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


# ----------------------------------------------------------------------------------------------
# The tutorial's mnist.pkl.gz and the .npz format


def _load_pickle(path):
    """The tutorial's ``mnist.pkl.gz``: a Python 2 pickle, so its strings are read as latin1.

    Read by ``dltut.pickles``: a file naming anything but plain data and arrays is refused, with
    nothing run. Each x and y must be an array, as in the tutorial's file: a list would be
    copied into one by ``numpy.asarray``, however often the pickle repeats its rows.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            datasets = pickles.load(f, source=path)
    except pickles.UnsafePickleError as error:
        raise DataError(str(error)) from None
    except (EOFError, gzip.BadGzipFile, zlib.error, pickle.UnpicklingError) as error:
        message = f"{path}: truncated or corrupt pickle ({error}); re-copy the file"
        raise DataError(message) from error
    splits = _check_structure(datasets, path)
    for split, pair in zip(SPLITS, splits):
        for i, value in enumerate(pair):
            if not isinstance(value, numpy.ndarray):
                raise DataError(f"{path}: {split}_set[{i}] is {_describe(value)}, expected a "
                                "NumPy array (the tutorial's mnist.pkl.gz holds arrays; write "
                                "the data with save_npz instead)")
    return tuple(
        _as_set(x, y, path, f"{split}_set[0]", f"{split}_set[1]")
        for split, (x, y) in zip(SPLITS, splits)
    )


def _load_npz(path):
    arrays = _read_npz(path)
    missing = [key for key in NPZ_KEYS if key not in arrays]
    if missing:
        raise DataError(
            f"{path}: missing array(s) {', '.join(missing)}; an MNIST .npz holds "
            f"{', '.join(NPZ_KEYS)} (see save_npz)"
        )
    return tuple(
        _as_set(arrays[f"{split}_x"], arrays[f"{split}_y"], path, f"{split}_x", f"{split}_y")
        for split in SPLITS
    )


def _read_npz(path):
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a zip archive, so not an .npz; write it with save_npz")
    try:
        with numpy.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files if key in NPZ_KEYS}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        message = f"{path}: not a readable .npz ({error}); re-write it with save_npz"
        raise DataError(message) from error
