"""Pictures of a run and of a model: why training stopped, what the first layer learned, and
what LeNet's layers make of a digit.

* ``plot_patience(result)``: validation error against ``iter`` with the patience horizon, the new
  bests that extended it, those that did not, and the stop with its reason.
* ``tile_raster_images(X, img_shape, tile_shape)``: the tutorials' helper (utils.py), rewritten:
  rows of flattened images become one grey ``uint8`` picture of tiles.
* ``plot_filters(model)``: the weight images of the first layer, found by parameter name
  (``W_conv0`` for LeNet, ``W_hidden`` for the MLP, ``W_dA`` for the denoising autoencoder,
  ``W_rbm`` for the RBM, ``W_logreg`` for logistic regression).
* ``write_png(path, pixels)``: a ``uint8`` picture (such as ``tile_raster_images`` makes) as a
  greyscale PNG, with no imaging library: the file the tutorials saved with PIL.
* ``plot_feature_maps(image, maps)``: one digit and LeNet's feature maps of it after each
  convolution + pooling layer.

Everything draws on a ``matplotlib.figure.Figure`` made directly, never through ``pyplot``: no
global figure state, no GUI backend needed (so no ``matplotlib.use``), and PNGs are written by Agg
whatever backend is chosen.
Matplotlib is an optional dependency (``pip install -e .[plot]``); ``write_png`` does not need it.
"""

import importlib
import math
import struct
import zlib

import numpy

from dltut import registry
from dltut.atomic import atomic_write

# The first-layer weights each model exposes, most informative first: name -> what they are.
FILTER_PARAMS = {
    "W_conv0": "LeNet's first-layer filters",
    "W_hidden": "the MLP's hidden units",
    "W_dA": "the denoising autoencoder's hidden units",
    "W_sigmoid0": "the SdA's first hidden layer (its first dA's)",
    "W_rbm": "the RBM's hidden units",
    "W_logreg": "logistic regression's class weights",
}
IMG_SHAPE = (28, 28)  # an MNIST image
SPACING_COLOUR = "#4a7ab5"  # between tiles in plot_filters: a blue no weight image contains


def check_matplotlib(what="dltut.plots"):
    """An ImportError saying how to install matplotlib if it is missing (before a long run)."""
    try:
        importlib.import_module("matplotlib")
    except ImportError as error:
        raise ImportError(f"{what}: matplotlib is missing ({error}); pip install -e .[plot]") \
            from error


def _figure(**kwargs):
    check_matplotlib()
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _new_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig = _figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def save_figure(fig, path, dpi=100):
    """Write ``fig`` as a PNG to ``path`` atomically (a temporary file beside it, then a rename).

    ``path``'s folder must exist. The file gets the usual permissions (umask), like any new file.
    """
    atomic_write(path, lambda file: fig.savefig(file, format="png", dpi=dpi))


# ----------------------------------------------------------------------------------------------
# Patience

STOP_REASONS = {
    "patience": "patience exhausted (iter >= patience)",
    "n_epochs": "n_epochs reached",
    "interrupted": "interrupted",  # stopped by the user (Ctrl-C), to be resumed
}


