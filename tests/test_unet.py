"""The U-Net tutorial against the original Unet_lasagne_recipes.py and train_unet.py
(tests/segm_original.json, written by benchmarks/segm_original.py on theano-pymc 1.1.2 with
Lasagne 5d3c63cb, floatX=float64): the first weights drawn for a seed, the forward pass, loss,
two Adam steps and validation numbers on a made batch (part unet), the metrics (part metrics,
and NumPy), and the original's training on the made stacks shipped with dltut (part
unet_train: its printed lines, which are the catalogue's quick lines, each step's loss and the
last weights), reached by a run resumed from a checkpoint.

The tests that compile U-Net's training graph take a minute or more: they are slow tests.
"""

import json
import logging
import os

import numpy
import pytest

from conftest import numpy_segmentation_metrics
from dltut import catalogue, engine
from dltut.engine import T
from dltut.layers import get_all_params, get_output, get_output_shape
from dltut.tutorials import unet
from dltut.tutorials.isbi_em_stacks import IsbiEmStacksDataset

RECORDED = json.load(open(os.path.join(os.path.dirname(__file__), "segm_original.json")))
UNET = RECORDED["unet"]
TRAINED = RECORDED["unet_train"]
QUICK = catalogue.get("unet").quick


def _recorded_name(name):
    """The recording's name of a dltut parameter: the net's key, then below it the layer's
    class (batch_norm hides the convolution and its normalisation under one key)."""
    layer, param = name.split(".")
    if layer == "output_segmentation":
        return name
    if layer.endswith("_bn"):
        return f"{layer[:-3]}<BatchNormLayer.{param}"
    kind = "TransposedConv2DLayer" if layer.startswith("upscale") else "Conv2DLayer"
    return f"{layer}<{kind}.{param}"


def _made_batch():
    """The recording's made batch: 2 x 1 x 64 x 64 in [0, 1), and 0/1 targets, one per pixel."""
    x = numpy.random.RandomState(UNET["input"]["seed"]).uniform(size=UNET["input"]["shape"])
    y = numpy.random.RandomState(UNET["targets"]["seed"]).randint(0, 2, UNET["targets"]["n"])
    return x, y.astype("int32")


def _recorded_net():
    """build_UNet as the recording called it, its weights from RandomState(1234)."""
    return unet.build_UNet(n_input_channels=1, num_output_classes=2, pad="same",
                           base_n_filters=8, do_dropout=False, input_dim=(None, None),
                           rng=numpy.random.RandomState(UNET["rng_seed"]))


def _assert_summary(values, summary, rtol, what):
    """``values`` against the recording's summary of an array (picked values, sums)."""
    flat = numpy.asarray(values, dtype=numpy.float64).ravel()
    assert list(numpy.shape(values)) == summary["shape"], what
    picked = [int(i) for i in summary["values_at"]]
    numpy.testing.assert_allclose(flat[picked], list(summary["values_at"].values()), rtol=rtol,
                                  err_msg=what)
    numpy.testing.assert_allclose(numpy.sum(flat * flat), summary["sq_sum"], rtol=rtol,
                                  err_msg=what)
    signed = numpy.sum(flat * (numpy.arange(flat.size) % 13 - 6))
    assert abs(signed - summary["signed_sum_mod13"]) <= rtol * numpy.sum(numpy.abs(flat)) * 6


def _assert_params(params, recorded, rtol, what):
    assert len(params) == len(recorded), what
    for param, entry in zip(params, recorded):
        value = param.get_value()
        assert _recorded_name(param.name) == entry["name"] and list(value.shape) == entry["shape"]
        numpy.testing.assert_allclose(value.ravel()[:3], entry["first"], rtol=rtol, atol=1e-300,
                                      err_msg=f"{what}: {entry['name']}")
        for key, total in (("sum", value.sum()), ("abs_sum", abs(value).sum()),
                           ("sq_sum", (value ** 2).sum())):
            assert total == pytest.approx(entry[key], rel=rtol, abs=rtol * entry["abs_sum"]), \
                (what, entry["name"], key)


