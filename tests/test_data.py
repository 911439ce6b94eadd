"""dltut.data: the MNIST split checked against an independent reading of the IDX files, the pickle
and npz round trips, and one DataError per kind of bad input."""

import gzip
import hashlib
import logging
import os
import pickle
import shutil
import struct

import numpy
import pytest

from dltut import data, engine
from dltut.data import DataError, load_data, load_shared, save_npz, shared_dataset

MNIST = data.DEFAULT_DATASET
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ----------------------------------------------------------------------------------------------
# Helpers


def read_idx_gz(path, header_size):
    """An independent reading of an IDX gz file: skip the header, keep the bytes."""
    with gzip.open(path, "rb") as f:
        return numpy.frombuffer(f.read(), dtype=numpy.uint8, offset=header_size)


def idx_bytes(array, magic):
    header = numpy.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + numpy.ascontiguousarray(array, dtype=numpy.uint8).tobytes()


def write(path, raw):
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def write_images(path, images):
    return write(path, idx_bytes(images, data.IMAGE_MAGIC))


def write_labels(path, labels):
    return write(path, idx_bytes(labels, data.LABEL_MAGIC))


def assert_error(call, *fragments):
    """``call()`` raises one DataError whose message contains every fragment."""
    with pytest.raises(DataError) as caught:
        call()
    message = str(caught.value)
    for fragment in fragments:
        assert str(fragment) in message, f"{fragment!r} not in {message!r}"
    return message


def small_splits(rng, sizes=(6, 3, 4)):
    """Three (x, y) pairs shaped like mnist.pkl.gz: float32 multiples of 1/256, int64 labels."""
    return tuple(
        (rng.randint(0, 256, size=(n, 784)).astype(numpy.float32) / 256, rng.randint(0, 10, n))
        for n in sizes
    )


def assert_splits_equal(loaded, expected):
    assert len(loaded) == 3
    for (x, y), (want_x, want_y) in zip(loaded, expected):
        assert x.dtype == engine.floatX() and y.dtype == numpy.int32
        numpy.testing.assert_array_equal(x, numpy.asarray(want_x).reshape(len(want_x), 784))
        numpy.testing.assert_array_equal(y, want_y)


@pytest.fixture
def rng():
    return numpy.random.RandomState(1234)


@pytest.fixture
def idx_dir(tmp_path, rng):
    """A directory of four small, well-formed IDX gz files (6 training, 4 test images)."""
    names = data.IDX_FILES
    write_images(tmp_path / f"{names['train_images']}.gz", rng.randint(0, 256, (6, 28, 28)))
    write_labels(tmp_path / f"{names['train_labels']}.gz", rng.randint(0, 10, 6))
    write_images(tmp_path / f"{names['test_images']}.gz", rng.randint(0, 256, (4, 28, 28)))
    write_labels(tmp_path / f"{names['test_labels']}.gz", rng.randint(0, 10, 4))
    return tmp_path


# ----------------------------------------------------------------------------------------------
# The default data


@pytest.fixture(scope="module")
def raw_mnist():
    """The 60,000 training and 10,000 test images and labels, read with gzip and numpy only."""
    return {
        "train_x": read_idx_gz(MNIST / "train-images-idx3-ubyte.gz", 16).reshape(-1, 784),
        "train_y": read_idx_gz(MNIST / "train-labels-idx1-ubyte.gz", 8),
        "test_x": read_idx_gz(MNIST / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784),
        "test_y": read_idx_gz(MNIST / "t10k-labels-idx1-ubyte.gz", 8),
    }


@pytest.fixture(scope="module", params=engine.FLOATX)
def mnist(request):
    """load_data() of the repository's MNIST, under each floatX in turn."""
    before = engine.floatX()
    engine.set_floatX(request.param)
    try:
        yield load_data()
    finally:
        engine.set_floatX(before)


@pytest.fixture
def float_x():
    """Restores floatX after a test that changes it."""
    before = engine.floatX()
    yield
    engine.set_floatX(before)


def test_default_shapes_and_dtypes(mnist):
    for (x, y), n in zip(mnist, (50000, 10000, 10000)):
        assert x.shape == (n, 784) and x.dtype == engine.floatX()
        assert y.shape == (n,) and y.dtype == numpy.int32