def plot_patience(result, ax=None):
    """A picture of why ``result`` (a ``TrainResult``) stopped where it did; returns the Figure.

    Left axis, error in %: the validation error at each validation (blue line), the test error of
    each new best (red squares); green up-triangles mark new bests that extended patience, orange
    circles new bests whose gain was below the improvement threshold (patience kept).
    Right axis, minibatch updates: patience after each validation (green step line) and ``iter``
    itself (grey diagonal). The green band between them is the patience left; the run stops where
    the diagonal meets the step line ("patience"), or when the epochs run out ("n_epochs").
    The x axis is ``iter``, the minibatch update counted from 0, as in the trainer.
    """
    fig, ax = _new_axes(ax, figsize=(9, 6.5))
    _plot_errors(ax, result.history)
    horizon = ax.twinx()
    _plot_horizon(horizon, result)
    horizon.set_zorder(ax.get_zorder() - 1)  # errors drawn over the band
    ax.patch.set_visible(False)
    ax.axvline(result.iterations - 1, color="black", linestyle=":", linewidth=1, gid="stop_line")
    ax.set_xlim(0, max(result.iterations - 1, 1) * 1.03)

    reason = STOP_REASONS.get(result.stop_reason, result.stop_reason)
    if result.history:
        title = (f"best validation error {result.best_validation_loss * 100:.2f} % at iter "
                 f"{result.best_iter}, test error {result.test_score * 100:.2f} %")
    else:
        title = "no validation ran"
    ax.set_title(f"{title}\nstopped after {result.iterations} updates, epoch {result.epochs}: "
                 f"{reason}", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = horizon.get_legend_handles_labels()
    ax.legend(handles + more_handles, labels + more_labels, loc="upper center", ncol=2,
              bbox_to_anchor=(0.5, -0.12), fontsize=8, frameon=False)
    return fig


def _plot_errors(ax, history):
    """Validation error, test error of each new best and the markers of the bests, in %."""
    iters = [v.iter for v in history]
    errors = [v.validation_loss * 100.0 for v in history]
    ax.plot(iters, errors, color="C0", marker=".", markersize=4, linewidth=1.5,
            label="validation error", gid="validation", zorder=3)
    bests = [v for v in history if v.new_best]
    ax.plot([v.iter for v in bests], [v.test_score * 100.0 for v in bests], linestyle="none",
            marker="s", markersize=3.5, color="C3", label="test error of each new best",
            gid="test", zorder=3)
    extended = [v for v in history if v.extended]
    kept = [v for v in history if v.new_best and not v.extended]
    ax.plot([v.iter for v in extended], [v.validation_loss * 100.0 for v in extended],
            linestyle="none", marker="^", markersize=8, color="C2", markeredgecolor="black",
            markeredgewidth=0.5, label=f"new best, extended patience ({len(extended)})",
            gid="extended", zorder=4)
    ax.plot([v.iter for v in kept], [v.validation_loss * 100.0 for v in kept],
            linestyle="none", marker="o", markersize=8, markerfacecolor="none",
            markeredgecolor="C1", markeredgewidth=2,
            label=f"new best, gain below threshold: patience kept ({len(kept)})",
            gid="not_extended", zorder=4)
    ax.set_xlabel("iter (minibatch updates, counted from 0; validated after update iter)")
    ax.set_ylabel("error (%)")
    ax.grid(True, alpha=0.3)


def _plot_horizon(horizon, result):
    """Patience after each validation against iter itself, in updates, and the stop."""
    history = result.history
    stop = result.iterations - 1  # the last update done
    iters = numpy.array([v.iter for v in history], dtype=float)
    if history:
        steps_x = numpy.append(iters, stop)
        steps_y = numpy.array([v.patience for v in history] + [history[-1].patience], dtype=float)
        horizon.step(steps_x, steps_y, where="post", color="C2", linewidth=1.5, alpha=0.8,
                     label="patience (stop when iter reaches it)", gid="patience")
        # The band: under each step, above the diagonal (corners of the steps, then straight).
        band_x = numpy.repeat(steps_x, 2)[1:-1]
        band_top = numpy.repeat(steps_y[:-1], 2)
        horizon.fill_between(band_x, numpy.minimum(band_x, band_top), band_top, color="C2",
                             alpha=0.12, linewidth=0, label="patience left")
    horizon.plot([0, stop], [0, stop], color="0.5", linestyle="--", linewidth=1, label="iter",
                 gid="iter")
    reason = STOP_REASONS.get(result.stop_reason, result.stop_reason)
    horizon.plot([stop], [stop], linestyle="none", marker="X", markersize=11, color="black",
                 label=f"stop: {reason}", gid="stop", zorder=5)
    why = {"patience": f"iter {stop} >= patience {result.patience}",
           "n_epochs": f"all {result.epochs} epochs done"}.get(result.stop_reason, reason)
    top = max([stop, result.patience] + [v.patience for v in history])
    horizon.set_ylim(0, top * 1.08)
    # the label below the stop, or above it where the stop is low (a short run under a large
    # patience): below, it would cover the x axis and its ticks
    low = stop < 0.5 * top
    horizon.annotate(f"stop: {why}", xy=(stop, stop), xytext=(-10, 12 if low else -12),
                     textcoords="offset points", ha="right", va="bottom" if low else "top",
                     fontsize=9, gid="stop_label",
                     bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})
    horizon.set_ylabel("minibatch updates (patience, iter)")