def test_the_first_weights_are_the_originals(floatX64):
    """The recipe's layers, in get_all_params' order, with the weights Lasagne drew from
    RandomState(1234): He's normal draws for the 3x3 and transposed convolutions, Glorot's
    uniform for the last 1x1, batch normalisation's constants; biases only on the last."""
    net = _recorded_net()
    output = net["output_flattened"]
    params = get_all_params(output)
    _assert_params(params, UNET["command_line"]["initial_params"], 1e-15, "initial")
    trainable = set(get_all_params(output, trainable=True))
    assert [p in trainable for p in params] == [
        e["trainable"] for e in UNET["command_line"]["initial_params"]]
    assert UNET["command_line"]["initial_params"] == UNET["train_defaults"]["initial_params"]


def test_sizes_divisible_by_16_come_out_whole_and_others_cropped():
    """Each pooling halves (rounding down) and each transposed convolution doubles: 64 comes
    back 64; 40 comes back 32, its skip connections cut about their centres to fit."""
    net = unet.build_UNet(base_n_filters=2, rng=numpy.random.RandomState(0))
    shapes = {key: get_output_shape(net[key], (3, 1, 40, 40))
              for key in ("pool4", "upscale1", "concat1", "concat4", "output_segmentation")}
    assert shapes == {"pool4": (3, 16, 2, 2), "upscale1": (3, 32, 4, 4),
                      "concat1": (3, 48, 4, 4), "concat4": (3, 6, 32, 32),
                      "output_segmentation": (3, 2, 32, 32)}
    assert get_output_shape(net["output_flattened"], (3, 1, 64, 64)) == (3 * 64 * 64, 2)
    with pytest.raises(ValueError, match="base_n_filters must be a positive integer, got 0"):
        unet.build_UNet(base_n_filters=0, rng=numpy.random.RandomState(0))


def _numpy_crossentropy(probabilities, labels, void_labels):
    """-mean log p of the labelled pixels, the probabilities clipped to [1e-6, 1 - 1e-6]."""
    p = numpy.clip(probabilities, 1e-6, 1 - 1e-6)
    counted = ~numpy.isin(labels, void_labels)
    picked = p[numpy.arange(len(labels)), numpy.where(counted, labels, 0)]
    return -numpy.sum(numpy.log(picked) * counted) / counted.sum()


@pytest.mark.parametrize("classes, target, void, suffix, jaccard_key", [
    (2, "target_void_2", (2,), "void_2", "jaccard_num_denom_2_classes"),
    (3, "target_no_void", (), "no_void", "jaccard_num_denom_3_classes_no_void"),
])
def test_metrics_are_the_originals(floatX64, classes, target, void, suffix, jaccard_key):
    """crossentropy_metric, accuracy_metric and jaccard_metric on the recording's made pair
    (40 pixels; with and without a void label): the original's numbers and NumPy's."""
    metrics = RECORDED["metrics"]
    probabilities = numpy.array(metrics[f"pred_{classes}_classes"])
    labels = numpy.array(metrics[target], dtype="int32")
    y_pred, y_true = T.matrix("y_pred"), T.ivector("y_true")
    cost, accuracy, table = engine.function(
        [y_pred, y_true], [unet.crossentropy_metric(y_pred, y_true, void),
                           unet.accuracy_metric(y_pred, y_true, void),
                           unet.jaccard_metric(y_pred, y_true, classes)])(probabilities, labels)
    original = metrics["train_unet"]
    assert float(cost) == pytest.approx(original[f"crossentropy_{suffix}"], rel=1e-15)
    assert float(accuracy) == original[f"accuracy_{suffix}"]
    assert numpy.asarray(table).tolist() == original[jaccard_key]
    assert float(cost) == pytest.approx(_numpy_crossentropy(probabilities, labels, void),
                                        rel=1e-14)
    numpy_accuracy, numpy_table = numpy_segmentation_metrics(probabilities, labels, classes, void)
    assert float(accuracy) == pytest.approx(numpy_accuracy, rel=1e-15)
    assert numpy.array_equal(table, numpy_table)