def test_pixels_are_multiples_of_1_256(mnist):
    for x, _ in mnist:
        scaled = x * 256
        assert not numpy.fmod(scaled, 1, out=scaled).any()
        assert x.min() == 0 and x.max() == numpy.float32(255 / 256)


def test_label_counts(mnist):
    (_, train_y), (_, valid_y), (_, test_y) = mnist
    assert numpy.bincount(numpy.concatenate([train_y, valid_y])).tolist() == TRAIN_COUNTS
    assert numpy.bincount(test_y).tolist() == TEST_COUNTS


def test_split_is_train_then_valid_then_test(mnist, raw_mnist):
    """train + valid are the 60,000 training images in order, each pixel value/256 exactly."""
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = mnist
    numpy.testing.assert_array_equal(train_x * 256, raw_mnist["train_x"][:50000])
    numpy.testing.assert_array_equal(valid_x * 256, raw_mnist["train_x"][50000:])
    numpy.testing.assert_array_equal(train_y, raw_mnist["train_y"][:50000])
    numpy.testing.assert_array_equal(valid_y, raw_mnist["train_y"][50000:])
    numpy.testing.assert_array_equal(test_x * 256, raw_mnist["test_x"])
    numpy.testing.assert_array_equal(test_y, raw_mnist["test_y"])


def test_uncompressed_idx_files(tmp_path, raw_mnist):
    for stem in data.IDX_FILES.values():
        with gzip.open(MNIST / f"{stem}.gz", "rb") as src, open(tmp_path / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    (train_x, train_y), (valid_x, _), (test_x, test_y) = load_data(tmp_path)
    assert len(train_x) == 50000 and len(valid_x) == 10000
    numpy.testing.assert_array_equal(valid_x * 256, raw_mnist["train_x"][50000:])
    numpy.testing.assert_array_equal(train_y, raw_mnist["train_y"][:50000])
    numpy.testing.assert_array_equal(test_x * 256, raw_mnist["test_x"])
    numpy.testing.assert_array_equal(test_y, raw_mnist["test_y"])


def test_dltut_data_overrides_the_default(tmp_path, rng, monkeypatch):
    splits = small_splits(rng)
    save_npz(tmp_path / "small.npz", splits)
    monkeypatch.setenv("DLTUT_DATA", str(tmp_path / "small.npz"))
    assert data.default_dataset() == tmp_path / "small.npz"
    assert_splits_equal(load_data(), splits)


def test_missing_default_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("DLTUT_DATA", raising=False)
    monkeypatch.setattr(data, "DEFAULT_DATASET", tmp_path / "gone")
    assert_error(load_data, tmp_path / "gone", "pip install -e .", "pass a dataset path")


def test_shipped_files_match_their_checksums():
    data.verify_checksums(data.DEFAULT_DATASET)  # raises on a mismatch
    listed = (data.DEFAULT_DATASET / data.CHECKSUMS).read_text()
    for name in data.IDX_FILES.values():
        digest = hashlib.sha256((data.DEFAULT_DATASET / f"{name}.gz").read_bytes()).hexdigest()
        assert f"{digest}  {name}.gz" in listed


def test_damaged_default_copy_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "mnist"
    shutil.copytree(data.DEFAULT_DATASET, copy)
    labels = copy / "t10k-labels-idx1-ubyte.gz"
    damaged = bytearray(labels.read_bytes())
    damaged[-8] ^= 0xFF  # a byte of the CRC: the file still reads as gzip's header and size
    labels.write_bytes(bytes(damaged))
    monkeypatch.delenv("DLTUT_DATA", raising=False)
    monkeypatch.setattr(data, "DEFAULT_DATASET", copy)
    assert_error(load_data, labels, "sha256", "reinstall dltut")


def test_missing_dltut_data_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("DLTUT_DATA", str(tmp_path / "gone.npz"))
    assert_error(load_data, f"DLTUT_DATA={tmp_path / 'gone.npz'}")


def test_logs_loading_data(tmp_path, rng, caplog):
    save_npz(tmp_path / "small.npz", small_splits(rng))
    with caplog.at_level(logging.INFO, logger="dltut.data"):
        load_data(tmp_path / "small.npz")
    assert "... loading data" in caplog.messages


# ----------------------------------------------------------------------------------------------
# Round trips: the tutorial's pickle and npz


def test_pkl_gz_round_trip(tmp_path, rng):
    splits = small_splits(rng)
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(splits, f, protocol=2)
    assert_splits_equal(load_data(path), splits)


def py2_pickled_array(a):
    """Protocol-2 opcodes for ``a`` as numpy 1.x on Python 2 wrote them: ``numpy.core.multiarray``
    and the raw data as a Python 2 ``str`` (BINSTRING), which Python 3 reads only as latin1."""
    a = numpy.ascontiguousarray(a)
    tuple_op = {1: b"\x85", 2: b"\x86"}[a.ndim]  # TUPLE1, TUPLE2
    shape = b"".join(b"J" + struct.pack("<i", n) for n in a.shape) + tuple_op
    code, order = a.dtype.str[1:].encode(), a.dtype.str[:1].encode()
    return (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01" + shape
        + b"cnumpy\ndtype\nU" + bytes([len(code)]) + code + b"K\x00K\x01\x87R(K\x03U\x01" + order
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        + b"\x89T" + struct.pack("<I", a.nbytes) + a.tobytes() + b"tb"
    )


def test_python2_pickle(tmp_path, rng):
    splits = small_splits(rng)
    pairs = [b"(" + py2_pickled_array(x) + py2_pickled_array(y) + b"t" for x, y in splits]
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(b"\x80\x02(" + b"".join(pairs) + b"t."))
    assert_splits_equal(load_data(path), splits)


