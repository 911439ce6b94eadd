"""The batch iterator of the segmentation tutorials and the augmentation they ask of it.

The three segmentation tutorials (FCN-8 on the polyps, U-Net on the ISBI EM stacks, the 1-D FCN
on the cortical layers) read their data through fvisin/dataset_loaders: a dataset class names its
examples and loads one, and the shared ``ThreadedDataset`` groups them into minibatches, shuffles
them at each epoch, maps void labels, augments and lays the arrays out. ``BatchIterator`` is that
shared part, as the tutorials use it; ``Polyps912Dataset`` (polyps912.py), ``IsbiEmStacksDataset``
(isbi_em_stacks.py) and ``Cortical6LayersDataset`` (cortical_layers.py) are the datasets.

What a training script gets, and from which random numbers:

* **Order.** An epoch is the examples in the dataset's order, shuffled in place by ``rng`` (its
  own ``RandomState(0xbeef)`` unless given one, as ThreadedDataset) when
  ``shuffle_at_each_epoch``, cut into batches of ``batch_size`` (the last one shorter). The first
  epoch's shuffle is drawn when the iterator is built; the next one when ``next()`` is called
  after the last batch of an epoch, which then returns the new epoch's first batch
  (``infinite_iterator``, the default) or raises StopIteration.
* **Labels.** The void labels of a dataset (``_void_labels``) are mapped to
  ``non_void_nclasses`` and the other labels shifted down to ``0 .. non_void_nclasses - 1``
  (``void_mapping``, ``map_labels``), before the augmentation as dataset_loaders' last version
  does (the 1-D loader maps after it); ``void_labels`` is then ``[non_void_nclasses]`` or ``[]``.
  Labels stay class indices (no one-hot).
* **Layout.** ``next()`` returns ``{'data', 'labels', 'filenames'}`` (or ``[data, labels]`` with
  ``return_list``): data ``(batch, channels, rows, cols)`` float32 (the "c01" layout), labels
  ``(batch, rows, cols)`` in the dtype the dataset loads (int32 for the polyps, uint8 for ISBI),
  filenames ``(batch, 1)`` as ThreadedDataset stacks them (one name per one-frame sequence).
* **Augmentation.** ``random_transform`` is data_augmentation.py's, called once per example
  with the iterator's ``data_augm_kwargs``; it draws from ``augm_rng``, numpy's global generator
  unless given one, as the original (whose numpy.random calls it reproduces draw for draw): the
  channel shifts, the affine parameters, then one number for the horizontal and one for the
  vertical flip (drawn even when flipping is off), then the spline warp's control points, then
  the crop's corner.

Where the original behaves in a way a user would not guess, this module keeps it and says so: a
flip "probability" of True flips every image (``random() < True``); the crop's corner is drawn
with ``randint(h - crop)``, so a crop never holds the image's last row or column. Where it
differs, it says so too: the original printed and skipped a batch whose file could not be read,
this one raises. Threads are not used: the original's (U-Net's) thread fetched the same batches in
the same order, but drew its augmentation from the global generator concurrently with the other
iterators' draws, which is not reproducible; here every draw comes from the iterator's
``augm_rng`` in batch order.
"""

import os
from pathlib import Path

import numpy

from dltut.data import DataError

SHUFFLE_SEED = 0xbeef  # ThreadedDataset's RandomState for the epoch shuffles
DATA = Path("data")  # the datasets' folders: data/<name> (the originals' datasets_local_path)
TOY = Path(__file__).resolve().parent.parent / "toy"  # made data shipped with dltut