def test_the_cross_entropys_gradient_is_numpys(floatX64):
    """d cost / d p: -m_i / (p_{i,y_i} sum m) at each pixel's label (zero on void pixels and
    where the clip holds the probability), checked against NumPy's formula and by finite
    differences."""
    rng = numpy.random.RandomState(3)
    p = rng.dirichlet(numpy.ones(3), size=12)
    p[0] = [1e-9, 1 - 2e-9, 1e-9]  # clipped where labelled 0
    labels = rng.randint(0, 3, 12).astype("int32")
    labels[0] = 0
    void = (2,)
    y_pred, y_true = T.matrix("y_pred"), T.ivector("y_true")
    cost = unet.crossentropy_metric(y_pred, y_true, void)
    gradient = engine.function([y_pred, y_true], engine.grad(cost, y_pred))(p, labels)
    counted = labels != 2
    expected = numpy.zeros_like(p)
    rows = numpy.flatnonzero(counted & (p[numpy.arange(12), labels] > 1e-6))
    expected[rows, labels[rows]] = -1 / (p[rows, labels[rows]] * counted.sum())
    numpy.testing.assert_allclose(gradient, expected, rtol=1e-14)
    step = 1e-7
    for i, k in ((1, labels[1]), (3, 0), (5, 1)):
        moved = p.copy()
        moved[i, k] += step
        numeric = (_numpy_crossentropy(moved, labels, void)
                   - _numpy_crossentropy(p, labels, void)) / step
        assert gradient[i, k] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def _functions(net, settings, batch):
    """train_unet's training and validation functions, as the recording built them, and its
    observation-only ones: the training graph's output and cost without any update, the
    deterministic output."""
    from dltut.layers import l2, regularize_network_params
    from dltut.updates import adam

    output = net["output_flattened"]
    input_var, target_var = T.tensor4("input_var"), T.ivector("target_var")
    images = unet.sized(input_var, batch, 1, 64, 64)

    def cost(prediction):
        loss = unet.crossentropy_metric(prediction, target_var, [])
        if settings["weight_decay"] > 0:
            loss += settings["weight_decay"] * regularize_network_params(output, l2)
        return loss

    loss = cost(get_output(output, images))
    updates = adam(loss, get_all_params(output, trainable=True),
                   learning_rate=settings["learning_rate"])
    train_fn = engine.function([input_var, target_var], [loss], updates=updates,
                               shapes_at_run_time=True)
    test_prediction = get_output(output, images, deterministic=True)
    val_fn = engine.function([input_var, target_var], [
        unet.crossentropy_metric(test_prediction, target_var, []),
        unet.accuracy_metric(test_prediction, target_var, []),
        unet.jaccard_metric(test_prediction, target_var, 2)], shapes_at_run_time=True)
    looked = get_output(output, images, batch_norm_update_averages=False)
    look_train = engine.function([input_var, target_var], [looked, cost(looked)],
                                 shapes_at_run_time=True)
    look_det = engine.function([input_var], [test_prediction], shapes_at_run_time=True)
    return train_fn, val_fn, look_train, look_det


def _assert_validation(got, recorded, rtol):
    assert float(got[0]) == pytest.approx(recorded["loss"], rel=rtol)
    assert float(got[1]) == pytest.approx(recorded["acc"], rel=1e-15)
    assert numpy.asarray(got[2]).tolist() == recorded["jacc_num_denom"]


