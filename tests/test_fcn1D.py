"""The 1-D FCN tutorial against the original train_fcn1D.py run on the made rays shipped with
dltut (tests/segm_original.json, written by benchmarks/segm_original.py on theano-pymc 1.1.2 with
Lasagne 5d3c63cb, floatX=float64): its first weights, its metrics, and its printed lines (the
catalogue's quick lines: the original with its final reshape to (-1, n_classes), part
fcn1d_one_update; the original as it is prints the same training numbers), and a resumed run
against them; the metrics also against NumPy.
"""

import json
import logging
import os

import numpy
import pytest

from conftest import numpy_segmentation_metrics
from dltut import catalogue, engine
from dltut.engine import T
from dltut.tutorials import fcn1D
from dltut.tutorials.cortical_layers import Cortical6LayersDataset

RECORDED = json.load(open(os.path.join(os.path.dirname(__file__), "segm_original.json")))
QUICK = catalogue.get("fcn1D").quick


def _epoch_lines(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "dltut.tutorials.fcn1D" and r.getMessage().startswith(("EPOCH",
                                                                               "saving"))]


def test_the_first_weights_are_the_originals(floatX64):
    """build_model draws from the generator the data loaders left, as Lasagne drew from numpy's
    global one: the same weights, parameter by parameter, in get_all_params' order."""
    from dltut.layers import get_all_params

    rng = Cortical6LayersDataset("valid", toy=True, batch_size=8).split_rng
    out, _ = fcn1D.build_model(T.tensor3("x"), rng, n_classes=7)
    params = get_all_params(out)
    expected = RECORDED["fcn1d"]["initial_params"]
    assert [p.name for p in params] == [e["name"] for e in expected]
    for param, entry in zip(params, expected):
        value = param.get_value()
        assert list(value.shape) == entry["shape"], entry["name"]
        numpy.testing.assert_allclose(value.ravel()[:len(entry["first"])], entry["first"],
                                      rtol=1e-15, err_msg=entry["name"])
        numpy.testing.assert_allclose(numpy.sum(value ** 2), entry["sq_sum"], rtol=1e-12)


@pytest.mark.parametrize("classes, target, void, accuracy_key, jaccard_key", [
    (3, "target_no_void", (), "accuracy_no_void", "jaccard_num_denom_3_classes_no_void"),
    (2, "target_void_2", (2,), "accuracy_void_2", "jaccard_num_denom_2_classes_void_2"),
])
def test_metrics_are_the_originals(floatX64, classes, target, void, accuracy_key, jaccard_key):
    metrics = RECORDED["metrics"]
    probabilities = numpy.array(metrics[f"pred_{classes}_classes"])
    labels = numpy.array(metrics[target], dtype="int32")
    y_pred, y_true = T.matrix("y_pred"), T.ivector("y_true")
    accuracy, table = engine.function(
        [y_pred, y_true], [fcn1D.accuracy_metric(y_pred, y_true, void),
                           fcn1D.jaccard(y_pred, y_true, classes)])(probabilities, labels)
    original = metrics["train_fcn1D"]
    assert float(accuracy) == original[accuracy_key]
    assert numpy.asarray(table).tolist() == original[jaccard_key]
    numpy_accuracy, numpy_table = numpy_segmentation_metrics(probabilities, labels, classes, void)
    assert float(accuracy) == pytest.approx(numpy_accuracy, rel=1e-15)
    assert numpy.array_equal(table, numpy_table)


@pytest.mark.slow  # 48 s from an empty home; the fast suite checks fcn1D's first line (test_install)
def test_prints_the_originals_lines_and_resumes_as_the_unbroken_run(floatX64, tmp_path, caplog):
    """Two epochs with a checkpoint, then the same run resumed for two more: the four epochs'
    lines are the original's (its training numbers also those of the original as it is)."""
    settings = dict(QUICK.settings)
    checkpoint = str(tmp_path / "fcn1D.ckpt.npz")
    with caplog.at_level(logging.INFO, logger="dltut"):
        fcn1D.train_fcn1D(**{**settings, "num_epochs": 2}, checkpoint=checkpoint)
        first = _epoch_lines(caplog)
        caplog.clear()
        result = fcn1D.train_fcn1D(**settings, resume=checkpoint, checkpoint=checkpoint)
        second = _epoch_lines(caplog)
    original = RECORDED["fcn1d_one_update"]["printed_loop_lines"]
    assert first + second == original
    assert tuple(line for line in original if line != "saving last model") == QUICK.lines
    assert result.stop_reason == "n_epochs" and result.epochs == 4
    as_it_is = [line.split(", cost val")[0] for line in RECORDED["fcn1d"]["epoch_lines"]]
    assert [line.split(", cost val")[0] for line in first + second
            if line.startswith("EPOCH")] == as_it_is
    best = [record.epoch for record in result.history if record.new_best]
    assert best == [3] and result.best_params is not None  # EPOCH 2, compared with EPOCH 0


@pytest.mark.parametrize("settings, fragment", [
    ({"batch_size": (8, 8)}, "batch_size must be (training, validation, test)"),
    ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
    ({"max_patience": 0}, "max_patience must be a positive integer"),
])
def test_bad_settings_are_one_clear_error(settings, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        fcn1D.train_fcn1D(**settings, toy=True)


def test_missing_data_says_where_it_comes_from(tmp_path):
    with pytest.raises(ValueError) as error:
        fcn1D.train_fcn1D(data_path=str(tmp_path / "nowhere"))
    assert "drive.google.com" in str(error.value) and "--toy" in str(error.value)
