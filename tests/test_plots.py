"""dltut.plots: the patience picture read back from its Axes, tiles against hand-built arrays."""

import numpy
import pytest

from conftest import ScriptedModel

pytest.importorskip("matplotlib", reason="dltut.plots needs matplotlib: pip install -e .[plot]")

from dltut import plots  # noqa: E402
from dltut.trainer import EarlyStopping, TrainResult, Validation, train  # noqa: E402


def make_result(history, iterations, stop_reason, n_train_batches=10):
    """A TrainResult around ``history``, with the best numbers taken from it."""
    bests = [v for v in history if v.new_best]
    best = bests[-1] if bests else None
    return TrainResult(
        best_validation_loss=best.validation_loss if best else numpy.inf,
        best_iter=best.iter if best else 0,
        test_score=best.test_score if best else 0.0,
        epochs=(iterations - 1) // n_train_batches + 1,
        iterations=iterations,
        stop_reason=stop_reason,
        patience=history[-1].patience if history else 50,
        validation_frequency=n_train_batches,
        n_train_batches=n_train_batches,
        history=history,
        costs=numpy.zeros(iterations),
        elapsed=1.0,
    )


@pytest.fixture
def patience_run():
    """A hand trace of the trainer's rules: patience 50, increase 2, threshold 0.995, 10 batches.

    Stops after iter 58: the significant best at iter 29 raised patience to 58, the best at iter
    39 gained less than 0.5 % and kept it, iter 49 was no best.
    """
    history = [
        Validation(9, 1, 10, 0.30, 50, True, True, 0.31),
        Validation(19, 2, 10, 0.20, 50, True, True, 0.21),
        Validation(29, 3, 10, 0.15, 58, True, True, 0.16),
        Validation(39, 4, 10, 0.1495, 58, True, False, 0.155),
        Validation(49, 5, 10, 0.16, 58, False, False),
    ]
    return make_result(history, iterations=59, stop_reason="patience")


def lines_by_gid(fig):
    return {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}


def xy(line):
    return (numpy.asarray(line.get_xdata(), dtype=float),
            numpy.asarray(line.get_ydata(), dtype=float))


def test_validation_line_is_the_history_in_percent(patience_run):
    x, y = xy(lines_by_gid(plots.plot_patience(patience_run))["validation"])
    numpy.testing.assert_array_equal(x, [9, 19, 29, 39, 49])
    numpy.testing.assert_allclose(y, [30.0, 20.0, 15.0, 14.95, 16.0])


def test_test_errors_of_the_new_bests(patience_run):
    x, y = xy(lines_by_gid(plots.plot_patience(patience_run))["test"])
    numpy.testing.assert_array_equal(x, [9, 19, 29, 39])
    numpy.testing.assert_allclose(y, [31.0, 21.0, 16.0, 15.5])


def test_markers_for_extended_and_kept_patience(patience_run):
    lines = lines_by_gid(plots.plot_patience(patience_run))
    x, y = xy(lines["extended"])
    numpy.testing.assert_array_equal(x, [9, 19, 29])
    numpy.testing.assert_allclose(y, [30.0, 20.0, 15.0])
    x, y = xy(lines["not_extended"])
    numpy.testing.assert_array_equal(x, [39])
    numpy.testing.assert_allclose(y, [14.95])
    assert lines["extended"].get_marker() != lines["not_extended"].get_marker()
    assert "(3)" in lines["extended"].get_label()
    assert "(1)" in lines["not_extended"].get_label()


def test_stop_marker_at_the_last_update_with_its_reason(patience_run):
    fig = plots.plot_patience(patience_run)
    lines = lines_by_gid(fig)
    x, y = xy(lines["stop"])
    numpy.testing.assert_array_equal(x, [58])
    numpy.testing.assert_array_equal(y, [58])  # where iter meets patience
    numpy.testing.assert_array_equal(xy(lines["stop_line"])[0], [58, 58])
    assert "patience exhausted" in lines["stop"].get_label()
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert any("patience exhausted" in text for text in legend)