def save_patience_plot(result, path):
    """Write ``plot_patience(result)`` as a PNG to ``path``, atomically."""
    save_figure(plot_patience(result), path)


# ----------------------------------------------------------------------------------------------
# Sweeps


def plot_sweep(results, settings=None):
    """All the runs of a sweep in one picture; returns the Figure.

    ``results`` are ``TrainResult`` objects (what ``dltut.sweep`` returns), ``settings`` each run's
    swept settings (default: each result's ``settings``). One colour per run. Left: each run's
    validation error (%) against ``iter``, a star at its best, a cross where it stopped, and its
    patience horizon at the end as a dotted vertical line of its colour (where a run stopped by
    patience stops; beyond the cross for a run whose epochs ran out, drawn if it is near); the
    legend gives each run's settings, its stop and its patience. Right: the test error of each
    run's best model, one column per setting apart from the seed, each run a dot of its colour,
    the seeds' mean a black dash and their spread (lowest to highest) a grey bar.
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    from dltut.catalogue import run_id

    results = list(results)
    if not results:
        raise ValueError("plot_sweep needs at least one result")
    settings = [r.settings for r in results] if settings is None else list(settings)
    if len(settings) != len(results):
        raise ValueError(f"{len(settings)} settings for {len(results)} results: give one each")
    colours = colormaps["tab10" if len(results) <= 10 else "tab20"]
    fig = _figure(figsize=(13, 6.5), layout="constrained")
    curves, strip = fig.subplots(1, 2, width_ratios=(3, 1))
    last = max(max(r.iterations - 1 for r in results), 1)
    for i, (result, setting) in enumerate(zip(results, settings)):
        colour = colours(i % colours.N)
        stop = result.iterations - 1
        errors = [v.validation_loss * 100.0 for v in result.history]
        curves.plot([v.iter for v in result.history], errors, color=colour, linewidth=1.4,
                    gid=f"validation_{i}",
                    label=f"{run_id(setting)}: stopped by {result.stop_reason} at iter {stop} "
                          f"(epoch {result.epochs}), patience {result.patience}")
        if result.history:
            curves.plot(result.best_iter, result.best_validation_loss * 100.0, marker="*",
                        markersize=13, color=colour, markeredgecolor="black",
                        markeredgewidth=0.5, linestyle="none", gid=f"best_{i}")
            curves.plot(stop, errors[-1], marker="X", markersize=9, color=colour,
                        markeredgecolor="black", markeredgewidth=0.5, linestyle="none",
                        gid=f"stop_{i}")
        if result.patience <= 1.5 * last:
            curves.axvline(result.patience, color=colour, linestyle=":", linewidth=1.2,
                           gid=f"patience_{i}")
    markers = [Line2D([], [], color="grey", marker="*", markersize=11, linestyle="none",
                      label="best validation"),
               Line2D([], [], color="grey", marker="X", markersize=8, linestyle="none",
                      label="stop"),
               Line2D([], [], color="grey", linestyle=":", label="patience at the end")]
    handles, _ = curves.get_legend_handles_labels()
    curves.legend(handles=handles + markers, fontsize=8, loc="upper right")
    curves.set_xlabel("iter (minibatch updates, counted from 0)")
    curves.set_ylabel("validation error (%)")
    curves.set_title("validation error of each run, its best, its stop and its patience",
                     fontsize=10)
    curves.grid(True, alpha=0.3)
    _plot_final_errors(strip, results, settings, colours)
    return fig


def _plot_final_errors(ax, results, settings, colours):
    """Test error of each run's best model, one column per setting apart from the seed."""
    from dltut.catalogue import run_id

    columns = {}  # setting without its seed -> indices of its runs
    for i, setting in enumerate(settings):
        key = run_id({k: v for k, v in setting.items() if k != "seed"})
        columns.setdefault(key, []).append(i)
    for x, indices in enumerate(columns.values()):
        errors = numpy.array([results[i].test_score * 100.0 for i in indices])
        ax.vlines(x, errors.min(), errors.max(), color="grey", linewidth=6, alpha=0.35,
                  gid=f"spread_{x}")
        ax.hlines(errors.mean(), x - 0.25, x + 0.25, color="black", linewidth=1.5,
                  gid=f"mean_{x}")
        offsets = numpy.linspace(-0.12, 0.12, len(indices)) if len(indices) > 1 else [0.0]
        for offset, i, error in zip(offsets, indices, errors):
            ax.plot(x + offset, error, marker="o", markersize=7, color=colours(i % colours.N),
                    markeredgecolor="black", markeredgewidth=0.5, linestyle="none")
    ax.set_xticks(range(len(columns)), [key.replace(",", "\n") for key in columns],
                  fontsize=8)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylabel("test error of the best model (%)")
    seeds = any("seed" in setting for setting in settings)
    ax.set_title("test error per setting: each seed a dot, their mean and spread" if seeds
                 else "test error per setting", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)