# ThreadedDataset's defaults for data_augm_kwargs: what random_transform does when not asked
AUGMENTATION = {
    "crop_size": None,  # (rows, cols) of a random crop, padded where the image is smaller
    "crop_mode": "random",  # only 'random' here ('smart' is not used by the tutorials)
    "rotation_range": 0,  # degrees: a rotation drawn in [-r, r]
    "width_shift_range": 0,  # fraction of the columns: a shift drawn in [-w, w]
    "height_shift_range": 0,  # fraction of the rows
    "shear_range": 0,  # radians: a shear drawn in [-s, s]
    "zoom_range": 0,  # z: zoom 1 - z on both axes (the original's listing of a scalar range)
    "channel_shift_range": 0,  # a shift of each channel drawn in [-c, c], clipped
    "fill_mode": "nearest",  # how the affine transform and the warp fill outside the image
    "cval": 0,  # the image's fill value for fill_mode 'constant'
    "cval_mask": 0,  # the labels' fill value for fill_mode 'constant'
    "horizontal_flip": False,  # probability of flipping the columns (True: always)
    "vertical_flip": False,  # probability of flipping the rows (True: always)
    "rescale": None,  # not implemented (nor in the original)
    "spline_warp": False,  # a B-spline elastic deformation
    "warp_sigma": 0.1,  # standard deviation of the control points' displacements (pixels)
    "warp_grid_size": 3,  # the B-spline mesh: grid_size x grid_size cells
    "gamma": 0,  # gamma correction x ** gamma * gain where gamma > 0
    "gain": 1,
}
# The original's other options, as the training scripts pass them: accepted with these values
# only, so that a script's call reads as it did
FIXED_OPTIONS = {"seq_per_subset": (0,), "seq_length": (0, None), "overlap": (0, None),
                 "return_one_hot": (False,), "return_01c": (False,), "return_0_255": (False,),
                 "fill_last_batch": (False,)}
# and these with any value, doing nothing: the batches are fetched in order, without threads
IGNORED_OPTIONS = ("use_threads", "nthreads", "queues_size", "preload", "raise_IOErrors")
FILL_MODES = ("constant", "nearest", "reflect", "wrap")  # scipy.ndimage's, as the original
PAD_MODES = ("constant", "nearest", "reflect", "zero")  # pad_image's (the warp's padding)


# ----------------------------------------------------------------------------------------------
# Void labels


def void_mapping(non_void_nclasses, void_labels, gt_classes=None):
    """``{original label: label}``: the non-void labels in order onto ``0 .. non_void_nclasses -
    1``, every void label onto ``non_void_nclasses``.

    Without ``gt_classes`` the labels are ``0 .. non_void_nclasses + len(void_labels) - 1``;
    with it, its labels (any integers) are the dataset's. For example 4 non-void classes and void
    labels [3, 5] give 0->0, 1->1, 2->2, 3->4, 4->3, 5->4.
    """
    if gt_classes is not None:
        mapping = {label: i for i, label in enumerate(sorted(set(gt_classes) - set(void_labels)))}
        for label in void_labels:
            mapping[label] = non_void_nclasses
        return mapping
    mapping, skipped = {}, 0
    for label in range(non_void_nclasses + len(void_labels)):
        if label in void_labels:
            mapping[label] = non_void_nclasses
            skipped += 1
        else:
            mapping[label] = label - skipped
    return mapping


def map_labels(y, non_void_nclasses, void_labels, gt_classes=None):
    """``y`` relabelled in place by ``void_mapping`` the way the loaders do it: the labels equal
    to ``non_void_nclasses`` are set aside (to ``max(gt_classes) + 1``, or -1), each other label
    in increasing order replaced by its image, then the set-aside ones by theirs. Labels outside
    the mapping are left as they are. Returns ``y``."""
    mapping = void_mapping(non_void_nclasses, void_labels, gt_classes)
    aside = -1 if gt_classes is None else max(gt_classes) + 1
    y[y == non_void_nclasses] = aside
    for label in sorted(mapping):
        if label != non_void_nclasses:
            y[y == label] = mapping[label]
    if non_void_nclasses in mapping:
        y[y == aside] = mapping[non_void_nclasses]
    return y


# ----------------------------------------------------------------------------------------------
# Augmentation (data_augmentation.random_transform)