def test_patience_steps_and_iter_diagonal(patience_run):
    lines = lines_by_gid(plots.plot_patience(patience_run))
    x, y = xy(lines["patience"])
    numpy.testing.assert_array_equal(x, [9, 19, 29, 39, 49, 58])
    numpy.testing.assert_array_equal(y, [50, 50, 58, 58, 58, 58])
    assert lines["patience"].get_drawstyle() == "steps-post"
    numpy.testing.assert_array_equal(xy(lines["iter"])[0], [0, 58])
    numpy.testing.assert_array_equal(xy(lines["iter"])[1], [0, 58])
    assert lines["patience"].axes is not lines["validation"].axes  # a second y axis, in updates
    assert lines["patience"].axes.get_ylim()[1] >= 58


def test_title_gives_best_validation_and_test_error(patience_run):
    fig = plots.plot_patience(patience_run)
    title = fig.axes[0].get_title()
    assert "best validation error 14.95 %" in title
    assert "test error 15.50 %" in title
    assert "patience exhausted" in title
    assert "iter" in fig.axes[0].get_xlabel()


def test_a_real_trainer_trace_stopping_on_n_epochs():
    """The trainer on a fake model whose validation loss is scripted."""
    losses = iter([0.5, 0.4, 0.399, 0.45, 0.3])

    result = train(ScriptedModel(losses), 4, EarlyStopping(n_epochs=5, patience=1000))
    assert result.stop_reason == "n_epochs" and result.iterations == 20
    lines = lines_by_gid(plots.plot_patience(result))
    numpy.testing.assert_array_equal(xy(lines["validation"])[0], [v.iter for v in result.history])
    assert len(xy(lines["extended"])[0]) == sum(v.extended for v in result.history) == 3
    assert len(xy(lines["not_extended"])[0]) == 1  # 0.399 < 0.4 but not by 0.5 %
    numpy.testing.assert_array_equal(xy(lines["stop"])[0], [19])
    assert "n_epochs" in lines["stop"].get_label()


def test_another_stop_reason_is_shown_as_it_is(patience_run):
    patience_run.stop_reason = "interrupted"
    fig = plots.plot_patience(patience_run)
    assert lines_by_gid(fig)["stop"].get_label() == "stop: interrupted"
    assert [t.get_text() for t in fig.axes[1].texts] == ["stop: interrupted"]


def test_no_validation_still_draws_the_stop():
    result = make_result([], iterations=3, stop_reason="patience")
    fig = plots.plot_patience(result)
    assert "no validation ran" in fig.axes[0].get_title()
    numpy.testing.assert_array_equal(xy(lines_by_gid(fig)["stop"])[0], [2])


def _stop_label_inside_the_axes(result):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plots.plot_patience(result)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # as saved: the constrained layout done
    renderer = canvas.get_renderer()
    [label] = [t for t in fig.axes[1].texts if t.get_gid() == "stop_label"]
    box = label.get_bbox_patch().get_window_extent(renderer)
    frame = fig.axes[0].get_window_extent(renderer)
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (box, frame)
    assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (box, frame)


def test_the_stop_label_stays_inside_the_axes_when_the_stop_is_high(patience_run):
    _stop_label_inside_the_axes(patience_run)  # iter 58 of 58: the label below the stop


def test_the_stop_label_stays_inside_the_axes_when_the_stop_is_low():
    """A notebook's short run: 2 epochs of 2 minibatches under a patience of 5,000 updates puts
    the stop at the bottom of the axes; its label goes above it, off the x axis."""
    history = [Validation(1, 1, 2, 0.40, 5000, True, True, 0.41),
               Validation(3, 2, 2, 0.325, 5000, True, True, 0.35)]
    _stop_label_inside_the_axes(make_result(history, iterations=4, stop_reason="n_epochs",
                                            n_train_batches=2))


