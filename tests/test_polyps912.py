"""polyps912: Polyps912Dataset gives train_fcn8.py's batches as the original loader did (frames
read by Pillow / 255 in float32, masks int32, the folder's listing order, ThreadedDataset's
shuffles, FCN-8's flip and crop drawn per frame), restated here with NumPy; a missing or damaged
folder is one DataError that says where the data comes from."""

import glob
import os

import numpy
import pytest

from dltut.data import DataError
from dltut.tutorials import polyps912
from dltut.tutorials.polyps912 import Polyps912Dataset
from segm_files import assert_batch_as_recorded, make_polyps, recorded_original, write_tiff

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def made(tmp_path):
    folder = tmp_path / "polyps"
    return folder, make_polyps(folder)


def listing(folder, which):
    """The original's filenames: glob of images/*.bmp, each without its folder and suffix."""
    return [os.path.splitext(os.path.split(p)[1])[0]
            for p in glob.glob(os.path.join(folder, which, "images", "*.bmp"))]


def original_example(folder, which, name):
    """The original's _load_image: skimage (Pillow) reads, the frame / 255. in float32."""
    image = numpy.array(Image.open(os.path.join(folder, which, "images", name + ".bmp")))
    mask = numpy.array(Image.open(os.path.join(folder, which, "masks2", name + ".tif")),
                       dtype="int32")
    return image.astype("float32") / 255.0, mask


def test_the_sets_as_arrays(made):
    folder, frames = made
    for which in ("valid", "test"):
        data = Polyps912Dataset(which, path=folder, batch_size=1)
        assert data.names == listing(folder, which) and set(data.names) == set(frames[which])
        for name in data.names:
            x, y = data.load_example(name)
            image, mask = original_example(folder, which, name)
            assert x.dtype == numpy.float32 and y.dtype == numpy.int32
            numpy.testing.assert_array_equal(x, image)
            numpy.testing.assert_array_equal(y, mask)
            numpy.testing.assert_array_equal(y, frames[which][name][1])
    x, y, names = Polyps912Dataset("valid", path=folder).arrays()
    assert x.shape == (3, 3, 12, 16) and y.shape == (3, 12, 16) and names == listing(folder,
                                                                                     "valid")
    with pytest.raises(DataError, match="differ in size"):
        Polyps912Dataset("train", path=folder).arrays()


def test_validation_batches_are_the_frames_in_listing_order(made):
    folder, _ = made
    data = Polyps912Dataset("val", path=folder, batch_size=1, shuffle_at_each_epoch=False,
                            return_list=True)
    assert data.nbatches == 3 and data.void_labels == [2] and data.non_void_nclasses == 2
    assert data.batch_shape == [3, None, None]
    for _ in range(2):
        for name in listing(folder, "valid"):
            x, y = data.next()
            image, mask = original_example(folder, "valid", name)
            assert x.shape == (1, 3, 12, 16) and y.shape == (1, 12, 16)
            numpy.testing.assert_array_equal(x[0], image.transpose(2, 0, 1))
            numpy.testing.assert_array_equal(y[0], mask)


def test_training_batches_as_train_fcn8_gets_them(made):
    """FCN-8's augmentation (crop, horizontal_flip True, fill_mode 'constant') on shuffled
    batches of 3, over three epochs: the order from RandomState(0xbeef) shuffling the listing
    at construction and at each epoch's end; for each frame in turn, numpy's generator draws the
    horizontal flip's number (< True: always flipped), the vertical flip's and the crop's top
    and left corner."""
    folder, _ = made
    crop = (8, 10)
    augmentation = {"crop_size": crop, "horizontal_flip": True, "fill_mode": "constant"}
    data = Polyps912Dataset("train", path=folder, batch_size=3, data_augm_kwargs=augmentation,
                            augm_rng=numpy.random.RandomState(4))
    assert data.nbatches == 3 and data.batch_shape == [3, 8, 10]
    shuffles = numpy.random.RandomState(0xbeef)
    draws = numpy.random.RandomState(4)
    for _ in range(3):
        names = [((("default", n),)) for n in listing(folder, "train")]
        shuffles.shuffle(names)
        names = [seq[0][1] for seq in names]
        for start in range(0, len(names), 3):
            batch = data.next()
            assert batch["filenames"][:, 0].tolist() == names[start:start + 3]
            for i, name in enumerate(names[start:start + 3]):
                image, mask = original_example(folder, "train", name)
                assert draws.random_sample() < True
                assert not draws.random_sample() < False
                image, mask = image[:, ::-1], mask[:, ::-1]
                top = draws.randint(image.shape[0] - crop[0])
                left = draws.randint(image.shape[1] - crop[1])
                window = (slice(top, top + crop[0]), slice(left, left + crop[1]))
                numpy.testing.assert_array_equal(batch["data"][i],
                                                 image[window].transpose(2, 0, 1))
                numpy.testing.assert_array_equal(batch["labels"][i], mask[window])
            assert batch["data"].dtype == numpy.float32 and batch["labels"].dtype == numpy.int32


