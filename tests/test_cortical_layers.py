"""cortical_layers: Cortical6LayersDataset gives train_fcn1D.py's batches as the tutorial's 1-D
loader did with preload=True (each value parsed as a Python float then cast to float32, labels
int32, the split of the rays by np.random.seed(1609) and a shuffle, the smoothed channel first,
ThreadedDataset's shuffles, filenames (1, batch)), restated here with NumPy; a missing or damaged
file is one DataError naming it."""

import os
import re

import numpy
import pytest

from dltut.data import DataError
from dltut.tutorials import cortical_layers, dataset_loaders
from dltut.tutorials.cortical_layers import Cortical6LayersDataset
from segm_files import make_cortical, recorded_original


@pytest.fixture
def made(tmp_path):
    return tmp_path, make_cortical(tmp_path, n=40)


def original_rows(path, dtype):
    """The original's _preload_data: each line split on ' ', each piece float() or int(), the
    row as an array of floatX or int32."""
    py_type = float if dtype == "float32" else int
    rows = []
    with open(path) as f:
        for line in f:
            rows.append(numpy.array([py_type(el) for el in re.split(" ", line)], dtype=dtype))
    return numpy.vstack(rows)


def original_split(n, which_set, split=0.85):
    """The original's filenames property, with numpy's global generator; restores it after."""
    state = numpy.random.get_state()
    try:
        filenames = list(range(n))
        numpy.random.seed(1609)
        numpy.random.shuffle(filenames)
        after = numpy.random.get_state()
    finally:
        numpy.random.set_state(state)
    if which_set == "train":
        filenames = filenames[:int(n * split)]
    elif which_set == "val":
        filenames = filenames[-(n - int(n * split)):]
    return filenames, after


def test_the_files_are_read_as_the_original_reads_them(made):
    folder, _ = made
    files = folder / "6layers_segmentation"
    data = Cortical6LayersDataset("test", path=folder)
    numpy.testing.assert_array_equal(data.raw, original_rows(files / "training_raw.txt",
                                                             "float32"))
    numpy.testing.assert_array_equal(data.smooth, original_rows(files / "training_geo.txt",
                                                                "float32"))
    numpy.testing.assert_array_equal(data.mask, original_rows(files / "training_cls.txt",
                                                              "int32"))
    numpy.testing.assert_array_equal(data.regions, original_rows(files / "training_regions.txt",
                                                                 "int32"))
    assert data.raw.dtype == numpy.float32 and data.mask.dtype == numpy.int32


@pytest.mark.parametrize("which,split", [("train", 0.85), ("valid", 0.85), ("val", 0.5),
                                         ("test", 0.85), ("val", 1.0)])
def test_the_split_and_the_generator_it_leaves(made, which, split):
    folder, _ = made
    data = Cortical6LayersDataset(which, split=split, path=folder)
    expected, after = original_split(40, cortical_layers.SETS[which], split)
    assert data.names == expected and data.nsamples == len(expected)
    state = data.split_rng.get_state()
    assert state[0] == after[0] and (state[1] == after[1]).all() and state[2:] == after[2:]


def test_training_batches_as_train_fcn1d_gets_them(made):
    """Batches of 8 over three epochs: RandomState(0xbeef) shuffles the split's one-ray
    sequences at construction and after each epoch; each batch is the rays' smoothed and raw
    values as channels 0 and 1, their labels, and their line numbers as filenames[0]; the
    augmentation draws its two flip numbers once a batch."""
    folder, _ = made
    files = folder / "6layers_segmentation"
    raw = original_rows(files / "training_raw.txt", "float32")
    smooth = original_rows(files / "training_geo.txt", "float32")
    labels = original_rows(files / "training_cls.txt", "int32")
    augm = numpy.random.RandomState(2)
    data = Cortical6LayersDataset("train", path=folder, batch_size=8, augm_rng=augm)
    assert data.nbatches == 5 and data.batch_shape == [2, 200]  # 34 rays
    assert data.non_void_nclasses == 7 and data.void_labels == []
    shuffles, draws = numpy.random.RandomState(0xbeef), numpy.random.RandomState(2)
    split, _ = original_split(40, "train")
    for _ in range(3):
        sequences = [(("default", i),) for i in split]
        shuffles.shuffle(sequences)
        order = [seq[0][1] for seq in sequences]
        for start in range(0, len(order), 8):
            batch = data.next()
            rays = order[start:start + 8]
            assert batch["filenames"].shape == (1, len(rays))
            assert batch["filenames"][0].tolist() == rays
            expected = numpy.concatenate([smooth[rays][:, :, None], raw[rays][:, :, None]], 2)
            numpy.testing.assert_array_equal(batch["data"], expected.transpose(0, 2, 1))
            numpy.testing.assert_array_equal(batch["labels"], labels[rays])
            assert batch["data"].dtype == numpy.float32 and batch["labels"].dtype == numpy.int32
            draws.random_sample(2)
    assert augm.random_sample() == draws.random_sample()


