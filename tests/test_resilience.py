"""Runs that survive: kill -9 at random points, Ctrl-C, resume, divergence, bad settings."""

import os
import random
import signal
import subprocess
import time

import numpy
import pytest

from conftest import ROOT, run_script, script_command
from dltut import fitting, saving

RUN = ["--n-epochs", "40", "--batch-size", "100", "--patience", "100000", "--mode", "c",
       "--floatX", "float64", "--checkpoint-every", "1"]


def _run(dataset, cwd, *args):
    return run_script("logreg.py", "--dataset", dataset, *RUN, *args, cwd=cwd)


def _start(dataset, cwd, *args):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
    return subprocess.Popen(script_command("logreg.py", "--dataset", dataset, *RUN, *args),
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _wait_for(process, text):
    lines = []
    for line in process.stdout:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never printed:\n{''.join(lines)}")


def _summary(path):
    model = saving.load_model(path)
    info = {key: model.info[key] for key in ("best_validation_loss", "best_iter", "test_score",
                                             "iterations", "stop_reason")}
    return info, model.params


def _assert_same_model(path, reference):
    info, params = _summary(path)
    assert info == reference[0]
    for name, value in reference[1].items():
        numpy.testing.assert_array_equal(params[name], value)


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    from dltut import data

    directory = tmp_path_factory.mktemp("unbroken")
    (tx, ty), (vx, vy), (sx, sy) = data.load_data()
    dataset = directory / "small.npz"
    data.save_npz(dataset, ((tx[:2000], ty[:2000]), (vx[:500], vy[:500]), (sx[:500], sy[:500])))
    run = _run(dataset, directory, "--out", "best.npz")
    assert run.returncode == 0, run.stderr
    return dataset, _summary(directory / "best.npz"), run.stdout


def _loadable_or_absent(directory):
    for name in ("best.npz", "ck.npz"):
        if (directory / name).exists():
            saving.load_model(directory / name)  # complete: raises on a partial file


def _state(path):
    """The trainer's counters (JSON) and costs in the checkpoint ``path``."""
    saved = saving.load_model(path)
    return saved.meta[f"{fitting.RUN}_checkpoint"]["state"], saved.params["costs"]


@pytest.mark.parametrize("trial", range(4))
def test_sigkill_at_random_points_then_resume(unbroken, tmp_path, trial):
    dataset, reference, _ = unbroken
    process = _start(dataset, tmp_path, "--out", "best.npz", "--checkpoint", "ck.npz")
    _wait_for(process, "... training")
    time.sleep(random.Random(trial).uniform(0.0, 1.5))
    process.send_signal(signal.SIGKILL)
    process.communicate()
    _loadable_or_absent(tmp_path)
    resume = ["--resume", "ck.npz"] if (tmp_path / "ck.npz").exists() else []
    run = _run(dataset, tmp_path, "--out", "best.npz", "--checkpoint", "ck.npz", *resume)
    assert run.returncode == 0, run.stderr
    _assert_same_model(tmp_path / "best.npz", reference)


def test_ctrl_c_writes_checkpoint_and_best_model_then_resumes(unbroken, tmp_path):
    dataset, reference, unbroken_log = unbroken
    process = _start(dataset, tmp_path, "--out", "best.npz", "--checkpoint", "ck.npz")
    _wait_for(process, "epoch 2, minibatch")
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "SIGINT received: stopping after this minibatch" in output
    assert "checkpoint in ck.npz, best model so far in best.npz" in output
    history = _state(tmp_path / "ck.npz")[0]["history"]
    assert saving.load_model(tmp_path / "best.npz").info["stop_reason"] == "interrupted"

    run = _run(dataset, tmp_path, "--out", "best.npz", "--resume", "ck.npz")
    assert run.returncode == 0, run.stderr
    _assert_same_model(tmp_path / "best.npz", reference)
    # the log after the resume point is the unbroken run's
    after = [line for line in run.stdout.splitlines() if line.startswith(("epoch", "     epoch"))]
    expected = [line for line in unbroken_log.splitlines() if line.startswith(("epoch", "     epoch"))]
    assert after == expected[len(history) + sum(v["new_best"] for v in history):]


def test_divergence_is_reported_and_keeps_the_best_model(unbroken, tmp_path):
    # The logistic regression's cost stays finite even at learning rate 1e30 on PyTensor (its
    # log-softmax is stable); the MLP's diverges, at an iteration that depends on the engine
    # (Theano: NaN within 5 updates; PyTensor: inf from the L2 term after some tens).
    dataset, _, _ = unbroken
    run = run_script("mlp.py", "--dataset", dataset, "--n-hidden", "20", "--patience", "40",
                     "--learning-rate", "1e10", "--mode", "c", "--floatX", "float64", "--out",
                     "best.npz", "--checkpoint", "ck.npz", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "training diverged at iteration" in run.stderr
    assert "lower the learning rate (learning_rate=10000000000.0); checkpoint in ck.npz" \
        in run.stderr
    assert "Traceback" not in run.stderr
    state, costs = _state(tmp_path / "ck.npz")
    assert not numpy.isfinite(costs[-1])
    if state["history"]:  # a validation ran before the divergence: its model is the one kept
        assert "best model so far in best.npz" in run.stderr
        best = saving.load_model(tmp_path / "best.npz")
        assert best.info["stop_reason"] == "diverged"
        assert all(numpy.isfinite(value).all() for value in best.params.values())
    else:
        assert not (tmp_path / "best.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "0"], "batch_size must be an integer >= 1, got 0 (--batch-size)"),
    (["--patience", "0"], "patience must be an integer >= 1, got 0"),
    (["--learning-rate", "0"], "learning_rate must be a finite number > 0, got 0.0"),
    (["--mode", "gpu"], "invalid choice: 'gpu'"),
    (["--checkpoint-every", "0"], "checkpoint_every must be an integer >= 1, got 0"),
    (["--resume", "missing.npz"], "resume missing.npz: no such checkpoint file"),
])
def test_bad_settings_fail_before_compiling(unbroken, tmp_path, args, message):
    dataset, _, _ = unbroken
    started = time.monotonic()
    run = _run(dataset, tmp_path, *args)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert "... building the model" not in run.stdout
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "out"])
    assert time.monotonic() - started < 60