def save_sweep_plot(results, path, settings=None):
    """Write ``plot_sweep(results, settings)`` as a PNG to ``path``, atomically."""
    save_figure(plot_sweep(results, settings), path)


# ----------------------------------------------------------------------------------------------
# Filters


def scale_to_unit_interval(array, eps=1e-8):
    """``array`` shifted and scaled so that its minimum is 0 and its maximum (almost) 1."""
    array = numpy.asarray(array, dtype=numpy.float64)
    array = array - array.min()
    return array / (array.max() + eps)


def tile_raster_images(X, img_shape, tile_shape, tile_spacing=(1, 1)):
    """Lay the rows of ``X`` (flattened images) out as a grid of tiles in one ``uint8`` array.

    Row ``i`` of ``X`` becomes the tile in grid row ``i // tile_shape[1]``, column
    ``i % tile_shape[1]``, each tile scaled on its own to [0, 1] and then to 0-255 (rounded).
    Tiles are ``tile_spacing`` pixels apart (rows, columns); spacing and unused tiles are 0. The
    result has shape ``((img_h + spacing_h) * tile_rows - spacing_h, (img_w + ...) ...)``:

    >>> tile_raster_images(numpy.ones((3, 4)), (2, 2), (2, 2), (1, 1)).shape
    (5, 5)
    """
    X = numpy.asarray(X)
    img_h, img_w = img_shape
    tile_rows, tile_cols = tile_shape
    if X.ndim != 2 or X.shape[1] != img_h * img_w:
        raise ValueError(
            f"X must have one flattened {img_h}x{img_w} image per row, shape (n, {img_h * img_w}); "
            f"got shape {X.shape}"
        )
    if len(X) > tile_rows * tile_cols:
        raise ValueError(
            f"X has {len(X)} images but tile_shape {tuple(tile_shape)} holds "
            f"{tile_rows * tile_cols}: pass X[:{tile_rows * tile_cols}] or a larger tile_shape"
        )
    if min(tile_spacing) < 0:
        raise ValueError(f"tile_spacing must be >= 0, got {tuple(tile_spacing)}")
    out = numpy.zeros(_tiled_shape(img_shape, tile_shape, tile_spacing), dtype=numpy.uint8)
    for index, row in enumerate(X):
        tile = numpy.round(scale_to_unit_interval(row.reshape(img_h, img_w)) * 255)
        top, left = _tile_origin(index, img_shape, tile_shape, tile_spacing)
        out[top:top + img_h, left:left + img_w] = tile.astype(numpy.uint8)
    return out


def write_png(path, pixels):
    """Write ``pixels``, a 2-D ``uint8`` array, as an 8-bit greyscale PNG to ``path``, atomically.

    The PNG is built here (a signature, then the IHDR, IDAT and IEND chunks, each with its length
    and CRC-32; the rows zlib-compressed, each behind filter byte 0), so that no imaging library
    is needed: the tutorials' ``Image.fromarray(tiles).save(path)``.
    """
    pixels = numpy.asarray(pixels)
    if pixels.ndim != 2 or pixels.dtype != numpy.uint8 or 0 in pixels.shape:
        raise ValueError(f"write_png writes a non-empty 2-D uint8 array, got {pixels.dtype} of "
                         f"shape {pixels.shape}")
    height, width = pixels.shape

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    rows = numpy.hstack([numpy.zeros((height, 1), numpy.uint8), pixels])  # filter 0: none
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
           + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b""))
    atomic_write(path, lambda file: file.write(png))


