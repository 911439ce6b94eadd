"""dataset_loaders: the void-label mapping, the augmentation and the batch iterator give what
fvisin/dataset_loaders gives the tutorials: random_transform against the original's outputs
recorded on made images (tests/segm_augmentation.npz, record_segm_augmentation.py), flips and
crops against NumPy slicing, the warp against scipy.ndimage.map_coordinates and a direct sum of
the B-spline, the batch order against a NumPy restatement of ThreadedDataset's steps."""

import itertools
import os

import numpy
import pytest
from scipy import ndimage

from dltut.tutorials import dataset_loaders as dl
from record_segm_augmentation import CASES, SEEDS, inputs

RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "segm_augmentation.npz")


# ----------------------------------------------------------------------------------------------
# Void labels


def test_void_mapping_the_loaders_examples():
    """The two examples of ThreadedDataset's docstring."""
    assert dl.void_mapping(4, [3, 5]) == {0: 0, 1: 1, 2: 2, 3: 4, 4: 3, 5: 4}
    assert dl.void_mapping(5, [2, 99], [0, 2, 5, 9, 11, 12, 99]) == {
        0: 0, 2: 5, 5: 1, 9: 2, 11: 3, 12: 4, 99: 5}
    assert dl.void_mapping(2, [2]) == {0: 0, 1: 1, 2: 2}  # the polyps: nothing moves


@pytest.mark.parametrize("nvnc,void,gt", [(4, [3, 5], None), (5, [2, 99], [0, 2, 5, 9, 11, 12, 99]),
                                          (2, [0], None), (2, [1], None), (3, [0, 4], None)])
def test_map_labels_is_a_lookup(nvnc, void, gt):
    """The loaders' in-place sequence of replacements equals looking each label up."""
    classes = gt if gt is not None else list(range(nvnc + len(void)))
    rng = numpy.random.RandomState(0)
    y = rng.choice(classes, size=(3, 7, 5)).astype(numpy.int32)
    expected = numpy.vectorize(dl.void_mapping(nvnc, void, gt).get)(y)
    assert dl.map_labels(y.copy(), nvnc, void, gt).tolist() == expected.tolist()


# ----------------------------------------------------------------------------------------------
# random_transform against the original


@pytest.mark.parametrize("name,seed", list(itertools.product(CASES, SEEDS)))
def test_random_transform_as_the_original(name, seed):
    """The original random_transform (dataset_loaders 11f8cf6, with SimpleITK 2.5.7 / ITK 5.4
    for the warp) on the made images, with numpy's global generator seeded with ``seed``; here
    with RandomState(seed): the same arrays and as many numbers drawn."""
    channels, settings = CASES[name]
    recorded = numpy.load(RECORDED)
    x, y = inputs(seed, channels)
    rng = numpy.random.RandomState(seed)
    data, labels = dl.random_transform(x, y, rng, nclasses=3, void_label=[2], **settings)
    expected = recorded[f"{name}-{seed}-data"]
    assert data.dtype == numpy.float32 and labels.dtype == numpy.int32
    assert data.shape == expected.shape
    numpy.testing.assert_allclose(data, expected, rtol=0, atol=1e-6)
    if "gamma" not in settings:  # (numpy 1.23's float32 power differs from 2.x's in last bits)
        assert (data == expected).mean() > 0.999  # bit for bit, bar an odd last-bit rounding
    numpy.testing.assert_array_equal(labels, recorded[f"{name}-{seed}-labels"])
    numpy.testing.assert_array_equal(rng.random_sample(4), recorded[f"{name}-{seed}-next"])


def test_the_flip_draws_are_drawn_without_augmentation():
    x, y = inputs(0, 1)
    rng = numpy.random.RandomState(3)
    data, labels = dl.random_transform(x, y, rng)
    numpy.testing.assert_array_equal(data, x)
    numpy.testing.assert_array_equal(labels, y)
    reference = numpy.random.RandomState(3)
    reference.random_sample(2)
    assert rng.random_sample() == reference.random_sample()