def test_resume_with_other_settings_is_refused(unbroken, tmp_path):
    dataset, _, _ = unbroken
    assert _run(dataset, tmp_path, "--n-epochs", "1", "--checkpoint", "ck.npz").returncode == 0
    run = _run(dataset, tmp_path, "--resume", "ck.npz", "--learning-rate", "0.5")
    assert run.returncode == 2
    assert "ck.npz: checkpoint of another run" in run.stderr
    assert "'learning_rate': (0.13, 0.5)" in run.stderr  # (saved, here)


def test_a_model_file_is_not_a_checkpoint(unbroken, tmp_path):
    dataset, _, _ = unbroken
    assert _run(dataset, tmp_path, "--n-epochs", "1", "--out", "best.npz").returncode == 0
    run = _run(dataset, tmp_path, "--resume", "best.npz")
    assert run.returncode == 2 and f"best.npz: not a checkpoint of {fitting.RUN}" in run.stderr


# ------------------------------------------------------------------------------------------------
# faults and hostile files (issue 37): a checkpoint write that fails, an existing checkpoint,
# crafted checkpoints, output places checked before training


def test_a_checkpoint_that_cannot_be_written_keeps_the_run_and_its_best_model(
        tiny_mnist, tmp_path, monkeypatch, caplog, floatX64):
    """A full disk (ENOSPC) at every checkpoint write: one warning naming the file, training goes
    on to its end, the best model is written and the previous checkpoint is left as it was."""
    import logging

    import dltut
    from conftest import checkpoint_warnings, disk_full_for

    disk_full_for(monkeypatch, "ck.npz")
    (tmp_path / "ck.npz").write_bytes(b"an earlier checkpoint")
    with caplog.at_level(logging.WARNING, logger="dltut"):
        result = dltut.sgd_optimization_mnist(
            dataset=tiny_mnist, n_epochs=3, batch_size=100, mode="c",
            out=str(tmp_path / "best.npz"), checkpoint=str(tmp_path / "ck.npz"), overwrite=True)
    checkpoint_warnings(caplog, tmp_path / "ck.npz")
    assert result.stop_reason == "n_epochs" and result.iterations == 18
    assert saving.load_model(tmp_path / "best.npz").info["iterations"] == 18
    assert (tmp_path / "ck.npz").read_bytes() == b"an earlier checkpoint"
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "ck.npz"]  # no temporary left


def _craft_checkpoint(directory, tiny_mnist):
    """A genuine checkpoint of a one-epoch logreg run in ``directory``: ck.npz."""
    run = run_script("logreg.py", "--dataset", tiny_mnist, "--n-epochs", "1", "--batch-size",
                     "100", "--mode", "c", "--floatX", "float64", "--checkpoint", "ck.npz",
                     "--out", "best.npz", cwd=directory)
    assert run.returncode == 0, run.stderr
    return directory / "ck.npz"