def test_draws_on_a_given_axes(patience_run):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    assert plots.plot_patience(patience_run, ax=ax) is fig
    assert lines_by_gid(fig)["validation"].axes is ax


def test_save_patience_plot_writes_a_png_atomically(patience_run, tmp_path):
    path = tmp_path / "patience.png"
    plots.save_patience_plot(patience_run, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["patience.png"]  # no temporary left
    plots.save_patience_plot(patience_run, tmp_path / "missing" / "p.png")  # folder made
    assert (tmp_path / "missing" / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------------
# tile_raster_images


def test_tile_layout_shape():
    tiles = plots.tile_raster_images(numpy.zeros((5, 6)), (2, 3), (2, 4), (1, 2))
    assert tiles.shape == ((2 + 1) * 2 - 1, (3 + 2) * 4 - 2) == (5, 18)
    assert tiles.dtype == numpy.uint8
    assert plots.tile_raster_images(numpy.zeros((100, 784)), (28, 28), (10, 10)).shape == (289, 289)
    no_spacing = plots.tile_raster_images(numpy.zeros((2, 784)), (28, 28), (1, 2), (0, 0))
    assert no_spacing.shape == (28, 56)


def test_each_tile_in_its_place_scaled_to_0_255():
    # Row i is 0..5 rolled by i, times a scale and plus an offset each tile's own scaling removes.
    X = numpy.array([numpy.roll(numpy.arange(6.0), i) * (i + 1) - 3 * i for i in range(5)])
    tiles = plots.tile_raster_images(X, (2, 3), (2, 4), (1, 2))
    for i in range(5):
        r, c = divmod(i, 4)
        expected = (numpy.roll(numpy.arange(6), i) * 51).reshape(2, 3)  # 0..5 -> 0..255
        numpy.testing.assert_array_equal(tiles[r * 3:r * 3 + 2, c * 5:c * 5 + 3], expected)
    mask = numpy.ones(tiles.shape, dtype=bool)  # spacing rows/columns and the 3 unused tiles
    for i in range(5):
        r, c = divmod(i, 4)
        mask[r * 3:r * 3 + 2, c * 5:c * 5 + 3] = False
    assert not tiles[mask].any()
    assert not tiles[2, :].any() and not tiles[:, 3:5].any()  # the spacing itself


def test_constant_tile_is_black_not_nan():
    tiles = plots.tile_raster_images(numpy.full((1, 4), 7.0), (2, 2), (1, 1))
    numpy.testing.assert_array_equal(tiles, numpy.zeros((2, 2)))


@pytest.mark.parametrize("X, img_shape, tile_shape, spacing, match", [
    (numpy.zeros((2, 5)), (2, 3), (1, 2), (1, 1), r"shape \(2, 5\)"),
    (numpy.zeros((5, 6)), (2, 3), (2, 2), (1, 1), "5 images but tile_shape"),
    (numpy.zeros((1, 6)), (2, 3), (1, 1), (-1, 0), "tile_spacing"),
])
def test_tile_errors_name_the_bad_value(X, img_shape, tile_shape, spacing, match):
    with pytest.raises(ValueError, match=match):
        plots.tile_raster_images(X, img_shape, tile_shape, spacing)


# ----------------------------------------------------------------------------------------------
# Filters


def shown_image(fig):
    return numpy.asarray(fig.axes[0].get_images()[0].get_array())


def test_logistic_regression_weights_as_ten_digit_tiles():
    W = numpy.random.RandomState(0).normal(size=(784, 10))
    fig = plots.plot_filters({"W_logreg": W, "b_logreg": numpy.zeros(10)})
    image = shown_image(fig)
    assert image.shape == (29 * 2 - 1, 29 * 5 - 1)
    numpy.testing.assert_array_equal(image, plots.tile_raster_images(W.T, (28, 28), (2, 5)))
    tile7 = image[29:29 + 28, 2 * 29:2 * 29 + 28]  # digit 7: row 1, column 2
    col = W[:, 7]
    numpy.testing.assert_array_equal(tile7, numpy.round((col - col.min()) / (col.max() - col.min())
                                                        * 255).reshape(28, 28))
    assert [t.get_text() for t in fig.axes[0].texts] == [str(d) for d in range(10)]
    mask = numpy.ma.getmaskarray(fig.axes[0].get_images()[0].get_array())
    assert mask[28, :].all() and mask[:, 28].all()  # spacing drawn in its own colour
    assert not mask[:28, :28].any()


def test_mlp_first_hidden_units_come_first():
    W = numpy.random.RandomState(1).normal(size=(784, 500))
    params = {"W_hidden": W, "b_hidden": numpy.zeros(500), "W_logreg": numpy.zeros((500, 10))}
    image = shown_image(plots.plot_filters(params))
    assert image.shape == (289, 289)  # the first 100 units as 10x10 tiles
    numpy.testing.assert_array_equal(image, plots.tile_raster_images(W.T[:100], (28, 28), (10, 10)))
    image = shown_image(plots.plot_filters(params, count=20))
    assert image.shape == (29 * 4 - 1, 29 * 5 - 1)


def test_lenet_first_layer_kernels_by_name_and_shape():
    W = numpy.random.RandomState(2).normal(size=(20, 1, 5, 5))
    params = {"W_conv0": W, "W_conv1": numpy.zeros((50, 20, 5, 5)),
              "W_hidden": numpy.zeros((800, 500))}
    image = shown_image(plots.plot_filters(params))
    assert image.shape == (6 * 4 - 1, 6 * 5 - 1)  # 20 kernels, 4 rows of 5
    numpy.testing.assert_array_equal(image[6:11, 12:17],
                                     plots.tile_raster_images(W[7].reshape(1, 25), (5, 5), (1, 1)))
    with pytest.raises(ValueError, match=r"W_conv1 has shape \(50, 20, 5, 5\)"):
        plots.plot_filters(params, which="W_conv1")


def test_filters_of_a_model_object_and_a_saved_model():
    W = numpy.arange(7840.0).reshape(784, 10) % 13

    class Shared:
        def __init__(self, name, value):
            self.name, self.value = name, value

        def get_value(self):
            return self.value

    class Model:
        params = [Shared("W_logreg", W), Shared("b_logreg", numpy.zeros(10))]

    class Saved:  # dltut.load_model(path): params is a dict of arrays
        params = {"W_logreg": W, "b_logreg": numpy.zeros(10)}

    numpy.testing.assert_array_equal(shown_image(plots.plot_filters(Model())),
                                     shown_image(plots.plot_filters(Saved())))


def test_filters_errors_name_the_parameters():
    with pytest.raises(ValueError, match=r"no first-layer weights among parameters \['b'\]"):
        plots.plot_filters({"b": numpy.zeros(3)})
    with pytest.raises(ValueError, match="no parameter 'W_x'"):
        plots.plot_filters({"W_logreg": numpy.zeros((784, 10))}, which="W_x")
    with pytest.raises(ValueError, match=r"W_hidden has shape \(100, 5\)"):
        plots.plot_filters({"W_hidden": numpy.zeros((100, 5))})


def test_save_filters_writes_a_png(tmp_path):
    path = tmp_path / "filters.png"
    plots.save_filters({"W_logreg": numpy.ones((784, 10))}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------------
# Feature maps


def test_feature_maps_of_one_digit_after_each_layer():
    rng = numpy.random.RandomState(3)
    digit = rng.rand(784)
    maps = [rng.uniform(-1, 1, (20, 12, 12)), rng.uniform(-1, 1, (50, 4, 4))]
    fig = plots.plot_feature_maps(digit, maps)
    assert len(fig.axes) == 3
    numpy.testing.assert_array_equal(fig.axes[0].get_images()[0].get_array(),
                                     digit.reshape(28, 28))
    for ax, layer_maps, grid in zip(fig.axes[1:], maps, [(4, 5), (7, 8)]):  # 20 maps: 4 rows of 5
        numpy.testing.assert_array_equal(
            numpy.asarray(ax.get_images()[0].get_array()),
            plots.tile_raster_images(layer_maps.reshape(len(layer_maps), -1),
                                     layer_maps.shape[1:], grid))
    assert fig.axes[2].get_title() == "layer1.output: 50 maps of 4x4"
    mask = numpy.ma.getmaskarray(fig.axes[2].get_images()[0].get_array())
    assert mask[4, :].all() and not mask[:4, :4].any()  # spacing in its own colour
    assert mask[-4:, -5 * 6:].all() and not mask[-4:, :4].any()  # 6 empty tiles in the last row


def test_feature_maps_errors_name_the_bad_shape():
    with pytest.raises(ValueError, match=r"image has shape \(783,\)"):
        plots.plot_feature_maps(numpy.zeros(783), [numpy.zeros((2, 12, 12))])
    with pytest.raises(ValueError, match=r"maps\[1\] has shape \(1, 3, 4, 4\).*output\[0\]"):
        plots.plot_feature_maps(numpy.zeros((28, 28)),
                                [numpy.zeros((2, 12, 12)), numpy.zeros((1, 3, 4, 4))])


# ----------------------------------------------------------------------------------------------
# One real run


def test_pictures_of_a_real_tiny_run(tiny_mnist, tmp_path):
    import dltut

    result = dltut.sgd_optimization_mnist(n_epochs=2, dataset=tiny_mnist, batch_size=100)
    lines = lines_by_gid(plots.plot_patience(result))
    numpy.testing.assert_allclose(xy(lines["validation"])[1],
                                  [v.validation_loss * 100 for v in result.history])
    numpy.testing.assert_array_equal(xy(lines["stop"])[0], [result.iterations - 1])
    W = result.model.params[0].get_value()
    assert result.model.params[0].name == "W_logreg"
    numpy.testing.assert_array_equal(shown_image(plots.plot_filters(result.model)),
                                     plots.tile_raster_images(W.T, (28, 28), (2, 5)))
    plots.save_patience_plot(result, tmp_path / "p.png")
    plots.save_filters(result.model, tmp_path / "f.png")
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "f.png").stat().st_size > 0


# ----------------------------------------------------------------------------------------------
# PNG files without an imaging library


def test_write_png_reads_back(tmp_path):
    from conftest import read_grey_png

    pixels = numpy.random.RandomState(0).randint(0, 256, (7, 13)).astype(numpy.uint8)
    path = tmp_path / "tiles.png"
    plots.write_png(path, pixels)
    got, chunks = read_grey_png(path)
    numpy.testing.assert_array_equal(got, pixels)
    assert chunks == [b"IHDR", b"IDAT", b"IEND"]
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.png"]  # no temporary left
    Image = pytest.importorskip("PIL.Image", reason="read back by an imaging library too")
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == (13, 7)
        numpy.testing.assert_array_equal(numpy.asarray(image), pixels)


@pytest.mark.parametrize("pixels, match", [
    (numpy.zeros((2, 3), numpy.float64), "float64 of shape"),
    (numpy.zeros((2, 3, 1), numpy.uint8), r"shape \(2, 3, 1\)"),
    (numpy.zeros((0, 3), numpy.uint8), r"shape \(0, 3\)"),
])
def test_write_png_errors_name_the_bad_array(tmp_path, pixels, match):
    with pytest.raises(ValueError, match=match):
        plots.write_png(tmp_path / "bad.png", pixels)
    assert not list(tmp_path.iterdir())


def test_dA_weights_are_filters():
    W = numpy.random.RandomState(1).rand(784, 500)
    name, X, img_shape = plots.filter_images({"W_dA": W, "b_dA": numpy.zeros(500)})
    assert name == "W_dA" and img_shape == (28, 28)
    numpy.testing.assert_array_equal(X, W.T[:100])