def test_flips_and_crop_are_numpy_slices():
    """A flip is a reversed axis: True flips always (random() < True); the crop's corner is
    randint(h - crop), randint(w - crop), drawn after the two flip numbers."""
    x, y = inputs(1, 3)
    for seed in range(6):
        rng = numpy.random.RandomState(seed)
        data, labels = dl.random_transform(x, y, rng, horizontal_flip=True, vertical_flip=0.5,
                                           crop_size=(9, 7))
        draws = numpy.random.RandomState(seed)
        assert draws.random_sample() < 1
        flipped_x, flipped_y = x[:, :, ::-1], y[:, :, ::-1]
        if draws.random_sample() < 0.5:
            flipped_x, flipped_y = flipped_x[:, ::-1], flipped_y[:, ::-1]
        top, left = draws.randint(x.shape[1] - 9), draws.randint(x.shape[2] - 7)
        numpy.testing.assert_array_equal(data, flipped_x[:, top:top + 9, left:left + 7])
        numpy.testing.assert_array_equal(labels, flipped_y[:, top:top + 9, left:left + 7])


def test_a_crop_larger_than_the_image_pads_with_zeros_and_the_void_label():
    x, y = inputs(0, 2)
    rows, cols = x.shape[1:3]
    data, labels = dl.random_transform(x, y, numpy.random.RandomState(0), void_label=[2],
                                       crop_size=(rows + 5, cols - 4))
    assert data.shape == (1, rows + 5, cols - 4, 2)
    assert (data[:, :2] == 0).all() and (data[:, -3:] == 0).all()
    assert (labels[:, :2] == 2).all() and (labels[:, -3:] == 2).all()
    draws = numpy.random.RandomState(0)
    draws.random_sample(2)
    left = draws.randint(4)
    numpy.testing.assert_array_equal(data[:, 2:-3], x[:, :, left:left + cols - 4])
    numpy.testing.assert_array_equal(labels[:, 2:-3], y[:, :, left:left + cols - 4])
    with pytest.raises(ValueError, match="no void class"):
        dl.random_transform(x, y, numpy.random.RandomState(0), void_label=[],
                            crop_size=(rows + 1, cols))


def test_settings_are_checked():
    x, y = inputs(0, 1)
    with pytest.raises(ValueError, match="unknown data augmentation setting.*crop"):
        dl.random_transform(x, y, crop=(3, 3))
    with pytest.raises(ValueError, match="crop_mode 'smart'"):
        dl.augmentation_settings({"crop_size": 4, "crop_mode": "smart"})
    with pytest.raises(ValueError, match="fill_mode 'wrap' with spline_warp"):
        dl.augmentation_settings({"spline_warp": True, "fill_mode": "wrap"})
    assert dl.augmentation_settings({"crop_size": 5})["crop_size"] == [5, 5]
    assert dl.augmentation_settings({"crop_size": (0, 0)})["crop_size"] is None
    with pytest.raises(ValueError, match="4 dimensions"):
        dl.random_transform(x[0], y)


# ----------------------------------------------------------------------------------------------
# The spline warp


def _bspline_direct(shape, parameters, grid_size, margin=dl.DOMAIN_MARGIN):
    """The B-spline transform's displacement summed node by node: ITK's grid (the nodes one
    spacing apart, the first one spacing before the image's widened box) and the cubic
    B-spline basis written out."""
    size = grid_size + 3
    coefficients = numpy.asarray(parameters).reshape(2, size, size)  # [d][node y, node x]

    def basis(t):
        t = abs(t)
        return (2 / 3 - t * t + t ** 3 / 2) if t < 1 else ((2 - t) ** 3 / 6 if t < 2 else 0.0)

    places = []
    for n in shape:
        spacing = (n + 2 * margin) / grid_size
        places.append([(p + 0.5 + margin) / spacing + 1 for p in range(n)])
    field = numpy.zeros(shape + (2,))
    for r, c in itertools.product(range(shape[0]), range(shape[1])):
        for k, l in itertools.product(range(size), range(size)):
            w = basis(places[0][r] - k) * basis(places[1][c] - l)
            if w:
                field[r, c] += w * coefficients[:, l, k]
    return field


def test_spline_warp_field_is_the_bspline_sum():
    rng = numpy.random.RandomState(7)
    field = dl.spline_warp_field((9, 6), 2.0, 3, rng)
    again = numpy.random.RandomState(7)
    points = 2.0 * again.randn(6, 6, 2)
    points[0], points[-1], points[:, 0], points[:, -1] = 0, 0, 0, 0
    numpy.testing.assert_allclose(field, _bspline_direct((9, 6), points.reshape(-1), 3),
                                  atol=1e-12)
    assert rng.random_sample() == again.random_sample()  # one randn of (6, 6, 2)


