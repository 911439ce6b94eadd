"""Record what the original random_transform gives on small made images, for
tests/test_dataset_loaders.py (tests/segm_augmentation.npz). Run by hand, not by the tests:

    python tests/record_segm_augmentation.py PATH/TO/dataset_loaders/data_augmentation.py OUT.npz

with a Python that has NumPy, SciPy and SimpleITK (the original's spline warp runs on SimpleITK).
The original's module is loaded from its file as it is, except its imports of scikit-image and
scipy.misc (used only by its image-saving helpers, absent from recent SciPy) are left out. For
each case of ``CASES`` and each seed, the inputs are drawn here from ``RandomState(100 + seed)``
(``inputs``, which the test repeats), numpy's global generator is seeded with ``seed``, the
original transforms them, and the outputs and the next four numbers of the global generator (to
check that as many numbers were drawn) are saved.
"""

import importlib.util
import sys
import tempfile

import numpy

ROWS, COLS = 24, 20
SEEDS = (0, 1)
CASES = {  # name: (channels, random_transform's settings)
    # U-Net's (train_unet.py) with a smaller warp and crop for the small image
    "unet": (1, dict(rotation_range=25, shear_range=0.41, horizontal_flip=True,
                     vertical_flip=True, fill_mode="reflect", spline_warp=True, warp_sigma=3,
                     warp_grid_size=3, crop_size=(16, 14))),
    # FCN-8's (train_fcn8.py)
    "fcn8": (3, dict(crop_size=(16, 12), horizontal_flip=True, fill_mode="constant")),
    "warp": (1, dict(spline_warp=True, warp_sigma=2, warp_grid_size=4, fill_mode="constant",
                     cval=0.5, cval_mask=1)),
    "pad": (3, dict(crop_size=(30, 12), horizontal_flip=0.5, vertical_flip=0.5)),
    "affine": (1, dict(rotation_range=30, width_shift_range=0.1, height_shift_range=0.2,
                       shear_range=0.3, zoom_range=(0.1, 0.3), fill_mode="nearest")),
    "shift": (3, dict(channel_shift_range=0.2, gamma=0.7, gain=1.1)),
}


def inputs(seed, channels):
    """The made image (1, ROWS, COLS, channels) float32 and labels (1, ROWS, COLS) int32 0-2."""
    rng = numpy.random.RandomState(100 + seed)
    x = rng.rand(1, ROWS, COLS, channels).astype(numpy.float32)
    y = rng.randint(0, 3, (1, ROWS, COLS)).astype(numpy.int32)
    return x, y


def load_original(path):
    source = open(path).read()
    kept = "\n".join(line for line in source.splitlines()
                     if not line.startswith(("from skimage", "import scipy.misc")))
    folder = tempfile.mkdtemp()
    with open(f"{folder}/original_augmentation.py", "w") as f:
        f.write(kept)
    spec = importlib.util.spec_from_file_location("original_augmentation",
                                                  f"{folder}/original_augmentation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(original_path, out):
    original = load_original(original_path)
    arrays = {}
    for name, (channels, settings) in CASES.items():
        for seed in SEEDS:
            x, y = inputs(seed, channels)
            numpy.random.seed(seed)
            data, labels = original.random_transform(x, y, nclasses=3, void_label=[2],
                                                     **settings)
            arrays[f"{name}-{seed}-data"] = data
            arrays[f"{name}-{seed}-labels"] = labels.astype(numpy.int8)
            arrays[f"{name}-{seed}-next"] = numpy.random.random_sample(4)
    numpy.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:])