def _edit_checkpoint(path, change):
    import json

    with numpy.load(path, allow_pickle=False) as data:
        contents = {key: data[key] for key in data.files}
    meta = json.loads(str(contents["meta"]))
    change(meta)
    contents["meta"] = numpy.array(json.dumps(meta))
    numpy.savez(path, **contents)


CK = f"{fitting.RUN}_checkpoint"  # the checkpoint's own JSON entry


@pytest.mark.parametrize("change, words", [
    (lambda meta: meta[CK]["state"].update(iteration=-5),
     ["iteration must be an integer >= -1, got -5"]),
    (lambda meta: meta[CK]["state"].update(iteration=10**18),
     ["iteration 1000000000000000000 but 6 costs recorded"]),
    (lambda meta: meta[CK].pop("state"), ["not the dict of settings, state"]),
    (lambda meta: meta[CK]["state"].update(epochs=3), ["state: unknown epochs"]),
    (lambda meta: meta[CK]["settings"]["architecture"].update(n_in=10**9),
     ["checkpoint of another run", "'n_in': 1000000000"]),
])
def test_a_crafted_checkpoint_is_refused_in_one_line(tiny_mnist, tmp_path, change, words):
    from hostile import assert_refused, run_dltut

    path = _craft_checkpoint(tmp_path, tiny_mnist)
    _edit_checkpoint(path, change)
    result = run_dltut(["run", "logreg", "--dataset", tiny_mnist, "--n-epochs", "2",
                        "--batch-size", "100", "--mode", "c", "--floatX", "float64", "--resume",
                        "ck.npz", "--out", "again.npz"], cwd=tmp_path)
    assert_refused(result, "ck.npz: ", *words)
    assert "ran for" not in result.stdout and not (tmp_path / "again.npz").exists()


def test_an_existing_checkpoint_is_not_replaced_by_a_fresh_run(tiny_mnist, tmp_path):
    from hostile import assert_refused, run_dltut

    path = _craft_checkpoint(tmp_path, tiny_mnist)
    before = path.read_bytes()
    args = ["run", "logreg", "--dataset", tiny_mnist, "--n-epochs", "1", "--batch-size", "100",
            "--mode", "c", "--floatX", "float64", "--checkpoint", "ck.npz", "--out", "b2.npz"]
    refused = run_dltut(args, cwd=tmp_path)
    assert_refused(refused, "checkpoint ck.npz exists: resume it with --resume ck.npz, or pass "
                            "--overwrite to start again")
    assert path.read_bytes() == before and not (tmp_path / "b2.npz").exists()
    assert run_dltut(args + ["--overwrite"], cwd=tmp_path).returncode == 0
    assert run_dltut(args + ["--resume", "ck.npz"], cwd=tmp_path).returncode == 0


def test_output_places_are_made_or_refused_before_training(tiny_mnist, tmp_path):
    """A missing folder of --out or --checkpoint is made; a place that cannot be a folder (a file
    is there) is refused before any training, nothing written."""
    from hostile import assert_refused, run_dltut

    run = _run(tiny_mnist, tmp_path, "--n-epochs", "1", "--out", "new/deep/best.npz",
               "--checkpoint", "other/ck.npz")
    assert run.returncode == 0, run.stderr
    saving.load_model(tmp_path / "new" / "deep" / "best.npz")
    saving.load_model(tmp_path / "other" / "ck.npz")
    (tmp_path / "afile").write_text("x")
    try:
        import matplotlib  # noqa: F401 - without it --plot and --filters are refused for that
        pictures = ("--plot", "--filters")
    except ImportError:
        pictures = ()
    for flag in ("--out", "--checkpoint", *pictures):
        result = run_dltut(["run", "logreg", "--dataset", tiny_mnist, "--mode", "c",
                            flag, "afile/x.npz"], cwd=tmp_path)
        assert_refused(result, "afile/x.npz", "afile is a file, not a folder")
        assert "... training" not in result.stdout
    result = run_dltut(["run", "dA", "--dataset", tiny_mnist, "--mode", "c", "--output-folder",
                        "afile/pictures"], cwd=tmp_path)
    assert_refused(result, "output_folder afile/pictures", "cannot create folder afile/pictures")
    assert "Training epoch" not in result.stdout