def test_the_forward_pass_and_validation_are_the_originals(floatX64):
    """The deterministic output (batch normalisation by its running averages) of the first
    weights on the made batch, and the validation function's cost, accuracy and Jaccard table."""
    x, y = _made_batch()
    net = _recorded_net()
    output = net["output_flattened"]
    input_var, target_var = T.tensor4("input_var"), T.ivector("target_var")
    prediction = get_output(output, unet.sized(input_var, 2, 1, 64, 64), deterministic=True)
    val_fn = engine.function([input_var, target_var], [
        prediction, unet.crossentropy_metric(prediction, target_var, []),
        unet.accuracy_metric(prediction, target_var, []),
        unet.jaccard_metric(prediction, target_var, 2)], shapes_at_run_time=True)
    got = val_fn(x, y)
    recorded = UNET["command_line"]
    _assert_summary(got[0], recorded["output_deterministic_initial"], 1e-12, "output")
    _assert_validation(got[1:], recorded["valid_fn_initial"], 1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("settings", ["command_line", "train_defaults"])
def test_two_adam_steps_are_the_originals(floatX64, settings):
    """The recording's protocol (benchmarks/segm_original.py, MODEL_PROTOCOL) with the command
    line's settings (learning rate 1e-4, no weight decay) and train()'s (0.005, 1e-4): outputs
    and cost in training mode, two Adam steps (each updating batch normalisation's running
    averages), then every output and every parameter again."""
    recorded = UNET[settings]
    x, y = _made_batch()
    net = _recorded_net()
    train_fn, val_fn, look_train, look_det = _functions(net, recorded, batch=2)
    rtol = 1e-12
    _assert_summary(look_det(x)[0], recorded["output_deterministic_initial"], rtol, "det 0")
    _assert_validation(val_fn(x, y), recorded["valid_fn_initial"], rtol)
    prediction, loss = look_train(x, y)
    _assert_summary(prediction, recorded["output_train_initial"], rtol, "train 0")
    assert numpy.bincount(prediction.argmax(axis=1)).tolist() == \
        recorded["argmax_counts_train_initial"]
    assert float(loss) == pytest.approx(recorded["loss_train_initial"], rel=rtol)
    losses = [float(train_fn(x, y)[0]) for _ in range(2)]
    assert losses == pytest.approx(recorded["train_fn_losses"], rel=rtol)
    prediction, loss = look_train(x, y)
    _assert_summary(prediction, recorded["output_train_after_2_steps"], rtol, "train 2")
    assert float(loss) == pytest.approx(recorded["loss_train_after_2_steps"], rel=rtol)
    _assert_summary(look_det(x)[0], recorded["output_deterministic_after_2_steps"], rtol,
                    "det 2")
    _assert_validation(val_fn(x, y), recorded["valid_fn_after_2_steps"], rtol)
    # (Adam's first steps move each weight by about the learning rate: a beta of 2e-4 agrees to
    # 1e-12 relative; measured, 8e-13)
    _assert_params(get_all_params(net["output_flattened"]), recorded["params_after_2_steps"],
                   1e-11, "after 2 steps")


def _epoch_lines(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "dltut.tutorials.unet" and r.getMessage().startswith("EPOCH")]


@pytest.mark.slow
def test_prints_the_originals_lines_and_resumes_as_the_unbroken_run(floatX64, tmp_path, caplog):
    """Two epochs with a checkpoint, then the same run resumed for two more: the four epochs'
    lines, every step's cost and the last weights are those of the original's unbroken run."""
    settings = dict(QUICK.settings)
    checkpoint = str(tmp_path / "unet.ckpt.npz")
    with caplog.at_level(logging.INFO, logger="dltut"):
        first = unet.train_unet(**{**settings, "num_epochs": 2}, checkpoint=checkpoint)
        lines = _epoch_lines(caplog)
        caplog.clear()
        result = unet.train_unet(**settings, resume=checkpoint, checkpoint=checkpoint,
                                 out=str(tmp_path / "best.npz"))
        lines += _epoch_lines(caplog)
    assert TRAINED["epoch_lines"] == list(QUICK.lines) == lines
    assert TRAINED["settings"]["data_augmentation"] == {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in unet.TOY_AUGMENTATION.items()}
    numpy.testing.assert_allclose(result.costs.ravel(), TRAINED["train_losses"], rtol=1e-12)
    numpy.testing.assert_allclose(first.costs.ravel(), TRAINED["train_losses"][:10], rtol=1e-12)
    assert result.stop_reason == "n_epochs" and result.epochs == 4
    assert [record.epoch for record in result.history if record.new_best] == [3]
    for record, step in zip(result.history, TRAINED["valid_steps"]):
        assert record.scores["valid_cost"] == pytest.approx(step["cost"], rel=1e-12)
        assert record.scores["valid_accuracy"] == pytest.approx(step["acc"], rel=1e-15)
    # the model holds the best epoch's weights: its masks of the validation slices score what
    # that epoch's validation did
    images, labels, _ = IsbiEmStacksDataset("val", toy=True).arrays()
    masks = result.model.predict(images)
    assert masks.shape == labels.shape == (5, 64, 64)
    assert (masks == labels).mean() == pytest.approx(result.history[2].scores["valid_accuracy"],
                                                     rel=1e-12)
    # the last weights (the checkpoint's) are the original's
    from dltut.saving import load_model

    last = {name.removeprefix("value/"): value for name, value
            in load_model(checkpoint).params.items() if name.startswith("value/")}
    for entry in TRAINED["final_params"]:
        name = next(n for n in last if _recorded_name(n) == entry["name"])
        value = last[name]
        assert value.sum() == pytest.approx(entry["sum"], rel=1e-12,
                                            abs=1e-12 * entry["abs_sum"]), entry["name"]
        assert (value ** 2).sum() == pytest.approx(entry["sq_sum"], rel=1e-12), entry["name"]
        numpy.testing.assert_allclose(value.ravel()[:3], entry["first"], rtol=1e-11)


@pytest.mark.parametrize("settings, fragment", [
    ({"batch_size": (5, 5)}, "batch_size must be (training, validation, test)"),
    ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
    ({"learning_rate": 0.0}, "learning_rate must be positive"),
    ({"max_patience": 0}, "max_patience must be a positive integer"),
    ({"base_n_filters": 0}, "base_n_filters must be a positive integer"),
    ({"seed": -1}, "seed must be an integer in [0, 2 ** 32)"),
    ({"early_stop_class": 2}, "early_stop_class 2: a class, 0 to 1"),
    ({"data_augmentation": {"crop_size": (80, 80)}}, "crop_size [80, 80] is larger than the "
                                                     "64x64 image"),
])
def test_bad_settings_are_one_clear_error(settings, fragment):
    with pytest.raises(ValueError) as error:
        unet.train_unet(**settings, toy=True)
    assert fragment in str(error.value)


def test_missing_data_says_where_it_comes_from(tmp_path):
    with pytest.raises(ValueError) as error:
        unet.train_unet(data_path=str(tmp_path / "nowhere"))
    assert "brainiac2.mit.edu" in str(error.value) and "--toy" in str(error.value)


def test_the_run_draws_what_the_original_drew_in_its_order():
    """One generator stands for numpy's global one: the first training batch's augmentation,
    then the weights, then the later batches' (the recording's batches: their slices and
    sums)."""
    rng = numpy.random.RandomState(1234)
    train_iter = IsbiEmStacksDataset("train", batch_size=5, toy=True, augm_rng=rng,
                                     data_augm_kwargs=unet.TOY_AUGMENTATION)
    val_iter = IsbiEmStacksDataset("val", batch_size=5, toy=True, augm_rng=rng,
                                   shuffle_at_each_epoch=False)
    batches = [train_iter.next()]
    unet.build_UNet(base_n_filters=8, rng=rng)
    for _ in range(2):  # the first epoch's training batches, then its validation
        batches += [train_iter.next() for _ in range(5)]
        val = val_iter.next()
        assert numpy.sum(val["data"], dtype=numpy.float64) == pytest.approx(
            TRAINED["valid_batches"][0]["data_sum"], rel=1e-12)
    for batch, recorded in zip(batches, TRAINED["train_batches"]):
        assert batch["filenames"].ravel().tolist() == recorded["slices"]
        assert numpy.sum(batch["data"], dtype=numpy.float64) == pytest.approx(
            recorded["data_sum"], rel=1e-12)
        assert int(batch["labels"].sum()) == recorded["labels_sum"]
        assert list(batch["data"].shape) == recorded["data_shape"] == [5, 1, 32, 32]
