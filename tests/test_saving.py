"""Model files: round trip, predictions, and one clear error for each unusable file."""

import json
import os

import numpy
import pytest

from dltut import engine, registry, saving
from dltut.atomic import OutputError
from dltut.engine import T
from dltut.fitting import RUN

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


def test_write_into_missing_directory_creates_it(tmp_path):
    """One rule for every output place: a missing folder is made (no longer refused)."""
    saving.save_model(tmp_path / "no" / "m.npz", ARCH, {})
    assert os.listdir(tmp_path / "no") == ["m.npz"]


def test_write_where_a_file_is_named_as_the_folder(tmp_path):
    (tmp_path / "no").write_text("a file")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        saving.save_model(tmp_path / "no" / "m.npz", ARCH, {})
    with pytest.raises(OutputError, match="is a file, not a folder"):
        saving.check_writable(tmp_path / "no" / "m.npz", "out")


def test_written_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        saving.atomic_write(tmp_path / "m.npz", lambda file: file.write(b"x"))
    finally:
        os.umask(mask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------------------------------------------
# hostile model files and checkpoints: each refused with one ModelFileError naming the file, before
# anything is built or allocated


def _model_file(path):
    """A genuine model file of the small MLP."""
    _, mlp = _trained_mlp()
    saving.save_model(path, ARCH, registry.param_values(mlp), {"iteration": 2})
    return path


def _checkpoint(path):
    """A genuine checkpoint of a small MLP's run, as ``fitting`` writes it: 3 updates, one
    validation (a new best)."""
    from dltut.trainer import TrainState, Validation

    _, mlp = _trained_mlp()
    params = {param.name: param for param in mlp.params}
    state = TrainState(patience=10, iteration=2, best_validation_loss=0.5, best_iter=1,
                       test_score=0.25, best_params=list(registry.param_values(mlp).values()),
                       history=[Validation(1, 1, 2, 0.5, 10, True, True, 0.25)],
                       costs=[2.0, 1.5, 1.25])
    saving.save_run(path, RUN, {"learning_rate": 0.1}, params, params, state)
    return path


def _resume(path):
    """The TrainState of ``_checkpoint``'s file, read and restored into a new MLP."""
    _, mlp = _trained_mlp()
    params = {param.name: param for param in mlp.params}
    return saving.read_run(path, RUN, {"learning_rate": 0.1}).restore(params, params)


def _rewrite(path, change_meta=None, **arrays):
    """Rewrite the file ``path`` with its meta passed through ``change_meta`` and ``arrays``
    replaced (None: removed)."""
    with numpy.load(path, allow_pickle=False) as data:
        contents = {key: data[key] for key in data.files}
    meta = json.loads(str(contents["meta"]))
    if change_meta is not None:
        meta = change_meta(meta)
    contents["meta"] = numpy.array(json.dumps(meta))
    for key, value in arrays.items():
        key = key.replace("__", "/")
        if value is None:
            contents.pop(key)
        else:
            contents[key] = value
    path.unlink()
    numpy.savez(path, **contents)
    return path


def _with(*keys_value):
    """A meta change: set the nested key ``keys`` (a path of dict keys) to ``value``; a value
    of ``KeyError`` removes it."""
    *keys, value = keys_value

    def change(meta):
        place = meta
        for key in keys[:-1]:
            place = place[key]
        if value is KeyError:
            del place[keys[-1]]
        else:
            place[keys[-1]] = value
        return meta

    return change


def _refused(read, path, message):
    with pytest.raises(saving.ModelFileError) as error:
        read(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_genuine_checkpoint_loads(tmp_path):
    state = _resume(_checkpoint(tmp_path / "ck.npz"))
    assert state.iteration == 2 and state.costs == [2.0, 1.5, 1.25]
    assert len(state.best_params) == 4 and state.history[0].new_best


@pytest.mark.parametrize("change, message", [
    (lambda meta: [meta], "meta is a JSON list"),
    (lambda meta: 7, "meta is a JSON int 7, not an object"),
    (_with("arch", "act", "relu"), "unknown act"),
    (_with("arch", "n_hidden", KeyError), "missing n_hidden"),
    (_with("arch", "n_hidden", "5"), "n_hidden must be a positive integer, got '5'"),
    (_with("arch", "n_hidden", 10**8), "parameters, more than dltut builds"),
    (_with("arch", "n_hidden", 6), "parameter W_hidden has shape (8, 5)"),
    (_with("arch", [1]), "meta arch [1] is not a JSON object"),
    (_with("info", "x"), "meta info 'x' is not a JSON object"),
    (_with("engine", 3), "meta engine 3 is not a string"),
    (_with("floatX", KeyError), "meta: missing floatX"),
])
def test_crafted_model_meta_is_refused(tmp_path, change, message):
    _refused(saving.load_model, _rewrite(_model_file(tmp_path / "m.npz"), change), message)


CK = f"{RUN}_checkpoint"  # the checkpoint's own JSON entry


@pytest.mark.parametrize("change, message", [
    (lambda meta: [meta], "meta is a JSON list"),
    (_with(CK, "state", KeyError), "not the dict of settings, state"),
    (_with(CK, "extra", 1), "not the dict of settings, state"),
    (_with(CK, "settings", [1]), "settings is [1], not a dict"),
    (_with(CK, "state", [1, 2]), "state is [1, 2], not a dict"),
    (_with(CK, "state", "epoch", 3), "state: unknown epoch"),
    (_with(CK, "state", "patience", KeyError), "state: missing patience"),
    (_with(CK, "state", "iteration", -5), "iteration must be an integer >= -1, got -5"),
    (_with(CK, "state", "iteration", 10**18), "iteration 1000000000000000000 but 3 costs recorded"),
    (_with(CK, "state", "iteration", 2.0), "iteration must be an integer >= -1, got 2.0"),
    (_with(CK, "state", "patience", True), "patience must be an integer >= 1, got True"),
    (_with(CK, "state", "best_validation_loss", 7.5),
     "best_validation_loss must be an error rate in [0, 1] or Infinity, got 7.5"),
    (_with(CK, "state", "best_iter", 9), "best_iter 9 is after iteration 2"),
    (_with(CK, "state", "history", 0, "new_best", "yes"),
     "history[0]: new_best must be true or false, got 'yes'"),
    (_with(CK, "state", "history", 0, "iter", 5), "iter 5 is not after"),
    (_with(CK, "state", "history", 0, "colour", 5), "history[0]: unknown colour"),
    (_with(CK, "state", "history", [[1]]), "history[0] must be a JSON object"),
])
def test_crafted_checkpoint_meta_is_refused(tmp_path, change, message):
    _refused(_resume, _rewrite(_checkpoint(tmp_path / "ck.npz"), change), message)


@pytest.mark.parametrize("arrays, message", [
    ({"param__W_hidden": numpy.zeros((8, 5), dtype=complex)}, "dtype complex128, not plain"),
    ({"param__W_hidden": numpy.zeros((8, 5), dtype="int32")}, "dtype int32, not floats"),
    ({"param__W_hidden": numpy.zeros(3, dtype=[("a", "f8")])}, "not plain numbers"),
    ({"param__W_hidden": numpy.array(["a"])}, "dtype <U1, not plain numbers"),
    ({"param__W_hidden": numpy.zeros((8, 50))}, "parameter W_hidden has shape (8, 50)"),
    ({"param__W_extra": numpy.zeros(2)}, "do not match architecture 'mlp'"),
])
def test_crafted_model_arrays_are_refused(tmp_path, arrays, message):
    _refused(saving.load_model, _rewrite(_model_file(tmp_path / "m.npz"), **arrays), message)


@pytest.mark.parametrize("arrays, message", [
    ({"param__costs": numpy.zeros(7)}, "iteration 2 but 7 costs recorded"),
    ({"param__costs": numpy.array([numpy.nan, 1.0, 1.0])},
     "a NaN or infinite cost before the last"),
    ({"param__costs": None}, "iteration 2 but 0 costs recorded"),
    ({"param__best__W_hidden": None}, "no array best/W_hidden"),
    ({"param__best__W_hidden": numpy.zeros((2, 2))}, "best/W_hidden is float64 (2, 2), this run's"),
    ({"param__value__W_hidden": numpy.zeros((8, 5), dtype=complex)},
     "dtype complex128, not plain"),
    ({"param__value__W_hidden": numpy.zeros((8, 5), dtype="int32")}, "value/W_hidden is int32"),
    ({"param__value__W_hidden": numpy.zeros((8, 50))}, "value/W_hidden is float64 (8, 50)"),
    ({"param__value__W_extra": numpy.zeros(2)}, "unknown arrays ['value/W_extra']"),
    ({"meta": None}, "no meta entry"),
    ({"meta": numpy.zeros(3)}, "meta is an array of shape (3,)"),
    ({"meta": numpy.array("[" * 100000)}, "meta is not JSON"),
    ({"meta": numpy.array("{not json")}, "meta is not JSON"),
])
def test_crafted_checkpoint_arrays_are_refused(tmp_path, arrays, message):
    path = _checkpoint(tmp_path / "ck.npz")
    meta = arrays.pop("meta", False)
    _rewrite(path, **arrays)
    if meta is not False:  # replaced after _rewrite, which rewrites the meta it reads
        with numpy.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files if key != "meta"}
        if meta is not None:
            contents["meta"] = meta
        numpy.savez(path, **contents)
    _refused(_resume, path, message)


def test_an_object_array_is_refused_unread(tmp_path):
    path = _model_file(tmp_path / "m.npz")
    with numpy.load(path, allow_pickle=False) as data:
        contents = {key: data[key] for key in data.files}
    contents["param/W_hidden"] = numpy.array([object()] * 3, dtype=object)
    numpy.savez(path, **contents)
    with pytest.raises(saving.ModelFileError, match="W_hidden has dtype object, not plain"):
        saving.load_model(path)


def _zip_member(path, name, data, compression=None):
    import zipfile

    with zipfile.ZipFile(path, "a", compression or zipfile.ZIP_STORED) as archive:
        archive.writestr(name, data)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """A deflated member of 64 MiB of zeros in a file of some 64 KiB: its declared size is over
    the budget, refused before a byte is inflated."""
    import io
    import zipfile

    path = _model_file(tmp_path / "m.npz")
    buffer = io.BytesIO()
    numpy.save(buffer, numpy.zeros(8 * 2**20))
    _zip_member(path, "costs2.npy", buffer.getvalue(), zipfile.ZIP_DEFLATED)
    with pytest.raises(saving.ModelFileError,
                       match=r"bytes unpacked, more than .* \(a zip bomb\?\)"):
        saving.load_model(path)


def test_a_header_asking_for_more_than_its_member_is_refused(tmp_path):
    """An .npy header declaring 10**12 floats over 16 bytes: refused, nothing allocated."""
    path = _model_file(tmp_path / "m.npz")
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    import io

    buffer = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(buffer, header)
    _zip_member(path, "huge.npy", buffer.getvalue() + bytes(16))
    with pytest.raises(saving.ModelFileError, match=r"array huge of shape \(1000000000000,\) and "
                                                    r"dtype float64 needs 8,000,000,000,000 bytes"):
        saving.load_model(path)


def test_a_member_that_is_no_array_is_refused(tmp_path):
    path = _model_file(tmp_path / "m.npz")
    _zip_member(path, "notes.txt", b"hello")
    with pytest.raises(saving.ModelFileError, match="member 'notes.txt' is not a .npy array"):
        saving.load_model(path)
    other = _model_file(tmp_path / "other.npz")
    _zip_member(other, "x.npy", b"\x93NUMPY garbage")
    with pytest.raises(saving.ModelFileError, match=r"array x: .npy format \(32, 103\)"):
        saving.load_model(other)


def test_an_absurd_architecture_allocates_nothing(tmp_path):
    """The issue's case: a model file whose arch says n_hidden 10**8 (a MemoryError before)."""
    path = _rewrite(_model_file(tmp_path / "m.npz"), _with("arch", "n_hidden", 10**8))
    with pytest.raises(saving.ModelFileError, match="more than dltut builds"):
        saving.load_model(path)


def test_predict_with_a_crafted_model_file_is_one_line(tmp_path):
    """``dltut predict mlp --out crafted.npz``: the file's n_hidden of 10**8 (a MemoryError
    traceback before) is refused in one line naming the file, before any data is read."""
    from hostile import assert_refused, run_dltut

    path = _rewrite(_model_file(tmp_path / "crafted.npz"), _with("arch", "n_hidden", 10**8))
    result = run_dltut(["predict", "mlp", "--out", path.name], cwd=tmp_path)
    assert_refused(result, "crafted.npz: architecture", "more than dltut builds")
    _rewrite(path, lambda meta: [meta])
    assert_refused(run_dltut(["predict", "mlp", "--out", path.name], cwd=tmp_path),
                   "crafted.npz: meta is a JSON list")


def test_a_failed_checkpoint_write_is_one_warning_a_streak(tmp_path, caplog):
    import errno
    import logging

    outcomes = iter([OSError(errno.ENOSPC, "No space left on device")] * 2 + [None]
                    + [OSError(errno.EROFS, "Read-only file system")])

    def write(file):
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        file.write(b"ok")

    path = tmp_path / "ck.npz"
    writer = saving.CheckpointWriter(path, lambda: saving.atomic_write(path, write))
    with caplog.at_level(logging.WARNING, logger="dltut"):
        for failed in (True, True, False, True):
            writer()
            assert writer.failed == failed
    messages = [record.getMessage() for record in caplog.records if record.name == "dltut.saving"]
    assert len(messages) == 3
    assert messages[0].startswith(f"checkpoint not written: {path}: cannot write (No space left")
    assert messages[1] == f"checkpoint {path} written again"
    assert f"{path}: cannot write (Read-only file system: choose a writable place)" in messages[2]
    assert path.read_bytes() == b"ok" and os.listdir(tmp_path) == ["ck.npz"]


def _run(values_like=None):
    """A tiny run's values (a weight and a random state), its params and a TrainState."""
    from dltut.trainer import TrainState, Validation

    W = engine.shared(numpy.arange(6.0).reshape(2, 3).astype(engine.floatX()), "W")
    rstate = engine.shared(numpy.arange(12, dtype="int32").reshape(2, 6), "rstate")
    state = TrainState(patience=3, iteration=1, best_validation_loss=0.25, best_iter=1,
                       best_params=[numpy.ones((2, 3), dtype=engine.floatX())],
                       history=[Validation(iter=1, epoch=1, minibatch=2, validation_loss=0.25,
                                           patience=3, new_best=True, extended=False)],
                       costs=[0.5, 0.4])
    return {"W": W, "rstate": rstate}, {"W": W}, state


def test_a_run_checkpoint_round_trip(tmp_path):
    """save_run / read_run / restore: the values, the best params, the TrainState, the NumPy
    state and the counters come back; another run's settings are refused."""
    values, params, state = _run()
    rng = numpy.random.RandomState(5)
    rng.rand(3)
    path = tmp_path / "run.npz"
    saving.save_run(path, "tiny", {"lr": 0.1, "f": numpy.mean}, values, params, state,
                    rng.get_state(), counters={"epochs": 2})
    expected = numpy.asarray(values["W"].get_value())
    values["W"].set_value(numpy.zeros((2, 3), dtype=engine.floatX()))
    saved = saving.read_run(path, "tiny", {"lr": 0.1, "f": numpy.mean}, {"epochs": int},
                            rng=True, n_updates=10, patience=3)
    assert saved.run["epochs"] == 2
    other = numpy.random.RandomState(0)
    restored = saved.restore(values, params, other)
    numpy.testing.assert_array_equal(values["W"].get_value(), expected)
    numpy.testing.assert_array_equal(restored.best_params[0], state.best_params[0])
    assert restored.to_dict() == state.to_dict() and restored.costs == state.costs
    assert other.rand() == rng.rand()
    with pytest.raises(ValueError, match="checkpoint of another run .*'lr': \\(0.1, 0.2\\)"):
        saving.read_run(path, "tiny", {"lr": 0.2, "f": numpy.mean}, {"epochs": int}, rng=True)
    with pytest.raises(saving.ModelFileError, match="not a checkpoint of other"):
        saving.read_run(path, "other", {}, rng=True)
    with pytest.raises(saving.ModelFileError, match="iteration 1 and patience 3, where this run "
                                                    "has at most 1 updates"):
        saving.read_run(path, "tiny", {"lr": 0.1, "f": numpy.mean}, {"epochs": int}, rng=True,
                        n_updates=1)


def test_a_run_checkpoint_of_another_model_sets_nothing(tmp_path):
    """Every array is checked against the running model before any value is set."""
    values, params, state = _run()
    path = tmp_path / "run.npz"
    saving.save_run(path, "tiny", {}, values, params, state)
    before = numpy.asarray(values["rstate"].get_value())
    bigger = engine.shared(numpy.zeros((3, 3), dtype=engine.floatX()), "W")
    saved = saving.read_run(path, "tiny", {})
    with pytest.raises(saving.ModelFileError, match=f"{path}: value/W is .* \\(2, 3\\), this "
                                                    "run's is .* \\(3, 3\\)"):
        saved.restore({"W": bigger, "rstate": values["rstate"]}, {"W": bigger})
    numpy.testing.assert_array_equal(values["rstate"].get_value(), before)
    with pytest.raises(saving.ModelFileError, match="unknown arrays"):
        saved.restore({"W": values["W"]}, params)


def test_a_run_checkpoint_without_a_train_state(tmp_path):
    """A run with no TrainState (rnnslu, rnnrbm): its best parameters, other arrays and
    counters come back; a counter's test and the run's check refuse, naming the file."""
    values, params, _ = _run()
    path = tmp_path / "run.npz"
    best = [numpy.ones((2, 3), dtype=engine.floatX())]
    other = {"streams": numpy.arange(4, dtype="int32")}
    saving.save_run(path, "tiny", {"lr": 0.1}, values, params, counters={"epochs": [1, 2]},
                    best=best, arrays=other)
    counters = {"epochs": (lambda epochs: isinstance(epochs, list), "a list of epochs")}
    saved = saving.read_run(path, "tiny", {"lr": 0.1}, counters, state=False)
    assert saved.restore(values, params, arrays={"streams": numpy.zeros(4, "int32")}) is None
    numpy.testing.assert_array_equal(saved.best[0], best[0])
    numpy.testing.assert_array_equal(saved.other["streams"], other["streams"])
    assert saved.run["epochs"] == [1, 2]
    with pytest.raises(saving.ModelFileError, match=f"{path}: epochs is \\[1, 2\\], not a dict"):
        saving.read_run(path, "tiny", {"lr": 0.1}, {"epochs": dict}, state=False)
    with pytest.raises(saving.ModelFileError, match=f"{path}: 2 epochs: not a checkpoint"):
        saving.read_run(path, "tiny", {"lr": 0.1}, counters, state=False,
                        check=lambda run: f"{len(run['epochs'])} epochs")
    with pytest.raises(saving.ModelFileError, match="not the dict of epochs, settings, state"):
        saving.read_run(path, "tiny", {"lr": 0.1}, counters)
    with pytest.raises(saving.ModelFileError, match="array/streams is int32 \\(4,\\), this run's "
                                                    "is int32 \\(5,\\)"):
        saved.restore(values, params, arrays={"streams": numpy.zeros(5, "int32")})
