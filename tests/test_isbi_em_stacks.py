"""isbi_em_stacks: IsbiEmStacksDataset gives train_unet.py's batches as the original loader did
(slices read as Pillow reads them, / 255 in float32, labels // 255 in uint8, the split of 30
slices with its validation slices 0-4, ThreadedDataset's shuffles, U-Net's augmentation per
slice), restated here with NumPy; download() checks the files it fetches."""

import hashlib
import os

import numpy
import pytest

from dltut.data import DataError
from dltut.tutorials import dataset_loaders, isbi_em_stacks
from dltut.tutorials.isbi_em_stacks import IsbiEmStacksDataset
from segm_files import assert_batch_as_recorded, make_isbi, recorded_original, write_tiff

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def made(tmp_path):
    folder = tmp_path / "isbi"
    return folder, make_isbi(folder)


def original_slice(folder, file, index, labels=False):
    """The original's load_sequence: Pillow opens the stack and seeks the slice; the image
    [:, :, None] as uint8, / 255 in float32; the labels / 255 (Python 2: integer division)."""
    stack = Image.open(os.path.join(folder, file))
    stack.seek(index)
    page = numpy.array(stack)
    if labels:
        return page // 255
    return page[:, :, None].astype("uint8").astype("float32") / 255


def test_the_split_and_the_arrays(made):
    folder, (volume, labels, test) = made
    train = IsbiEmStacksDataset("train", path=folder)
    val = IsbiEmStacksDataset("valid", path=folder)
    testing = IsbiEmStacksDataset("test", path=folder)
    assert (train.nsamples, val.nsamples, testing.nsamples) == (25, 5, 30)
    assert train.data_shape == (16, 12, 1) and train.batch_shape == [1, 16, 12]
    assert train.non_void_nclasses == 2 and train.void_labels == [] and train.nclasses == 2
    for data, file, slices in ((train, "train-volume.tif", range(25)),
                               (val, "train-volume.tif", range(5)),  # the original's slices 0-4
                               (testing, "test-volume.tif", range(30))):
        x, y, names = data.arrays()
        assert names == list(range(len(slices))) and x.dtype == numpy.float32
        for i, s in enumerate(slices):
            numpy.testing.assert_array_equal(x[i], original_slice(folder, file, s)
                                             .transpose(2, 0, 1))
            if y is not None:
                assert y.dtype == numpy.uint8
                numpy.testing.assert_array_equal(y[i], original_slice(folder,
                                                                      "train-labels.tif", s,
                                                                      labels=True))
    assert testing.arrays()[1] is None
    assert set(numpy.unique(train.arrays()[1])) == {0, 1}  # 255 -> 1; 0 and 128 -> 0
    last = IsbiEmStacksDataset("val", path=folder, val_slices="last")
    numpy.testing.assert_array_equal(last.arrays()[0][:, 0], volume[25:].astype("float32") / 255)


def test_the_split_follows_the_stacks_length(tmp_path):
    make_isbi(tmp_path, n=10)
    assert IsbiEmStacksDataset("train", path=tmp_path).nsamples == 8  # int(0.85 * 10)
    assert IsbiEmStacksDataset("val", path=tmp_path, split=0.5).nsamples == 5


def test_unet_batches_over_epochs(made):
    """U-Net's training iterator (batches of 5, shuffled; flips and crop here, the warp being
    random_transform's, tested in test_dataset_loaders) for three epochs: the order from
    RandomState(0xbeef), each slice's flip numbers and crop corner drawn in turn."""
    folder, _ = made
    augmentation = {"horizontal_flip": True, "vertical_flip": True, "crop_size": (9, 8)}
    data = IsbiEmStacksDataset("train", path=folder, batch_size=5, return_list=True,
                               data_augm_kwargs=augmentation,
                               augm_rng=numpy.random.RandomState(11))
    assert data.nbatches == 5
    shuffles, draws = numpy.random.RandomState(0xbeef), numpy.random.RandomState(11)
    for _ in range(3):
        order = [(("default", i),) for i in range(25)]
        shuffles.shuffle(order)
        order = [seq[0][1] for seq in order]
        for start in range(0, 25, 5):
            x, y = data.next()
            assert x.shape == (5, 1, 9, 8) and y.shape == (5, 9, 8) and y.dtype == numpy.uint8
            for i, s in enumerate(order[start:start + 5]):
                image = original_slice(folder, "train-volume.tif", s)[::-1, ::-1]
                labels = original_slice(folder, "train-labels.tif", s, labels=True)[::-1, ::-1]
                draws.random_sample(2)
                top, left = draws.randint(16 - 9), draws.randint(12 - 8)
                numpy.testing.assert_array_equal(x[i, 0], image[top:top + 9, left:left + 8, 0])
                numpy.testing.assert_array_equal(y[i], labels[top:top + 9, left:left + 8])