def augmentation_settings(data_augm_kwargs):
    """``AUGMENTATION`` updated by ``data_augm_kwargs``, checked, with ``crop_size`` in the
    original's canonical form (an int ``c`` means ``[c, c]``; ``[0, 0]`` means no crop)."""
    settings = dict(AUGMENTATION)
    unknown = sorted(set(data_augm_kwargs or {}) - set(AUGMENTATION))
    if unknown:
        raise ValueError(f"unknown data augmentation setting(s) {', '.join(unknown)}; the "
                         f"settings are {', '.join(AUGMENTATION)}")
    settings.update(data_augm_kwargs or {})
    crop = settings["crop_size"]
    if crop is not None:
        crop = [crop, crop] if isinstance(crop, int) else list(crop)
        if len(crop) != 2 or not all(isinstance(c, int) and c >= 0 for c in crop):
            raise ValueError(f"crop_size {settings['crop_size']!r}: give (rows, cols) as two "
                             "non-negative ints, or one int for a square")
        settings["crop_size"] = None if crop == [0, 0] else crop
    if settings["crop_mode"] != "random":
        raise ValueError(f"crop_mode {settings['crop_mode']!r}: only 'random' is implemented "
                         "(the tutorials crop at random)")
    if settings["rescale"]:
        raise ValueError(f"rescale {settings['rescale']!r}: not implemented (nor in the "
                         "original's random_transform)")
    if settings["fill_mode"] not in FILL_MODES:
        raise ValueError(f"fill_mode {settings['fill_mode']!r}: one of {', '.join(FILL_MODES)}")
    if settings["spline_warp"] and settings["fill_mode"] not in PAD_MODES:
        raise ValueError(f"fill_mode {settings['fill_mode']!r} with spline_warp: the warp pads "
                         f"with one of {', '.join(PAD_MODES)}")
    grid = settings["warp_grid_size"]
    if settings["spline_warp"] and not (isinstance(grid, int) and grid >= 1):
        raise ValueError(f"warp_grid_size {grid!r}: a positive int (the mesh's cells a side)")
    return settings


def random_transform(x, y=None, rng=None, nclasses=None, void_label=(), rows_idx=1, cols_idx=2,
                     chan_idx=3, **settings):
    """``x`` and ``y`` augmented as data_augmentation.random_transform does it; returns new
    arrays ``(x, y)``.

    ``x`` is ``(frames, rows, cols, channels)`` (the axes ``rows_idx``, ``cols_idx`` and
    ``chan_idx``), ``y`` ``(frames, rows, cols)`` or None; ``settings`` are those of
    ``AUGMENTATION`` (missing ones take its values). ``rng`` (numpy's global generator by
    default) is drawn in the original's order: each channel's shift; the rotation, vertical
    shift, horizontal shift, shear and the two zooms of the affine transform (each only where its
    range is set); one number for the horizontal flip and one for the vertical flip, always;
    the warp's control points; the crop's top and left corner (where the image is larger than
    the crop). ``void_label`` (a list) fills the labels where a crop is larger than the image.
    """
    rng = numpy.random if rng is None else rng
    s = augmentation_settings(settings)
    if x.ndim != 4:
        raise ValueError(f"random_transform takes x of 4 dimensions (frames, rows, cols, "
                         f"channels), got shape {x.shape}")
    if y is not None and y.ndim != 3:
        raise ValueError(f"random_transform takes y of 3 dimensions (frames, rows, cols), got "
                         f"shape {y.shape}")
    x = x.copy()
    has_y = y is not None and len(y) > 0
    if has_y:
        y = y[..., None].copy()  # an axis for the channels, as x

    zoom = s["zoom_range"]
    if numpy.isscalar(zoom):
        if zoom > 1:
            raise ValueError(f"zoom_range {zoom}: between 0 and 1")
        zoom = [1 - zoom, 1 - zoom]  # the original's listing: a constant zoom, two draws
    elif len(zoom) == 2:
        if any(z > 1 for z in zoom):
            raise ValueError(f"zoom_range {zoom}: between 0 and 1")
        zoom = [1 - z for z in zoom]
    else:
        raise ValueError(f"zoom_range {zoom!r}: a float or two floats")

    if s["channel_shift_range"] != 0:
        x = _channel_shift(x, s["channel_shift_range"], rng, rows_idx, cols_idx, chan_idx)
    if s["gamma"] > 0:
        scale = 1.0
        x = ((x / scale) ** s["gamma"]) * scale * s["gain"]

    if (s["rotation_range"] or s["height_shift_range"] or s["width_shift_range"]
            or s["shear_range"] or zoom != [1, 1]):
        matrix = _affine_matrix(s, zoom, rng, x.shape[rows_idx], x.shape[cols_idx])
        x = apply_transform(x, matrix, s["fill_mode"], s["cval"], 1, rows_idx, cols_idx)
        if has_y:
            y = apply_transform(y, matrix, s["fill_mode"], s["cval_mask"], 0, rows_idx,
                                cols_idx)

    if rng.random_sample() < s["horizontal_flip"]:
        x = numpy.flip(x, cols_idx)
        if has_y:
            y = numpy.flip(y, cols_idx)
    if rng.random_sample() < s["vertical_flip"]:
        x = numpy.flip(x, rows_idx)
        if has_y:
            y = numpy.flip(y, rows_idx)

    if s["spline_warp"]:
        field = spline_warp_field((x.shape[rows_idx], x.shape[cols_idx]), s["warp_sigma"],
                                  s["warp_grid_size"], rng)
        x = apply_warp(x, field, "linear", s["fill_mode"], s["cval"], rows_idx, cols_idx)
        if has_y:
            y = numpy.round(apply_warp(y, field, "nearest", s["fill_mode"], s["cval_mask"],
                                       rows_idx, cols_idx))

    if s["crop_size"]:
        x, y = _random_crop(x, y if has_y else None, s["crop_size"], rng, void_label,
                            rows_idx, cols_idx)
    if has_y:
        y = y[..., 0]
    return numpy.ascontiguousarray(x), (numpy.ascontiguousarray(y) if has_y else y)