def test_spline_warp_field_against_simpleitk():
    """Where SimpleITK is installed: the field of the original's gen_warp_field steps."""
    sitk = pytest.importorskip("SimpleITK")
    for shape, grid in [((9, 6), 3), ((20, 31), 4), ((5, 5), 1)]:
        points = numpy.random.RandomState(1).randn(grid + 3, grid + 3, 2) * 3
        reference = sitk.Image(*(shape + (sitk.sitkFloat32,)))
        transform = sitk.BSplineTransformInitializer(reference, [grid, grid])
        transform.SetParameters(points.flatten())
        to_field = sitk.TransformToDisplacementFieldFilter()
        to_field.SetReferenceImage(reference)
        expected = sitk.GetArrayFromImage(to_field.Execute(transform)).transpose(1, 0, 2)
        numpy.testing.assert_allclose(dl.bspline_field(shape, points.reshape(-1), grid),
                                      expected, atol=1e-12)


@pytest.mark.parametrize("fill_mode", ["reflect", "nearest", "constant", "zero"])
def test_apply_warp_against_map_coordinates(fill_mode):
    """The warp samples the padded image at p + field[p]: scipy's map_coordinates (order 1,
    order 0) at those points gives the same values."""
    rng = numpy.random.RandomState(5)
    x = rng.rand(2, 11, 9, 3).astype(numpy.float32)
    field = dl.spline_warp_field((11, 9), 1.5, 3, rng)
    warped = dl.apply_warp(x, field, "linear", fill_mode, 0.25)
    nearest = dl.apply_warp(x, field, "nearest", fill_mode, 0.25)
    pad = int(numpy.ceil(numpy.abs(field).max()))
    numpy_modes = {"reflect": "symmetric", "nearest": "edge", "constant": "constant",
                   "zero": "constant"}
    value = {"constant": 0.25}.get(fill_mode, 0)
    rows, cols = numpy.mgrid[0:11, 0:9].astype(numpy.float64)
    points = [rows + pad + field[..., 0].astype(numpy.float32),
              cols + pad + field[..., 1].astype(numpy.float32)]
    for f, ch in itertools.product(range(2), range(3)):
        padded = numpy.pad(x[f, :, :, ch], pad, numpy_modes[fill_mode],
                           **({"constant_values": value} if value else {}))
        numpy.testing.assert_allclose(warped[f, :, :, ch],
                                      ndimage.map_coordinates(padded, points, order=1),
                                      atol=2e-7)
        numpy.testing.assert_array_equal(nearest[f, :, :, ch],
                                         ndimage.map_coordinates(padded, points, order=0))


def test_pad_image_is_the_originals():
    """pad_image's 'reflect' repeats the edge (the original's flipud/fliplr of the border
    rows), 'nearest' repeats the border pixel; the result is float32."""
    x = numpy.arange(20, dtype=numpy.int32).reshape(4, 5)
    e = 2
    padded = dl.pad_image(x, e, "reflect")
    assert padded.dtype == numpy.float32 and padded.shape == (8, 9)
    numpy.testing.assert_array_equal(padded[:e, e:-e], numpy.flipud(x[:e]))
    numpy.testing.assert_array_equal(padded[e:-e, -e:], numpy.fliplr(x[:, -e:]))
    numpy.testing.assert_array_equal(padded[-e:, -e:], numpy.fliplr(numpy.flipud(x[-e:, -e:])))
    nearest = dl.pad_image(x, e, "nearest")
    assert (nearest[:e, :e] == x[0, 0]).all() and (nearest[e:-e, -1] == x[:, -1]).all()
    assert (dl.pad_image(x, 1, "constant", 7)[0] == 7).all()
    with pytest.raises(ValueError, match="padding mode 'wrap'"):
        dl.pad_image(x, 1, "wrap")


# ----------------------------------------------------------------------------------------------
# The iterator


class Made(dl.BatchIterator):
    """Made examples: example ``i`` is a (2, 3, 1) image of value ``i`` with labels ``i % 4``
    (3 void, mapped to 3); names 'e0', 'e1', ..."""

    name = "made"
    non_void_nclasses = 3
    _void_labels = (3,)
    data_shape = (2, 3, 1)
    folder = "made"
    which_set = "train"

    def __init__(self, n, **kwargs):
        self.n = n
        super().__init__(**kwargs)

    def get_names(self):
        return [f"e{i}" for i in range(self.n)]

    def load_example(self, name):
        i = int(name[1:])
        return (numpy.full((2, 3, 1), i, numpy.float32),
                numpy.full((2, 3), i % 4, numpy.int32))