def test_order_sorted_or_given(made):
    folder, _ = made
    assert Polyps912Dataset("test", path=folder, order="sorted").names == sorted(
        listing(folder, "test"))
    chosen = ["frame_test_1", "frame_test_0"]
    assert Polyps912Dataset("test", path=folder, order=chosen).names == chosen
    with pytest.raises(ValueError, match="not a frame"):
        Polyps912Dataset("test", path=folder, order=["frame_test_7"])
    with pytest.raises(ValueError, match="order 'random'"):
        Polyps912Dataset("test", path=folder, order="random")


def test_the_default_folder_and_the_missing_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as error:
        Polyps912Dataset("train")
    text = str(error.value)
    for words in ("data/polyps912: no such folder", "drive.google.com", "--toy",
                  "polyps_split7.zip"):
        assert words in text, text
    make_polyps(tmp_path / "data" / "polyps912")
    assert Polyps912Dataset("train", data_augm_kwargs={"crop_size": 4}, batch_size=2).nbatches == 4
    with pytest.raises(ValueError, match="toy=True"):
        Polyps912Dataset("train", path="x", toy=True)
    with pytest.raises(ValueError, match="which_set 'tr'"):
        Polyps912Dataset("tr")
    with pytest.raises(ValueError, match="crop_size"):
        Polyps912Dataset("train", batch_size=2)


def test_damaged_data_is_refused(made):
    folder, _ = made
    os.remove(folder / "valid" / "masks2" / "frame_valid_1.tif")
    with pytest.raises(DataError, match="frame_valid_1.tif: no such file, the mask"):
        Polyps912Dataset("valid", path=folder)
    (folder / "test" / "masks2").rename(folder / "test" / "masks")
    with pytest.raises(DataError, match="masks2: no such folder"):
        Polyps912Dataset("test", path=folder)
    mask = folder / "train" / "masks2" / "frame_train_0.tif"
    names = ["frame_train_0"]
    write_tiff(mask, [numpy.full((12, 16), 5, numpy.uint8)])
    with pytest.raises(DataError, match="frame_train_0.tif: label 5"):
        Polyps912Dataset("train", path=folder, order=names).next()
    write_tiff(mask, [numpy.zeros((12, 15), numpy.uint8)])
    with pytest.raises(DataError, match="a mask of 12x15 for the 12x16 frame"):
        Polyps912Dataset("train", path=folder, order=names).next()
    write_tiff(mask, [numpy.zeros((12, 16), numpy.uint8)] * 2)
    with pytest.raises(DataError, match="2 page"):
        Polyps912Dataset("train", path=folder, order=names).next()
    (folder / "train" / "images" / "frame_train_0.bmp").write_bytes(b"BM" + bytes(40))
    with pytest.raises(DataError, match="frame_train_0.bmp"):
        Polyps912Dataset("train", path=folder, order=names).next()
    empty = folder / "empty"
    for sub in ("images", "masks2"):
        os.makedirs(empty / "train" / sub)
    with pytest.raises(DataError, match="no train examples"):
        Polyps912Dataset("train", path=empty)


def test_the_shipped_toy_polyps():
    if not os.path.isdir(polyps912.TOY_FOLDER):
        pytest.skip("no made polyps shipped yet")
    for which in ("train", "valid", "test"):
        data = Polyps912Dataset(which, toy=True, batch_size=1)
        for name in data.names:
            x, y = data.load_example(name)
            image, mask = original_example(polyps912.TOY_FOLDER, which, name)
            numpy.testing.assert_array_equal(x, image)
            numpy.testing.assert_array_equal(y, mask)


def test_batches_as_the_original_recorded():
    """The original Polyps912Dataset's batches on the shipped made polyps (segm_original.json):
    each set one frame a batch in the order its glob listed them (given here as ``order``), the
    training set shuffled over two epochs; then FCN-8's augmentation (a 32x48 crop,
    horizontal_flip True, fill_mode 'constant') in batches of 2 after numpy.random.seed(5)."""
    recorded = recorded_original("loaders", "polyps912")
    for which in ("train", "valid", "test"):
        record = recorded[which]
        data = Polyps912Dataset(which, toy=True, order=record["filenames_property"],
                                shuffle_at_each_epoch=which == "train")
        assert data.nbatches == record["nbatches"]
        for epoch in record["epochs"]:
            for batch in epoch:
                assert_batch_as_recorded(data.next(), batch)
    assert data.nclasses == recorded["nclasses"]
    assert data.void_labels == recorded["void_labels"]
    augmented = recorded["train_augmented"]
    data = Polyps912Dataset("train", toy=True, order=recorded["train"]["filenames_property"],
                            batch_size=augmented["batch_size"],
                            data_augm_kwargs=augmented["data_augm_kwargs"],
                            augm_rng=numpy.random.RandomState(augmented["np_random_seed"]))
    assert data.nbatches == augmented["nbatches"]
    for epoch in augmented["epochs"]:
        for batch in epoch:
            assert_batch_as_recorded(data.next(), batch)