@pytest.mark.parametrize("floatx", engine.FLOATX)
def test_npz_round_trip(tmp_path, rng, float_x, floatx):
    engine.set_floatX(floatx)
    splits = small_splits(rng)
    save_npz(tmp_path / "mnist.npz", splits)
    assert_splits_equal(load_data(tmp_path / "mnist.npz"), splits)


def test_npz_of_uint8_28x28_images_is_divided_by_256(tmp_path, rng):
    images = [rng.randint(0, 256, (n, 28, 28)).astype(numpy.uint8) for n in (5, 2, 3)]
    labels = [rng.randint(0, 10, len(x)).astype(numpy.uint8) for x in images]
    save_npz(tmp_path / "mnist.npz", list(zip(images, labels)))
    expected = [(x.reshape(-1, 784) / 256, y) for x, y in zip(images, labels)]
    assert_splits_equal(load_data(tmp_path / "mnist.npz"), expected)


def test_save_npz_replaces_the_old_file_or_leaves_it(tmp_path, rng, monkeypatch):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"old")

    def fail_halfway(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(numpy, "savez_compressed", fail_halfway)
    with pytest.raises(OSError, match="No space left"):
        save_npz(path, small_splits(rng))
    assert [p.name for p in tmp_path.iterdir()] == ["mnist.npz"]
    assert path.read_bytes() == b"old"


def test_save_npz_rejects_bad_structure_without_writing(tmp_path, rng):
    path = tmp_path / "mnist.npz"
    assert_error(lambda: save_npz(path, small_splits(rng)[:2]), "mnist.npz", "a tuple of 2 items")
    assert_error(lambda: save_npz(tmp_path / "mnist.txt", small_splits(rng)), "mnist.txt", ".npz")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# Shared variables


def test_shared_dataset_names_and_dtypes(rng):
    x, y = small_splits(rng)[0]
    shared_x, shared_y = shared_dataset((x, y), "train")
    assert (shared_x.name, shared_y.name) == ("train_x", "train_y")
    assert shared_x.get_value().dtype == engine.floatX()
    assert shared_y.get_value().dtype == numpy.int32
    numpy.testing.assert_array_equal(shared_x.get_value(), x)
    numpy.testing.assert_array_equal(shared_y.get_value(), y)


def test_load_shared(tmp_path, rng):
    splits = small_splits(rng)
    save_npz(tmp_path / "mnist.npz", splits)
    loaded = load_shared(tmp_path / "mnist.npz")
    names = [(x.name, y.name) for x, y in loaded]
    assert names == [("train_x", "train_y"), ("valid_x", "valid_y"), ("test_x", "test_y")]
    for (shared_x, shared_y), (x, y) in zip(loaded, splits):
        numpy.testing.assert_array_equal(shared_x.get_value(), x)
        numpy.testing.assert_array_equal(shared_y.get_value(), y)


# ----------------------------------------------------------------------------------------------
# One DataError per kind of bad input


TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"


def test_missing_path(tmp_path):
    assert_error(lambda: load_data(tmp_path / "nothing.npz"), "nothing.npz", "no such file")


def test_missing_idx_files_are_listed(idx_dir):
    (idx_dir / TRAIN_LABELS).unlink()
    (idx_dir / "t10k-images-idx3-ubyte.gz").unlink()
    message = assert_error(
        lambda: load_data(idx_dir), "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"
    )
    assert "train-images" not in message and "t10k-labels" not in message


@pytest.mark.parametrize(
    "name, content, fragments",
    [
        (TRAIN_IMAGES, idx_bytes(numpy.zeros(6), data.LABEL_MAGIC),
         ["bad magic 0x00000801, expected 0x00000803", "not an MNIST image file"]),
        (TRAIN_IMAGES, bytes(100), ["bad magic 0x00000000, expected 0x00000803"]),
        (TRAIN_LABELS, idx_bytes(numpy.zeros((6, 28, 28)), data.IMAGE_MAGIC),
         ["bad magic 0x00000803, expected 0x00000801", "not an MNIST label file"]),
    ],
    ids=["labels-as-images", "zeros", "images-as-labels"],
)
def test_bad_magic(idx_dir, name, content, fragments):
    write(idx_dir / name, content)
    assert_error(lambda: load_data(idx_dir), name, *fragments)


def test_truncated_idx(idx_dir, rng):
    raw = idx_bytes(rng.randint(0, 256, (6, 28, 28)), data.IMAGE_MAGIC)
    write(idx_dir / TRAIN_IMAGES, raw[:-100])
    assert_error(
        lambda: load_data(idx_dir), TRAIN_IMAGES, "truncated", "6 images of 28x28",
        f"{6 * 784} bytes", f"{6 * 784 - 100} bytes follow",
    )


def test_shorter_than_the_header(idx_dir):
    write(idx_dir / TRAIN_LABELS, b"\x00\x00\x08")
    assert_error(lambda: load_data(idx_dir), TRAIN_LABELS, "truncated", "3 bytes")


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_bad_gzip_stream(idx_dir, damage):
    path = idx_dir / TRAIN_IMAGES
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 2 : len(raw) // 2 + 16] = bytes(16)
    path.write_bytes(bytes(raw))
    assert_error(lambda: load_data(idx_dir), TRAIN_IMAGES, "truncated or corrupt gzip stream")


def test_image_and_label_counts_differ(idx_dir, rng):
    write_labels(idx_dir / TRAIN_LABELS, rng.randint(0, 10, 5))
    assert_error(lambda: load_data(idx_dir), TRAIN_IMAGES, "6 images", TRAIN_LABELS, "5 labels")


def test_label_outside_0_9(idx_dir):
    write_labels(idx_dir / TRAIN_LABELS, numpy.array([0, 1, 2, 10, 3, 11]))
    assert_error(lambda: load_data(idx_dir), TRAIN_LABELS, "label 10 at index 3", "outside 0-9")


def test_wrong_image_size(idx_dir, rng):
    write_images(idx_dir / TRAIN_IMAGES, rng.randint(0, 256, (6, 32, 32)))
    assert_error(lambda: load_data(idx_dir), TRAIN_IMAGES, "32x32", "expected 28x28")


def test_too_few_training_images_for_the_split(idx_dir):
    assert_error(lambda: load_data(idx_dir), TRAIN_IMAGES, "6 training images", "60000")


def test_unknown_suffix(tmp_path):
    (tmp_path / "mnist.csv").write_text("0,0,0\n")
    assert_error(lambda: load_data(tmp_path / "mnist.csv"), "mnist.csv", "'.csv'")


def test_npz_missing_a_key(tmp_path, rng):
    (train_x, train_y), (valid_x, _), (test_x, test_y) = small_splits(rng)
    path = tmp_path / "mnist.npz"
    numpy.savez(path, train_x=train_x, train_y=train_y, valid_x=valid_x, test_x=test_x,
                test_y=test_y)
    assert_error(lambda: load_data(path), "mnist.npz", "missing array(s) valid_y")


def test_npz_not_a_zip(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file")
    assert_error(lambda: load_data(tmp_path / "mnist.npz"), "mnist.npz", "not a zip archive")


@pytest.mark.parametrize(
    "key, value, fragments",
    [
        ("valid_y", numpy.array([0, 4, -1]), ["valid_y", "label -1 at index 2", "outside 0-9"]),
        ("test_y", numpy.array([0.0, 1.0, 2.0, 3.0]), ["test_y", "dtype float64", "integer"]),
        ("train_x", numpy.zeros((6, 10, 10)), ["train_x", "(10, 10)", "28x28"]),
        ("train_x", numpy.full((6, 784), 255.0),
         ["train_x", "pixel value 255.0 at index (0, 0)", "outside [0, 1]"]),
        ("test_x", numpy.zeros((3, 784), numpy.float32),
         ["3 images in test_x but 4 labels in test_y"]),
    ],
)
def test_npz_bad_arrays(tmp_path, rng, key, value, fragments):
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = small_splits(rng)
    arrays = dict(train_x=train_x, train_y=train_y, valid_x=valid_x, valid_y=valid_y,
                  test_x=test_x, test_y=test_y)
    arrays[key] = value
    numpy.savez(tmp_path / "mnist.npz", **arrays)
    assert_error(lambda: load_data(tmp_path / "mnist.npz"), "mnist.npz", *fragments)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ({"train": None}, "got a dict"),
        ((1, 2), "got a tuple of 2 items"),
        (((1, 2), ([1], [2], [3]), (3, 4)), "valid_set is a tuple of 3 items"),
    ],
    ids=["dict", "two-splits", "triple-pair"],
)
def test_pkl_wrong_structure(tmp_path, content, fragment):
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(content, f, protocol=2)
    expected = "expected (train_set, valid_set, test_set)"
    assert_error(lambda: load_data(path), "mnist.pkl.gz", expected, fragment)