@pytest.mark.parametrize("channel", ["smooth", "raw"])
def test_one_channel(made, channel):
    folder, _ = made
    data = Cortical6LayersDataset("valid", path=folder, smooth_or_raw=channel, batch_size=100,
                                  shuffle_at_each_epoch=False)
    batch = data.next()
    rays, _ = original_split(40, "val")
    source = data.smooth if channel == "smooth" else data.raw
    assert batch["data"].shape == (6, 1, 200)
    numpy.testing.assert_array_equal(batch["data"][:, 0], source[rays])
    x, y, names = data.arrays()
    numpy.testing.assert_array_equal(x, batch["data"])
    assert names == rays


def test_missing_data_says_where_it_comes_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as error:
        Cortical6LayersDataset()
    for words in ("data/cortical_layers: no such folder", "drive.google.com", "--toy",
                  "6layers_segmentation", "TrainingData190417"):
        assert words in str(error.value)
    make_cortical(tmp_path / "data" / "cortical_layers", n=5)
    os.remove(tmp_path / "data" / "cortical_layers" / "6layers_segmentation" /
              "training_regions.txt")
    with pytest.raises(DataError, match="training_regions.txt: no such file"):
        Cortical6LayersDataset()


@pytest.mark.parametrize("file,text,words", [
    ("training_raw.txt", "1 2 3\n\n4 5 6\n", "line 2 is blank"),
    ("training_raw.txt", "1 2 3\n4 5\n", "not a table of numbers"),
    ("training_raw.txt", "1 2 x\n", "not a table of numbers"),
    ("training_raw.txt", "1 nan 3\n", "line 1, value 2 is nan"),
    ("training_raw.txt", "1 2 1e999\n", "value 3 is inf"),
    ("training_raw.txt", "1 2 \u00e93\n", "not ASCII"),
    ("training_raw.txt", "", "empty"),
    ("training_cls.txt", "0 1 7\n", "line 1, value 3 is 7"),
    ("training_cls.txt", "0 1 -1\n", "value 3 is -1"),
    ("training_cls.txt", "0 1 2.0\n", "line 1 holds '.', not part of an int"),
    ("training_cls.txt", "0 1 99999999999\n", "int32"),
    ("training_geo.txt", "1 2\n", "1 rays of 2 values"),
    ("training_regions.txt", "1\n2\n", "2 lines for 1 rays"),
])
def test_damaged_files_are_refused(tmp_path, file, text, words):
    files = tmp_path / "6layers_segmentation"
    files.mkdir()
    for name, content in (("training_raw.txt", "1 2 3\n"), ("training_geo.txt", "4 5 6\n"),
                          ("training_cls.txt", "0 1 2\n"), ("training_regions.txt", "3\n")):
        (files / name).write_bytes((text if name == file else content).encode("utf-8"))
    with pytest.raises(DataError) as error:
        Cortical6LayersDataset("test", path=tmp_path)
    message = str(error.value)
    assert file in message and words in message and "\n" not in message, message


def test_the_shipped_toy_rays():
    folder = dataset_loaders.TOY / cortical_layers.NAME
    if not os.path.isdir(folder):
        pytest.skip("no made rays shipped yet")
    data = Cortical6LayersDataset("train", toy=True)
    files = folder / cortical_layers.SUBFOLDER
    numpy.testing.assert_array_equal(data.raw, original_rows(files / "training_raw.txt",
                                                             "float32"))
    expected, _ = original_split(len(data.raw), "train")
    assert data.names == expected


def test_batches_as_train_fcn1d_recorded():
    """The batches train_fcn1D.py drew from the tutorial's loader on the shipped made rays
    (segm_original.json, its fcn1d part): the splits' rays, then each epoch's training and
    validation batches (both shuffled at each epoch, as the script builds them): the rays, the
    data's and labels' sums, shapes and dtypes."""
    recorded = recorded_original("fcn1d")
    train_size, valid_size, _ = recorded["settings"]["batch_size"]
    iterators = {"train": Cortical6LayersDataset("train", toy=True, batch_size=train_size),
                 "val": Cortical6LayersDataset("valid", toy=True, batch_size=valid_size)}
    for which, data in iterators.items():
        split = recorded["splits"][which]
        assert data.names == split["rays"]
        assert data.nbatches == split["nbatches_at_init"]
        assert data.non_void_nclasses == split["non_void_nclasses"]
        assert data.void_labels == split["void_labels"]
    for key, which in (("train_batches", "train"), ("valid_batches", "val")):
        for epoch in recorded[key]:
            for record in epoch:
                batch = iterators[which].next()
                assert batch["filenames"][0].tolist() == record["rays"]
                assert list(batch["data"].shape) == record["data_shape"]
                assert str(batch["data"].dtype) == record["data_dtype"]
                assert float(numpy.sum(batch["data"], dtype=numpy.float64)) == pytest.approx(
                    record["data_sum"], rel=1e-12)
                assert int(numpy.sum(batch["labels"])) == record["labels_sum"]