def reference_batches(n, batch_size, epochs, shuffle=True, seed=0xbeef):
    """ThreadedDataset's batches, restated: the names as one-frame sequences ((subset, name),),
    shuffled in place by RandomState(0xbeef) at construction and at each epoch's end, grouped by
    batch_size with None after the last one, the Nones left out."""
    rng = numpy.random.RandomState(seed)
    sequences = [(("default", f"e{i}"),) for i in range(n)]
    batches = []
    for _ in range(epochs):
        flat = list(sequences)
        if shuffle:
            rng.shuffle(flat)
        groups = itertools.zip_longest(*[iter(flat)] * batch_size)
        batches.append([[seq[0][1] for seq in group if seq is not None] for group in groups])
    return batches


@pytest.mark.parametrize("n,batch_size", [(10, 3), (7, 7), (5, 1), (4, 9)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_batch_order_is_threaded_datasets(n, batch_size, shuffle):
    made = Made(n, batch_size=batch_size, shuffle_at_each_epoch=shuffle)
    expected = reference_batches(n, batch_size, 3, shuffle)
    assert made.nbatches == len(expected[0]) and made.nsamples == n
    for epoch in expected:
        for names in epoch:
            batch = made.next()
            assert batch["filenames"].shape == (len(names), 1)
            assert batch["filenames"][:, 0].tolist() == names


def test_a_finite_iterator_stops_and_starts_the_next_epoch():
    made = Made(5, batch_size=2, infinite_iterator=False)
    expected = reference_batches(5, 2, 2)
    first = [b["filenames"][:, 0].tolist() for b in made]
    assert first == expected[0]
    assert [b["filenames"][:, 0].tolist() for b in made] == expected[1]


def test_a_batch_is_c01_float32_with_void_labels_mapped():
    made = Made(6, batch_size=4, shuffle_at_each_epoch=False)
    batch = made.next()
    assert batch["data"].shape == (4, 1, 2, 3) and batch["data"].dtype == numpy.float32
    assert batch["labels"].shape == (4, 2, 3) and batch["labels"].dtype == numpy.int32
    assert batch["data"][:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    assert batch["labels"][:, 0, 0].tolist() == [0, 1, 2, 3]  # void 3 -> non_void_nclasses 3
    assert made.void_labels == [3] and made.nclasses == 4 and made.batch_shape == [1, 2, 3]
    data, labels = Made(6, batch_size=4, return_list=True, shuffle_at_each_epoch=False).next()
    numpy.testing.assert_array_equal(data, batch["data"])
    x, y, names = made.arrays()
    assert x.shape == (6, 1, 2, 3) and names == [f"e{i}" for i in range(6)]


def test_augmentation_draws_per_example_in_batch_order():
    """The iterator augments each example of a batch in turn with augm_rng: the same as
    random_transform on each, from one generator."""
    made = Made(5, batch_size=5, shuffle_at_each_epoch=False, augm_rng=numpy.random.RandomState(9),
                data_augm_kwargs={"horizontal_flip": 0.5, "crop_size": (1, 2)})
    batch = made.next()
    draws = numpy.random.RandomState(9)
    for i in range(5):
        x, y = made.load_example(f"e{i}")
        x, y = dl.random_transform(x[None], y[None] % 4, draws, crop_size=(1, 2),
                                   horizontal_flip=0.5)
        numpy.testing.assert_array_equal(batch["data"][i], x[0].transpose(2, 0, 1))


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="batch_size 0"):
        Made(3, batch_size=0)

    class Sized(Made):
        data_shape = None

    with pytest.raises(ValueError, match="crop_size"):
        Sized(3, batch_size=2)
    assert Sized(3, batch_size=2, data_augm_kwargs={"crop_size": 1}).batch_shape == [3, 1, 1]


def test_the_scripts_options_are_accepted_as_they_pass_them():
    """train_fcn8.py's and train_unet.py's calls read as they did; an option dltut does not
    implement is refused."""
    made = Made(4, batch_size=2, seq_per_subset=0, seq_length=0, overlap=0,
                return_one_hot=False, return_01c=False, use_threads=True, return_list=True,
                return_0_255=False)
    assert made.next()[0].shape == (2, 1, 2, 3)
    with pytest.raises(ValueError, match="return_one_hot=True"):
        Made(4, return_one_hot=True)
    with pytest.raises(ValueError, match="seq_length=3"):
        Made(4, seq_length=3)
    with pytest.raises(TypeError, match="unknown option 'shuffle'"):
        Made(4, shuffle=True)