def _tiled_shape(img_shape, tile_shape, tile_spacing):
    """Rows and columns of the picture ``tile_raster_images`` lays out."""
    return tuple((size + space) * tiles - space
                 for size, tiles, space in zip(img_shape, tile_shape, tile_spacing))


def _tile_origin(index, img_shape, tile_shape, tile_spacing):
    """Top row and left column of tile ``index`` (row-major) in that picture."""
    r, c = divmod(index, tile_shape[1])
    return r * (img_shape[0] + tile_spacing[0]), c * (img_shape[1] + tile_spacing[1])


def param_arrays(model):
    """``{name: array}`` of a model's parameters.

    ``model`` is a model with shared-variable ``params`` (``result.model``), a saved model whose
    ``params`` is already a dict (``dltut.load_model(path)``), or such a dict itself.
    """
    params = model if isinstance(model, dict) else getattr(model, "params", None)
    if isinstance(params, dict):
        return {name: numpy.asarray(value) for name, value in params.items()}
    if params is None:
        raise ValueError(f"{type(model).__name__} has no params: pass a model, a saved model or a "
                         "dict of parameter arrays")
    return registry.param_values(model)


def _grid(n):
    """Rows and columns of a near-square grid for ``n`` tiles (``cols >= rows``)."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def filter_images(model, which=None, count=100):
    """The first-layer weights of ``model`` as images: ``(name, X, img_shape)``.

    ``X`` holds one flattened image per row: the 10 columns of ``W_logreg`` (784, 10), the first
    ``count`` columns of ``W_hidden`` (784, n_hidden), or the first ``count`` kernels of ``W_conv0``
    (nkerns, 1, h, w). ``which`` names the parameter; by default the first of ``FILTER_PARAMS``
    the model has (``W_dA`` also as ``W_dA_<suffix>``: test_dA names each run's).
    """
    params = param_arrays(model)
    if which is None:
        which = next((name for key in FILTER_PARAMS for name in params
                      if name == key or name.startswith(key + "_")), None)
        if which is None:
            raise ValueError(
                f"no first-layer weights among parameters {sorted(params)}: expected one of "
                f"{', '.join(FILTER_PARAMS)}"
            )
    elif which not in params:
        raise ValueError(f"no parameter {which!r} in this model; it has {sorted(params)}")
    W = params[which]
    if which.startswith("W_conv"):
        if W.ndim != 4 or W.shape[1] != 1:
            raise ValueError(
                f"{which} has shape {W.shape}; images need (nkerns, 1, height, width): only "
                "filters over one input channel (the first layer) can be drawn"
            )
        return which, W.reshape(W.shape[0], -1)[:count], W.shape[2:]
    if W.ndim != 2 or W.shape[0] != IMG_SHAPE[0] * IMG_SHAPE[1]:
        raise ValueError(
            f"{which} has shape {W.shape}; images need ({IMG_SHAPE[0] * IMG_SHAPE[1]}, n): only "
            "weights on the 28x28 input pixels can be drawn"
        )
    return which, W.T[:count], IMG_SHAPE


def _tile_mask(n, img_shape, tile_shape, tile_spacing):
    """True on the pixels of the first ``n`` tiles of a ``tile_raster_images`` layout."""
    img_h, img_w = img_shape
    mask = numpy.zeros(_tiled_shape(img_shape, tile_shape, tile_spacing), dtype=bool)
    for index in range(n):
        top, left = _tile_origin(index, img_shape, tile_shape, tile_spacing)
        mask[top:top + img_h, left:left + img_w] = True
    return mask


def _show_tiles(ax, tiles, n, img_shape, tile_shape, tile_spacing):
    """Draw ``tiles``, a ``tile_raster_images`` picture of ``n`` images, in grey on ``ax``."""
    # Spacing and empty tiles are masked and drawn in blue, so black weights do not merge with them.
    shown = numpy.ma.masked_array(tiles, mask=~_tile_mask(n, img_shape, tile_shape, tile_spacing))
    from matplotlib import colormaps

    cmap = colormaps["gray"].with_extremes(bad=SPACING_COLOUR)
    ax.imshow(shown, cmap=cmap, vmin=0, vmax=255, interpolation="nearest", gid="tiles")
    ax.set_axis_off()


def plot_filters(model, ax=None, *, which=None, count=100, tile_spacing=(1, 1)):
    """The first-layer weights of ``model`` as tiles, one per unit, class or kernel; a Figure.

    Each tile is scaled on its own: black is its most negative weight, white its most positive.
    For logistic regression each of the 10 tiles is labelled with its digit.
    """
    name, X, img_shape = filter_images(model, which, count)
    tile_shape = (2, 5) if len(X) == 10 else _grid(len(X))
    tiles = tile_raster_images(X, img_shape, tile_shape, tile_spacing)
    width = 9 if len(X) == 10 else 7
    fig, ax = _new_axes(ax, figsize=(width, width * tiles.shape[0] / tiles.shape[1] + 0.6))
    _show_tiles(ax, tiles, len(X), img_shape, tile_shape, tile_spacing)
    what = next((what for key, what in FILTER_PARAMS.items()
                 if name == key or name.startswith(key + "_")), name)
    if name == "W_logreg" and len(X) == 10:
        for digit in range(10):
            top, left = _tile_origin(digit, img_shape, tile_shape, tile_spacing)
            ax.text(left + 1.0, top + 1.0, str(digit), color="yellow", fontsize=11,
                    fontweight="bold", ha="left", va="top")
    ax.set_title(f"{name}: {what}, {len(X)} images of {img_shape[0]}x{img_shape[1]}\n"
                 "each tile scaled to its own range: black = most negative, white = most positive",
                 fontsize=10)
    return fig


def save_filters(model, path, **kwargs):
    """Write ``plot_filters(model, **kwargs)`` as a PNG to ``path``, atomically."""
    save_figure(plot_filters(model, **kwargs), path)


# ----------------------------------------------------------------------------------------------
# Feature maps


def plot_feature_maps(image, maps, tile_spacing=(1, 1)):
    """One digit and what each convolution + pooling layer makes of it; returns the Figure.

    ``image`` is the digit: 784 pixels or 28x28. ``maps`` holds, per layer, that layer's output for
    the digit, of shape (n_maps, rows, cols): for LeNet5, ``layer0.output`` (``nkerns[0]`` maps of
    12x12) and ``layer1.output`` (``nkerns[1]`` maps of 4x4) of a batch of one, without the batch
    axis. The digit comes first, then each layer's maps as tiles, each map scaled on its own as in
    ``plot_filters``: black is its lowest value, white its highest.
    """
    image = numpy.asarray(image, dtype=numpy.float64)
    if image.size != IMG_SHAPE[0] * IMG_SHAPE[1]:
        raise ValueError(f"image has shape {image.shape}; one digit needs {IMG_SHAPE[0]}x"
                         f"{IMG_SHAPE[1]} = {IMG_SHAPE[0] * IMG_SHAPE[1]} pixels")
    maps = [numpy.asarray(layer_maps) for layer_maps in maps]
    for i, layer_maps in enumerate(maps):
        if layer_maps.ndim != 3:
            raise ValueError(f"maps[{i}] has shape {layer_maps.shape}; a layer's maps of one digit "
                             "need (n_maps, rows, cols): for a batch of one, pass output[0]")
    fig = _figure(figsize=(3 + 4 * len(maps), 4), layout="constrained")
    axes = fig.subplots(1, 1 + len(maps), squeeze=False)[0]
    axes[0].imshow(image.reshape(IMG_SHAPE), cmap="gray", interpolation="nearest", gid="digit")
    axes[0].set_axis_off()
    axes[0].set_title(f"the digit, {IMG_SHAPE[0]}x{IMG_SHAPE[1]}", fontsize=10)
    for i, (ax, layer_maps) in enumerate(zip(axes[1:], maps)):
        n, rows, cols = layer_maps.shape
        tile_shape = _grid(n)
        tiles = tile_raster_images(layer_maps.reshape(n, -1), (rows, cols), tile_shape,
                                   tile_spacing)
        _show_tiles(ax, tiles, n, (rows, cols), tile_shape, tile_spacing)
        ax.set_title(f"layer{i}.output: {n} maps of {rows}x{cols}", fontsize=10)
    fig.suptitle("each map scaled to its own range: black = lowest, white = highest", fontsize=10)
    return fig