def test_the_validation_and_test_iterators(made):
    folder, (volume, _, test) = made
    val = IsbiEmStacksDataset("val", path=folder, batch_size=5, shuffle_at_each_epoch=False)
    for _ in range(2):
        batch = val.next()
        assert batch["filenames"][:, 0].tolist() == [0, 1, 2, 3, 4]
        numpy.testing.assert_array_equal(batch["data"][:, 0], volume[:5].astype("float32") / 255)
    batch = IsbiEmStacksDataset("test", path=folder, batch_size=4,
                                shuffle_at_each_epoch=False).next()
    assert batch["labels"] is None and batch["data"].shape == (4, 1, 16, 12)
    numpy.testing.assert_array_equal(batch["data"][:, 0], test[:4].astype("float32") / 255)


def test_missing_and_damaged_stacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as error:
        IsbiEmStacksDataset()
    for words in ("data/isbi_em_stacks: no such folder", "brainiac2.mit.edu", "--toy",
                  "download"):
        assert words in str(error.value)
    folder = tmp_path / "data" / "isbi_em_stacks"
    make_isbi(folder)
    os.remove(folder / "test-volume.tif")
    with pytest.raises(DataError, match="test-volume.tif: no such file"):
        IsbiEmStacksDataset("test")
    write_tiff(folder / "train-labels.tif", numpy.zeros((29, 16, 12), numpy.uint8))
    with pytest.raises(DataError, match="29 slices of 16x12 for the 30 slices"):
        IsbiEmStacksDataset()
    write_tiff(folder / "train-labels.tif", [numpy.zeros((16, 12), numpy.uint8),
                                             numpy.zeros((16, 11), numpy.uint8)])
    with pytest.raises(DataError, match="train-labels.tif: pages of shape"):
        IsbiEmStacksDataset()
    with pytest.raises(ValueError, match="which_set 'validation'"):
        IsbiEmStacksDataset("validation")
    with pytest.raises(ValueError, match="val_slices"):
        IsbiEmStacksDataset("val", val_slices="middle")


def test_download_checks_the_md5(tmp_path, monkeypatch):
    """download() fetches each file with dltut.download.fetch (here a stand-in writing made
    bytes) and refuses one whose MD5 is not the published one."""
    fetched = []

    def fake_fetch(url, path, sha256=None):
        fetched.append((url, os.path.basename(path)))
        with open(path, "wb") as f:
            f.write(url.encode())
        return path

    monkeypatch.setattr("dltut.download.fetch", fake_fetch)
    sums = {name: hashlib.md5((isbi_em_stacks.URL + name).encode()).hexdigest()
            for name in isbi_em_stacks.FILES}
    monkeypatch.setattr(isbi_em_stacks, "MD5", sums)
    assert isbi_em_stacks.download(tmp_path / "new") == tmp_path / "new"
    assert fetched == [(isbi_em_stacks.URL + n, n) for n in isbi_em_stacks.FILES]
    monkeypatch.setattr(isbi_em_stacks, "MD5", dict(sums, **{"train-labels.tif": "0" * 32}))
    with pytest.raises(DataError, match="train-labels.tif: MD5 .* expected 0000"):
        isbi_em_stacks.download(tmp_path / "other")


def test_the_shipped_toy_stacks():
    folder = dataset_loaders.TOY / isbi_em_stacks.NAME
    if not os.path.isdir(folder):
        pytest.skip("no made stacks shipped yet")
    data = IsbiEmStacksDataset("train", toy=True)
    x, y, names = data.arrays()
    for i in names:
        numpy.testing.assert_array_equal(x[i], original_slice(folder, "train-volume.tif", i)
                                         .transpose(2, 0, 1))


def test_batches_as_the_original_recorded():
    """The original IsbiEmStacksDataset's batches on the shipped made stacks
    (segm_original.json): training batches of 5 shuffled over two epochs, the validation set's
    batch of 5 (its slices 0-4); the test set, whose empty labels the original's random_transform
    refused, here has None for labels. The labels are uint8 here, as the original's
    ``labels / 255`` gave under Python 2; the recording ran the loader on Python 3, whose true
    division gave float64 (the same 0s and 1s)."""
    recorded = recorded_original("loaders", "isbi_em_stacks")
    for which, shuffle in (("train", True), ("valid", False)):
        record = recorded[which]
        data = IsbiEmStacksDataset(which, toy=True, batch_size=record["batch_size"],
                                   shuffle_at_each_epoch=shuffle)
        assert data.nbatches == record["nbatches"]
        for epoch in record["epochs"]:
            for batch in epoch:
                assert batch["labels_dtype"] in ("uint8", "float64")
                assert_batch_as_recorded(data.next(), batch, labels_dtype="uint8")
    test = IsbiEmStacksDataset("test", toy=True, batch_size=recorded["test"]["batch_size"])
    assert test.nbatches == recorded["test"]["nbatches"] and test.next()["labels"] is None
    assert test.nclasses == recorded["nclasses"] and test.void_labels == recorded["void_labels"]
