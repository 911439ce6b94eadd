"""Model files: round trip, predictions, and one clear error for each unusable file."""

import json
import os

import numpy
import pytest

from dltut import engine, registry, saving
from dltut.engine import T

ARCH = {"model": "mlp", "n_in": 8, "n_hidden": 5, "n_out": 3}


def _trained_mlp():
    x = T.matrix("x")
    mlp = registry.build(ARCH, numpy.random.RandomState(3), x)
    mlp.logRegressionLayer.W.set_value(
        numpy.random.RandomState(4).randn(5, 3).astype(engine.floatX()))
    return x, mlp


def test_round_trip_and_predict(tmp_path, floatX64):
    x, mlp = _trained_mlp()
    path = tmp_path / "mlp.npz"
    saving.save_model(path, ARCH, registry.param_values(mlp), {"best_iter": 7})
    loaded = saving.load_model(path)
    assert loaded.arch == ARCH and loaded.info == {"best_iter": 7}
    assert loaded.meta["engine"] == engine.name() and loaded.meta["floatX"] == "float64"
    for name, value in registry.param_values(mlp).items():
        numpy.testing.assert_array_equal(loaded.params[name], value)
    images = numpy.random.RandomState(5).rand(11, 8)
    expected = engine.function([x], mlp.y_pred)(images)
    numpy.testing.assert_array_equal(loaded.predict(images), expected)
    assert os.listdir(tmp_path) == ["mlp.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(saving.ModelFileError, match="nope.npz: no such model file"):
        saving.load_model(tmp_path / "nope.npz")


def test_truncated_file(tmp_path):
    _, mlp = _trained_mlp()
    path = tmp_path / "mlp.npz"
    saving.save_model(path, ARCH, registry.param_values(mlp))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(saving.ModelFileError, match="mlp.npz: not a readable dltut model file"):
        saving.load_model(path)


def test_file_of_another_architecture(tmp_path):
    _, mlp = _trained_mlp()
    path = tmp_path / "mlp.npz"
    saving.save_model(path, {"model": "logistic_regression", "n_in": 8, "n_out": 3},
                      registry.param_values(mlp))
    with pytest.raises(saving.ModelFileError, match="do not match architecture"):
        saving.load_model(path).predict(numpy.zeros((1, 8)))


def test_wrong_shapes(tmp_path):
    _, mlp = _trained_mlp()
    path = tmp_path / "mlp.npz"
    saving.save_model(path, dict(ARCH, n_hidden=6), registry.param_values(mlp))
    with pytest.raises(saving.ModelFileError, match=r"W_hidden has shape \(8, 5\)"):
        saving.load_model(path).predict(numpy.zeros((1, 8)))


def test_future_format(tmp_path):
    path = tmp_path / "m.npz"
    numpy.savez(path, meta=numpy.array(json.dumps({"format": 99, "arch": ARCH})))
    with pytest.raises(saving.ModelFileError, match="format 99, this dltut reads format 1"):
        saving.load_model(path)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")

    def fail(file):
        file.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        saving.atomic_write(path, fail)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.npz"]


def test_write_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        saving.save_model(tmp_path / "no" / "m.npz", ARCH, {})


def test_written_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        saving.atomic_write(tmp_path / "m.npz", lambda file: file.write(b"x"))
    finally:
        os.umask(mask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644