def _channel_shift(x, shift_range, rng, rows_idx, cols_idx, chan_idx):
    """Each channel of each frame shifted by a number drawn in ``[-shift_range, shift_range]``
    and clipped to the range the whole array has at that moment (the original's loop)."""
    others = [a for a in range(x.ndim) if a not in (rows_idx, cols_idx, chan_idx)]
    order = [chan_idx, *others, rows_idx, cols_idx]
    moved = x.transpose(order)
    shape = moved.shape
    flat = moved.reshape(-1, shape[-2] * shape[-1]).copy()
    for i in range(len(flat)):
        low, high = flat.min(), flat.max()
        flat[i] = numpy.clip(flat[i] + rng.uniform(-shift_range, shift_range), low, high)
    return flat.reshape(shape).transpose(numpy.argsort(order))


def _affine_matrix(s, zoom, rng, rows, cols):
    """The 3x3 homography of a rotation, shift, shear and zoom drawn in the original's order,
    about the image's centre."""
    theta = (numpy.pi / 180 * rng.uniform(-s["rotation_range"], s["rotation_range"])
             if s["rotation_range"] else 0)
    rotation = numpy.array([[numpy.cos(theta), -numpy.sin(theta), 0],
                            [numpy.sin(theta), numpy.cos(theta), 0],
                            [0, 0, 1]])
    tx = (rng.uniform(-s["height_shift_range"], s["height_shift_range"]) * rows
          if s["height_shift_range"] else 0)
    ty = (rng.uniform(-s["width_shift_range"], s["width_shift_range"]) * cols
          if s["width_shift_range"] else 0)
    translation = numpy.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    shear = rng.uniform(-s["shear_range"], s["shear_range"]) if s["shear_range"] else 0
    shearing = numpy.array([[1, -numpy.sin(shear), 0], [0, numpy.cos(shear), 0], [0, 0, 1]])
    zx, zy = (1, 1) if zoom == [1, 1] else rng.uniform(zoom[0], zoom[1], 2)
    zooming = numpy.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    matrix = numpy.dot(numpy.dot(numpy.dot(rotation, translation), shearing), zooming)
    o_x, o_y = float(rows) / 2 + 0.5, float(cols) / 2 + 0.5
    to_centre = numpy.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    back = numpy.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return numpy.dot(numpy.dot(to_centre, matrix), back)


def apply_transform(x, matrix, fill_mode="nearest", cval=0.0, order=0, rows_idx=1, cols_idx=2):
    """Each (rows, cols) slice of ``x`` resampled by ``scipy.ndimage.affine_transform`` with the
    2x2 part of the homography ``matrix`` and its offset (output pixel -> input pixel)."""
    from scipy import ndimage

    others = [a for a in range(x.ndim) if a not in (rows_idx, cols_idx)]
    axes = [*others, rows_idx, cols_idx]
    moved = x.transpose(axes)
    shape = moved.shape
    slices = moved.reshape((-1,) + shape[-2:]).copy()
    for i in range(len(slices)):
        slices[i] = ndimage.affine_transform(slices[i], matrix[:2, :2], matrix[:2, 2],
                                             order=order, mode=fill_mode, cval=cval)
    return slices.reshape(shape).transpose(numpy.argsort(axes))