def test_pkl_truncated(tmp_path, rng):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(small_splits(rng), protocol=2))[:200])
    assert_error(lambda: load_data(path), "mnist.pkl.gz", "truncated or corrupt")


class _System:
    """Pickles as a call of os.system: what a malicious data file does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_pkl_that_runs_code_is_refused_with_nothing_run(tmp_path, rng):
    witness = tmp_path / "ran"
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(
        (_System(f"touch {witness}"), *small_splits(rng)[1:]), protocol=2)))
    assert_error(lambda: load_data(path), "mnist.pkl.gz", "refused to load", "system",
                 "nothing was run")
    assert not witness.exists()


def test_pkl_of_lists_is_refused_before_numpy_copies_them(tmp_path, rng):
    # a list of rows, as many references to one row as the pickle's memo likes: not an array
    (train_x, train_y), *rest = small_splits(rng)
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(((list(train_x), train_y), *rest), f, protocol=2)
    assert_error(lambda: load_data(path), "mnist.pkl.gz",
                 "train_set[0] is a list of 6 items, expected a NumPy array")


def test_pkl_of_an_object_array_is_refused(tmp_path, rng):
    splits = small_splits(rng)
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((splits[0], (splits[1][0], splits[1][1].astype(object)), splits[2]), f, 2)
    assert_error(lambda: load_data(path), "mnist.pkl.gz", "refused an array of dtype 'O8'",
                 "nothing was run")


def test_pkl_bad_labels_name_the_set(tmp_path, rng):
    splits = small_splits(rng)
    splits[1][1][2] = 12
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(splits, f, protocol=2)
    assert_error(lambda: load_data(path), "mnist.pkl.gz", "valid_set[1]", "label 12 at index 2")


def test_idx_longer_than_its_header(idx_dir, rng):
    raw = idx_bytes(rng.randint(0, 10, 6), data.LABEL_MAGIC)
    write(idx_dir / TRAIN_LABELS, raw + bytes(3))
    assert_error(lambda: load_data(idx_dir), TRAIN_LABELS, "too long", "6 labels (6 bytes)",
                 "9 bytes follow")