def _random_crop(x, y, crop_size, rng, void_label, rows_idx, cols_idx):
    """A ``crop_size`` window at a random corner (``randint(h - crop)``, so never the last
    one); where the image is smaller than the crop, it is padded equally on both sides (the odd
    pixel after): the data with 0, the labels with ``void_label``."""
    others = [a for a in range(x.ndim) if a not in (rows_idx, cols_idx)]
    axes = [*others, rows_idx, cols_idx]
    back = numpy.argsort(axes)
    x = x.transpose(axes)
    crop, pad = list(crop_size), [0, 0]
    h, w = x.shape[-2:]
    if crop[0] < h:
        top = rng.randint(h - crop[0])
    else:
        pad[0], top, crop[0] = crop[0] - h, 0, h
    if crop[1] < w:
        left = rng.randint(w - crop[1])
    else:
        pad[1], left, crop[1] = crop[1] - w, 0, w
    x = x[..., top:top + crop[0], left:left + crop[1]]
    if y is not None:
        y = y.transpose(axes)[..., top:top + crop[0], left:left + crop[1]]
    if pad != [0, 0]:
        widths = ((0, 0),) * (x.ndim - 2) + ((pad[0] // 2, pad[0] - pad[0] // 2),
                                             (pad[1] // 2, pad[1] - pad[1] // 2))
        x = numpy.pad(x, widths, "constant")
        if y is not None:
            if len(void_label) == 0:
                raise ValueError(f"crop_size {crop_size} is larger than the {h}x{w} image, and "
                                 "the dataset has no void class to pad its labels with; crop "
                                 "smaller")
            y = numpy.pad(y, widths, "constant", constant_values=void_label[0])
    return x.transpose(back), (y.transpose(back) if y is not None else None)


# ----------------------------------------------------------------------------------------------
# The B-spline warp (gen_warp_field and apply_warp, which use SimpleITK)

DOMAIN_MARGIN = 1 / 8  # ITK's BSplineTransformInitializer widens the image's box by this


def spline_warp_field(shape, sigma, grid_size, rng=None, margin=DOMAIN_MARGIN):
    """A random elastic deformation of an image of ``shape`` (rows, cols), as gen_warp_field
    draws it: ``sigma * randn(grid_size + 3, grid_size + 3, 2)`` control-point displacements (one
    draw of ``rng``, numpy's global generator by default), the outer ring of the array set to 0,
    handed to a cubic B-spline transform on a ``grid_size`` x ``grid_size`` mesh over the image.

    Returns the displacement of each pixel, ``(rows, cols, 2)`` float64, the first component
    along the rows. It is SimpleITK's ``TransformToDisplacementFieldFilter`` of that transform,
    computed here: ITK's parameters are all the first components' coefficients then all the
    second's, each grid in ITK's order (the first image axis fastest), so the flattened
    ``(grid, grid, 2)`` array the original hands over is read that way (its zeroed ring is then
    not the ring of either grid). The image's first axis is ITK's x: the original makes its
    reference image ``sitk.Image(rows, cols)``. The mesh spans the pixels' outer edges widened by
    ``margin`` on each side, as ITK's initializer does (ITK 5.4's, which the tests compare with;
    ITK 4's source has the same 1/8). Checked against SimpleITK 2.5.7: the same field to 1e-12,
    and random_transform's outputs bit for bit.
    """
    rng = numpy.random if rng is None else rng
    size = grid_size + 3  # mesh cells + spline order
    points = sigma * rng.randn(size, size, 2)
    points[:, 0, :] = 0
    points[:, -1:, :] = 0
    points[0, :, :] = 0
    points[-1:, :, :] = 0
    return bspline_field(shape, points.reshape(-1), grid_size, margin)


def bspline_field(shape, parameters, grid_size, margin=DOMAIN_MARGIN):
    """The displacement field ``(rows, cols, 2)`` of a 2-D cubic B-spline transform with ITK's
    ``parameters`` (``2 * (grid_size + 3) ** 2`` of them) over an image of ``shape``: at pixel
    (r, c), ``sum_k sum_l B(u_r - k) B(u_c - l) C[l, k]`` for each component's coefficient grid
    ``C``, where ``u`` is the pixel's place in grid units (the grid's first node one spacing
    before the domain's start) and ``B`` the cubic B-spline."""
    size = grid_size + 3
    coefficients = numpy.asarray(parameters, dtype=numpy.float64).reshape(2, size, size)
    weights = [_bspline_weights(n, grid_size, margin) for n in shape]  # (n, size) each
    w_rows, w_cols = weights
    # coefficients[d][l, k]: node k along ITK's x (the rows here), l along its y (the columns)
    field = numpy.stack([w_rows @ coefficients[d].T @ w_cols.T for d in range(2)], axis=-1)
    return field


def _bspline_weights(n, grid_size, margin):
    """The cubic B-spline weights of the nodes for each of ``n`` pixel centres: ``(n, grid_size
    + 3)``, four non-zero a row."""
    start = -0.5 - margin
    spacing = (n + 2 * margin) / grid_size
    origin = start - spacing  # (spline order - 1) / 2 = 1 spacing before the domain
    u = (numpy.arange(n) - origin) / spacing
    first = numpy.floor(u - 1).astype(numpy.int64)
    weights = numpy.zeros((n, grid_size + 3))
    for k in range(4):
        t = numpy.abs(u - (first + k))
        value = numpy.where(t < 1, (4 - 6 * t ** 2 + 3 * t ** 3) / 6,
                            numpy.where(t < 2, (2 - t) ** 3 / 6, 0.0))
        weights[numpy.arange(n), first + k] = value
    return weights


def pad_image(x, pad, mode="reflect", constant=0.0):
    """``x`` padded by ``pad`` on each side of its first two axes, as float32 (data_augmentation's
    pad_image): 'reflect' mirrors with the edge repeated (numpy's 'symmetric'), 'nearest' repeats
    the edge, 'constant' fills with ``constant``, 'zero' with 0."""
    widths = ((pad, pad), (pad, pad)) + ((0, 0),) * (x.ndim - 2)
    x = numpy.asarray(x, dtype=numpy.float32)
    if mode == "reflect":
        return numpy.pad(x, widths, "symmetric")
    if mode == "nearest":
        return numpy.pad(x, widths, "edge")
    if mode == "constant":
        return numpy.pad(x, widths, "constant", constant_values=numpy.float32(constant))
    if mode == "zero":
        return numpy.pad(x, widths, "constant")
    raise ValueError(f"padding mode {mode!r}: one of {', '.join(PAD_MODES)}")


def apply_warp(x, field, interpolation="linear", fill_mode="reflect", fill_constant=0.0,
               rows_idx=1, cols_idx=2):
    """Each (rows, cols) slice of ``x`` warped by ``field`` (``spline_warp_field``'s) as
    apply_warp does it with SimpleITK's WarpImageFilter: output pixel p takes the input at
    ``p + field[p]``, the field rounded to float32, the slice padded (``pad_image``, ``fill_mode``)
    by the largest displacement rounded up so that every sample lies inside, and interpolated
    bilinearly in float64 as ITK does (``interpolation='linear'``) or at the nearest pixel,
    halves rounded up (``'nearest'``). Returns an array of ``x``'s dtype."""
    if interpolation not in ("linear", "nearest"):
        raise ValueError(f"interpolation {interpolation!r}: 'linear' or 'nearest'")
    pad = int(numpy.ceil(numpy.max(numpy.abs(field))))
    if pad == 0:  # no displacement (the original's padding fails there)
        return x.copy()
    others = [a for a in range(x.ndim) if a not in (rows_idx, cols_idx)]
    axes = [*others, rows_idx, cols_idx]
    moved = x.transpose(axes)
    shape = moved.shape
    slices = moved.reshape((-1,) + shape[-2:]).copy()
    rows, cols = shape[-2:]
    if field.shape != (rows, cols, 2):
        raise ValueError(f"a warp field of shape {field.shape} for images of {rows}x{cols}")
    displacement = field.astype(numpy.float32).astype(numpy.float64)
    at_rows = numpy.arange(rows, dtype=numpy.float64)[:, None] + pad + displacement[..., 0]
    at_cols = numpy.arange(cols, dtype=numpy.float64)[None, :] + pad + displacement[..., 1]
    for i in range(len(slices)):
        padded = pad_image(slices[i], pad, fill_mode, fill_constant)
        warped = (_bilinear(padded, at_rows, at_cols) if interpolation == "linear"
                  else _nearest(padded, at_rows, at_cols))
        slices[i] = warped.astype(numpy.float32)
    return slices.reshape(shape).transpose(numpy.argsort(axes))


def _bilinear(image, at_rows, at_cols):
    """ITK's LinearInterpolateImageFunction at (at_rows, at_cols), all inside ``image``: along
    the rows first, then along the columns, in float64."""
    r0 = numpy.floor(at_rows).astype(numpy.int64)
    c0 = numpy.floor(at_cols).astype(numpy.int64)
    dr, dc = at_rows - r0, at_cols - c0
    r1 = numpy.minimum(r0 + 1, image.shape[0] - 1)
    c1 = numpy.minimum(c0 + 1, image.shape[1] - 1)
    image = image.astype(numpy.float64)
    v00, v10, v01, v11 = image[r0, c0], image[r1, c0], image[r0, c1], image[r1, c1]
    along0 = v00 + (v10 - v00) * dr
    along1 = v01 + (v11 - v01) * dr
    return along0 + (along1 - along0) * dc


def _nearest(image, at_rows, at_cols):
    """ITK's NearestNeighborInterpolateImageFunction: the pixel at floor(index + 0.5)."""
    r = numpy.floor(at_rows + 0.5).astype(numpy.int64)
    c = numpy.floor(at_cols + 0.5).astype(numpy.int64)
    return image[numpy.minimum(r, image.shape[0] - 1), numpy.minimum(c, image.shape[1] - 1)]


# ----------------------------------------------------------------------------------------------
# The iterator (ThreadedDataset)


class BatchIterator:
    """Minibatches of a dataset's examples, shuffled at each epoch, void labels mapped,
    augmented, in the c01 layout (see the module's docstring).

    A dataset subclass sets ``name``, ``non_void_nclasses``, ``_void_labels`` (and
    ``GTclasses`` where its labels are not ``0 .. n - 1``) and ``data_shape`` (``(rows, cols,
    channels)`` where every example has it) and implements ``get_names`` (the examples, in the
    dataset's order) and ``load_example`` (one example as ``(rows, cols, channels)`` float32 and
    ``(rows, cols)`` labels, or None for a set without labels).

    ``rng`` draws the epoch shuffles (``RandomState(0xbeef)`` if None) and ``augm_rng`` the
    augmentation (numpy's global generator if None, as the original). The original's other
    options are accepted as the scripts pass them (``FIXED_OPTIONS``, ``IGNORED_OPTIONS``): no
    sequences, no one-hot labels, the c01 layout, data in [0, 1], no threads.
    """

    name = None
    non_void_nclasses = None
    _void_labels = ()
    GTclasses = None
    set_has_GT = True
    data_shape = None

    def __init__(self, batch_size=1, shuffle_at_each_epoch=True, infinite_iterator=True,
                 return_list=False, data_augm_kwargs=None, rng=None, augm_rng=None,
                 **original):
        for option, value in original.items():
            if option in FIXED_OPTIONS:
                if value not in FIXED_OPTIONS[option] or isinstance(value, bool) != isinstance(
                        FIXED_OPTIONS[option][0], bool):
                    raise ValueError(f"{option}={value!r}: dltut's loaders take only "
                                     f"{option}={FIXED_OPTIONS[option][0]!r} (what the "
                                     "segmentation tutorials use)")
            elif option not in IGNORED_OPTIONS:
                raise TypeError(f"unknown option {option!r} of the dataset loaders")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size {batch_size!r}: a positive int")
        self.batch_size = batch_size
        self.shuffle_at_each_epoch = bool(shuffle_at_each_epoch)
        self.infinite_iterator = bool(infinite_iterator)
        self.return_list = bool(return_list)
        self.data_augm_kwargs = augmentation_settings(data_augm_kwargs)
        self.rng = numpy.random.RandomState(SHUFFLE_SEED) if rng is None else rng
        self.augm_rng = numpy.random if augm_rng is None else augm_rng
        crop = self.data_augm_kwargs["crop_size"]
        if self.data_shape is None and batch_size > 1 and not crop:
            raise ValueError(f"{self.name}: its images differ in size, so a batch of "
                             f"{batch_size} needs a crop_size (data_augm_kwargs) or "
                             "batch_size=1")
        self.names = list(self.get_names())
        if not self.names:
            raise DataError(f"{self.folder}: no {self.which_set} examples found; "
                            f"{self.missing_help()}")
        self.nsamples = len(self.names)  # (the original's nsamples counted subsets: 1)
        self._fill_batches(self.shuffle_at_each_epoch)

    # what a dataset provides

    def get_names(self):
        raise NotImplementedError

    def load_example(self, name):
        raise NotImplementedError

    def missing_help(self):
        return "see the dataset module's docstring"

    # the dataset_loaders class properties

    @property
    def nclasses(self):
        """The labels' classes after the mapping: the void class counts as one."""
        return self.non_void_nclasses + (1 if self._void_labels else 0)

    @property
    def void_labels(self):
        """``[non_void_nclasses]``, what every void label becomes, or ``[]``."""
        return [self.non_void_nclasses] if self._void_labels else []

    @property
    def batch_shape(self):
        """``[channels, rows, cols]`` of the data (rows and cols those of the crop, if any; None
        where the examples differ), as the original's ``data_shape`` in the c01 layout."""
        rows, cols, channels = self.data_shape or (None, None, 3)
        if self.data_augm_kwargs["crop_size"]:
            rows, cols = self.data_augm_kwargs["crop_size"]
        return [channels, rows, cols]

    # iteration

    def _fill_batches(self, shuffle):
        """The next epoch's batches: the examples' indices, shuffled in place by ``rng`` when
        ``shuffle``, cut into ``batch_size`` pieces (the last shorter)."""
        order = numpy.arange(len(self.names))
        if shuffle:
            self.rng.shuffle(order)
        self.batches = [order[i:i + self.batch_size]
                        for i in range(0, len(order), self.batch_size)]
        self.nbatches = len(self.batches)
        self._next_batch = iter(self.batches)

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """The next batch (see the module's docstring); past an epoch's last batch the next
        epoch's batches are drawn and its first one returned (or StopIteration raised when not
        ``infinite_iterator``)."""
        while True:
            try:
                batch = next(self._next_batch)
            except StopIteration:
                self._fill_batches(self.shuffle_at_each_epoch)
                if not self.infinite_iterator:
                    raise
                continue
            fetched = self.fetch([self.names[i] for i in batch])
            if self.return_list:
                return [fetched["data"], fetched["labels"]]
            return fetched

    def fetch(self, names):
        """The batch of the examples ``names``: ``{'data', 'labels', 'filenames'}``."""
        data, labels = [], []
        for name in names:
            x, y = self.load_example(name)
            x = x[numpy.newaxis]  # a sequence of one frame, as the original
            if y is not None:
                y = y[numpy.newaxis].copy()  # (the dataset may hand out a view of its arrays)
                if self._void_labels:
                    map_labels(y, self.non_void_nclasses, list(self._void_labels),
                               self.GTclasses)
            x, y = random_transform(x, y, self.augm_rng, nclasses=self.nclasses,
                                    void_label=self.void_labels, **self.data_augm_kwargs)
            data.append(x[0].transpose(2, 0, 1))  # rows, cols, channels -> c01
            labels.append(y[0] if y is not None else None)
        shapes = {x.shape for x in data}
        if len(shapes) > 1:
            raise DataError(f"{self.folder}: the images of one batch differ in size "
                            f"({', '.join(sorted('x'.join(map(str, s[1:])) for s in shapes))}, "
                            f"among {', '.join(map(str, names))}); set a crop_size "
                            "(data_augm_kwargs) or batch_size=1")
        return {"data": numpy.array(data),
                "labels": numpy.array(labels) if self.set_has_GT else None,
                "filenames": numpy.array([[name] for name in names])}

    def arrays(self):
        """The whole set in the dataset's order, unshuffled and unaugmented: ``(data, labels,
        names)``, data ``(n, channels, rows, cols)`` float32 and labels ``(n, rows, cols)``
        mapped (None for a set without labels); a DataError if the examples differ in size."""
        data, labels = [], []
        for name in self.names:
            x, y = self.load_example(name)
            if y is not None and self._void_labels:
                y = map_labels(y.copy(), self.non_void_nclasses, list(self._void_labels),
                               self.GTclasses)
            data.append(x.transpose(2, 0, 1))
            labels.append(y)
        if len({x.shape for x in data}) > 1:
            raise DataError(f"{self.folder}: the {self.which_set} images differ in size; read "
                            "them one by one (load_example) or crop them")
        return (numpy.array(data), numpy.array(labels) if self.set_has_GT else None,
                list(self.names))


def dataset_folder(name, path=None, toy=False):
    """The folder a dataset is read from: ``path``; the made data shipped with dltut (``toy``);
    else ``data/<name>`` under the working directory."""
    if toy and path is not None:
        raise ValueError(f"toy=True reads the made {name} data shipped with dltut: give no path, "
                         f"or leave out toy (--toy) to read {path}")
    if toy:
        return TOY / name
    return Path(path) if path is not None else DATA / name


def check_folder(folder, help_text):
    """``folder`` if it is a folder, else one DataError with ``help_text`` (where the data
    comes from and how to put it there)."""
    if not os.path.isdir(folder):
        what = "not a folder" if os.path.exists(folder) else "no such folder"
        raise DataError(f"{folder}: {what}. {help_text}")
    return Path(folder)
