"""dltut.sweep: every run of a grid is its solo run; bad grids fail before anything runs; a sweep
killed midway and started again runs only what is unfinished and ends with the same table; the
process pool and a local Ray give the serial numbers; the seed of the entry points."""

import csv
import dataclasses
import functools
import importlib.machinery
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import types

import numpy
import pytest

import dltut
from dltut import engine, fitting, progress, sweep
from dltut import batched
from dltut.__main__ import main

from conftest import ROOT

# small and quick on the 600/200/200 set: 12 or 6 updates an epoch, patience cutting some runs;
# the runs come in the entry point's order of arguments: learning_rate, then batch_size
GRID = {"batch_size": [50, 100], "learning_rate": [0.13, 0.5]}
FIXED = {"n_epochs": 8, "patience": 30, "mode": "c"}  # C: its compiled ops serve every run
# The runs of a sweep are the tutorials' own on either engine: their cost (most of this file's
# time) is paid once, on the default engine; the grid's checks and the seeds run on both.
pytensor_only = pytest.mark.skipif(engine.name() == "theano", reason="sweep runs: on PyTensor")
NUMBERS = ("best_validation_loss", "test_score", "best_iter", "epochs", "iterations",
           "stop_reason", "patience")


@pytest.fixture(scope="module")
def lr_sweep(tiny_mnist, tmp_path_factory):
    """The logistic regression over two batch sizes and two learning rates, in a pool of two
    processes (the default backend)."""
    if engine.name() == "theano":
        pytest.skip("sweep runs: on PyTensor")
    out_dir = tmp_path_factory.mktemp("sweep")
    results = dltut.sweep("logreg", GRID, out_dir=out_dir, backend="pool", workers=2,
                          dataset=tiny_mnist, **FIXED)
    return out_dir, results


def test_every_run_is_its_solo_run(lr_sweep, tiny_mnist):
    out_dir, results = lr_sweep
    assert [r.settings for r in results] == [
        {"learning_rate": 0.13, "batch_size": 50}, {"learning_rate": 0.13, "batch_size": 100},
        {"learning_rate": 0.5, "batch_size": 50}, {"learning_rate": 0.5, "batch_size": 100}]
    for result in results:
        solo = dltut.sgd_optimization_mnist(dataset=tiny_mnist, **FIXED, **result.settings)
        for name in NUMBERS:
            assert getattr(result, name) == getattr(solo, name), (result.run_id, name)
        assert result.history == solo.history
        numpy.testing.assert_array_equal(result.model.params["W_logreg"],
                                         solo.model.W.get_value())
    assert {r.stop_reason for r in results} == {"patience", "n_epochs"}  # the grid shows both


def test_the_files_of_a_sweep(lr_sweep):
    out_dir, results = lr_sweep
    ids = ["learning_rate=0.13,batch_size=50", "learning_rate=0.13,batch_size=100",
           "learning_rate=0.5,batch_size=50", "learning_rate=0.5,batch_size=100"]
    assert [r.run_id for r in results] == ids
    for run_id in ids:
        names = set(os.listdir(out_dir / run_id))
        assert {"run.json", "log.txt", "checkpoint.npz", "model.npz", "result.json"} <= names
        log = (out_dir / run_id / "log.txt").read_text()
        assert "validation error" in log and "Optimization complete" in log
    with open(out_dir / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["run"] for row in rows] == ids
    assert list(rows[0]) == ["run", "learning_rate", "batch_size", *sweep.COLUMNS]
    for row, result in zip(rows, results):
        assert (int(row["batch_size"]), float(row["learning_rate"])) == \
            (result.settings["batch_size"], result.settings["learning_rate"])
        assert float(row["best_validation_loss"]) == result.best_validation_loss
        assert float(row["test_score"]) == result.test_score
        assert (int(row["best_iter"]), int(row["epochs"]), row["stop_reason"]) == \
            (result.best_iter, result.epochs, result.stop_reason)
        assert float(row["seconds"]) > 0
    table = json.loads((out_dir / "results.json").read_text())
    assert table["grid"] == GRID and [row["run"] for row in table["runs"]] == ids


def test_a_finished_sweep_started_again_runs_nothing(lr_sweep, tiny_mnist):
    out_dir, results = lr_sweep
    before = {r.run_id: os.path.getmtime(out_dir / r.run_id / "result.json") for r in results}
    again = dltut.sweep("logreg", GRID, out_dir=out_dir, backend="serial", dataset=tiny_mnist,
                        **FIXED)
    assert {r.run_id: os.path.getmtime(out_dir / r.run_id / "result.json") for r in again} == \
        before
    for first, second in zip(results, again):
        assert [getattr(first, n) for n in NUMBERS] == [getattr(second, n) for n in NUMBERS]
    # killed after its last checkpoint, before its result.json: done again, to the same end
    (ended,) = [r for r in results if r.stop_reason == "patience"]
    (out_dir / ended.run_id / "result.json").unlink()
    (redone,) = [r for r in dltut.sweep("logreg", GRID, out_dir=out_dir, backend="serial",
                                        dataset=tiny_mnist, **FIXED) if r.run_id == ended.run_id]
    assert [getattr(redone, n) for n in NUMBERS] == [getattr(ended, n) for n in NUMBERS]
    assert redone.history == ended.history
    with pytest.raises(ValueError, match="was started with other settings.*n_epochs"):
        sweep.plan("logreg", GRID, out_dir=out_dir, dataset=tiny_mnist, **{**FIXED, "n_epochs": 9})


def _bad(tutorial, grid, **options):
    return tutorial, grid, options


@pytest.mark.parametrize("tutorial, grid, options, error, message", [
    (*_bad("logreg", {"batch_szie": [50]}), ValueError,
     "unknown hyperparameter 'batch_szie' in the grid of logreg .* choose among learning_rate, "
     "n_epochs, batch_size, patience, seed"),
    (*_bad("logreg", {"batch_size": []}), ValueError, r"grid\['batch_size'\] is empty"),
    (*_bad("logreg", {"batch_size": ["300"]}), TypeError,
     r"batch_size='300' \(str\): batch_size takes an integer, like its default 600"),
    (*_bad("logreg", {"batch_size": 300}), TypeError, r"must be a list of values, got 300"),
    (*_bad("logreg", {"learning_rate": [0.1, True]}), TypeError, "takes a number"),
    (*_bad("logreg", {"learning_rate": [-0.1]}), ValueError,
     "learning_rate must be a finite number > 0"),
    (*_bad("logreg", {"batch_size": [50, 50]}), ValueError, "batch_size lists 50 twice"),
    (*_bad("logreg", {"batch_size": [500]}), ValueError,
     "batch_size 500 is larger than a split of the data"),
    (*_bad("logreg", {"seed": [1, 2]}), ValueError, "logreg draws nothing"),
    (*_bad("logreg", {"mode": ["c"]}), ValueError, "mode is a setting of the whole sweep"),
    (*_bad("lenet", {"nkerns": [[20]]}), ValueError, "nkerns takes 2 values"),
    (*_bad("lenet", {"nkerns": [[20, 50], (20, 50)]}), ValueError,
     r"nkerns lists \[20, 50\] twice"),
    (*_bad("mlp", {"seed": [1, -2]}), ValueError, "seed must be a finite number >= 0"),
    (*_bad("dA", {"seed": [1]}), ValueError, "cannot sweep 'dA'"),
    (*_bad("logreg", {"batch_size": [50]}, batch_size=100), ValueError,
     "batch_size is both in the grid and fixed"),
    (*_bad("logreg", {}, out="model.npz"), ValueError, "a sweep sets each run's out"),
    (*_bad("logreg", {}, n_epoch=3), ValueError, "unknown hyperparameter 'n_epoch'"),
    (*_bad("logreg", {}, n_epochs="3"), TypeError, "n_epochs takes an integer"),
    (*_bad("logreg", {}, backend="gpu"), ValueError, "unknown backend 'gpu'"),
])
def test_a_bad_grid_is_one_clear_error_before_anything(tiny_mnist, tmp_path, tutorial, grid,
                                                        options, error, message):
    out_dir = tmp_path / "sweep"
    with pytest.raises(error, match=message):
        dltut.sweep(tutorial, grid, out_dir=out_dir, dataset=tiny_mnist, **options)
    assert not out_dir.exists()


@pytensor_only  # the JAX mode
@pytest.mark.parametrize("tutorial, grid, options, message", [
    ("SdA", {"finetune_lr": [0.1, 0.2]}, {}, "not SdA's: leave batched out"),
    ("logreg", {"learning_rate": [0.1, 0.2]}, {"batch_size": 50, "mode": "c"},
     "in JAX mode only, this is mode 'c': use mode='jax'"),
    ("logreg", {"learning_rate": [0.1, 0.2]}, {"batch_size": 50, "mode": "jax", "fused": False},
     "fused spans only"),
])
def test_batched_takes_the_tutorials_fit_group_trains(tiny_mnist, tmp_path, tutorial, grid,
                                                      options, message):
    with pytest.raises(ValueError, match=message):
        dltut.sweep(tutorial, grid, out_dir=tmp_path / "sweep", batched=True, dataset=tiny_mnist,
                    **options)
    assert not (tmp_path / "sweep").exists()


@pytensor_only  # the JAX mode
@pytest.mark.parametrize("tutorial, options, expected", [
    ("logreg", {"mode": "jax"}, True),
    ("mlp", {"mode": "jax", "batched": False}, False),
    ("logreg", {"mode": "c"}, False),
    ("logreg", {"mode": "jax", "fused": False}, False),
    ("SdA", {"mode": "jax"}, False),
])
def test_batched_by_default_where_fit_group_trains(tiny_mnist, tmp_path, tutorial, options,
                                                   expected):
    grid = {"finetune_lr" if tutorial == "SdA" else "learning_rate": [0.1, 0.2]}
    checked = sweep.plan(tutorial, grid, out_dir=tmp_path / "sweep", dataset=tiny_mnist,
                         batch_size=50, **options)
    assert checked.batched is expected
    assert not (tmp_path / "sweep").exists()


@pytensor_only  # the JAX mode
@pytest.mark.parametrize("flag, rates, run_ids", [
    ("--no-batched", ["0.1"], ["default"]),  # one run: no grid
    ("--batched", ["0.1", "0.2"], ["learning_rate=0.1", "learning_rate=0.2"]),  # one group
])
def test_a_pool_of_one_task_runs_it_in_this_process(tiny_mnist, tmp_path, caplog, monkeypatch,
                                                    flag, rates, run_ids):
    """One task (a run alone, or one group) runs here, no process, and the bar watches each
    run's validations."""
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool for one task")

    watched = []
    monkeypatch.setattr(sweep, "ProcessPoolExecutor", no_pool)
    monkeypatch.setattr(progress.SweepBar, "watch", lambda bar, run_id: lambda validation:
                        watched.append((run_id, validation.epoch)))
    caplog.set_level(logging.INFO, logger="dltut.sweep")
    assert main(["sweep", "logreg", "--learning-rate", *rates, "--batch-size", "50",
                 "--n-epochs", "1", "--mode", "jax", flag, "--dataset", str(tiny_mnist),
                 "--out-dir", str(tmp_path / "sweep")]) == 0
    assert ("(pool backend, batched)" in caplog.text) == (flag == "--batched")
    assert sorted(watched) == [(run_id, 1) for run_id in run_ids]
    for run_id in run_ids:
        assert (tmp_path / "sweep" / run_id / "result.json").exists()


def test_batched_hands_groups_of_equal_shapes_to_fit_group(lr_sweep, tiny_mnist, tmp_path,
                                                           monkeypatch):
    """Each group of runs of one batch size goes to ``dltut.batched.fit_group`` (here a stand-in
    running them one by one, in the C mode of ``lr_sweep``), and what it returns is recorded as
    the runs' results."""
    calls = []

    def fit_group(tutorial, runs, dataset=None, outs=None, checkpoints=None, resume=None,
                  **options):
        callbacks = options.pop("callbacks", ())  # each called as callback(run, validation)
        calls.append((tutorial, runs, options))
        assert resume == [None] * len(runs)  # a new sweep: no checkpoints yet
        return [dltut.sgd_optimization_mnist(
                    dataset=dataset, out=out, checkpoint=checkpoint, **run,
                    **{**options, "mode": "c"}, callbacks=[functools.partial(callback, index)
                                                           for callback in callbacks])
                for index, (run, out, checkpoint) in enumerate(zip(runs, outs, checkpoints))]

    stand_in = types.ModuleType("dltut.batched")
    stand_in.fit_group, stand_in.shape_key = fit_group, batched.shape_key
    stand_in.TUTORIALS, stand_in.check_options = batched.TUTORIALS, batched.check_options
    stand_in.__spec__ = importlib.machinery.ModuleSpec("dltut.batched", None)
    monkeypatch.setitem(sys.modules, "dltut.batched", stand_in)
    monkeypatch.setattr(dltut, "batched", stand_in, raising=False)
    _, serial = lr_sweep
    results = dltut.sweep("logreg", GRID, out_dir=tmp_path / "batched", backend="serial",
                          batched=True, dataset=tiny_mnist, **{**FIXED, "mode": "jax"})
    assert [[run["batch_size"] for run in runs] for _, runs, _ in calls] == [[50, 50], [100, 100]]
    assert calls[0][2] == {"floatX": engine.floatX(), "mode": "jax"}
    assert all((run["n_epochs"], run["patience"]) == (8, 30)
               for _, runs, _ in calls for run in runs)
    for result, same in zip(results, serial):
        assert result.run_id == same.run_id
        assert [getattr(result, n) for n in NUMBERS] == [getattr(same, n) for n in NUMBERS]


def test_command_line_bad_grid_exits_2(tiny_mnist, tmp_path, capsys):
    assert main(["sweep", "logreg", "--seed", "1", "2", "--dataset", str(tiny_mnist),
                 "--out-dir", str(tmp_path / "sweep")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "dltut sweep logreg: error: seed 1: logreg draws nothing (its weights start at zero), "
        "so every seed gives the same run; drop seed from the sweep"]  # one line, no usage
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "logreg", "--batch-size", "abc"])
    assert exited.value.code == 2
    assert not (tmp_path / "sweep").exists()


def test_groups_of_equal_shapes():
    runs = [{"batch_size": 50, "learning_rate": 0.1}, {"batch_size": 100, "learning_rate": 0.1},
            {"batch_size": 50, "learning_rate": 0.5}, {"learning_rate": 0.2}]
    assert sweep.groups("logreg", runs) == [[runs[0], runs[2]], [runs[1]], [runs[3]]]
    mlp = [{"n_hidden": 10}, {"n_hidden": 20, "seed": 1}, {"n_hidden": 10, "seed": 2}]
    assert sweep.groups("mlp", mlp) == [[mlp[0], mlp[2]], [mlp[1]]]


def _ray_sweep(tmp_path, out_dir, *flags):
    """``dltut sweep logreg FLAGS --backend ray --workers 2`` in a process of its own (this one
    runs JAX, and Ray starts its processes by fork: JAX warns of a deadlock), which must not
    warn so either: the sweep's process never starts JAX."""
    done = subprocess.run([sys.executable, "-m", "dltut", "sweep", "logreg", *map(str, flags),
                           "--backend", "ray", "--workers", "2", "--out-dir", str(out_dir)],
                          env=dict(os.environ, PYTHONPATH=ROOT), cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "os.fork() was called" not in done.stderr


def test_a_local_ray_with_two_cpus(lr_sweep, tiny_mnist, tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'dltut[ray]'")
    _, serial = lr_sweep
    _ray_sweep(tmp_path, tmp_path / "ray", "--learning-rate", 0.13, "--batch-size", 50, 100,
               "--n-epochs", 8, "--patience", 30, "--mode", "c", "--dataset", tiny_mnist)
    # read back (every run done: none runs here)
    results = dltut.sweep("logreg", {"batch_size": [50, 100]}, out_dir=tmp_path / "ray",
                          backend="serial", dataset=tiny_mnist, learning_rate=0.13, **FIXED)
    for result, same in zip(results, serial[:2]):
        assert result.settings["batch_size"] == same.settings["batch_size"]
        assert [getattr(result, n) for n in NUMBERS] == [getattr(same, n) for n in NUMBERS]
    run = json.loads((tmp_path / "ray" / results[0].run_id / "run.json").read_text())
    assert run["call"]["engine"] == "pytensor"


@pytensor_only
@pytest.mark.parametrize("backend", ["pool", "ray"])
def test_batched_groups_as_pool_or_ray_tasks(backend, tiny_mnist, tmp_path):
    """With ``batched=True`` each group of equal shapes is one task (a pool process, a Ray task)
    training its runs together (``fit_group``'s line in each run's log), and each run's numbers
    are its solo run's."""
    fixed = {**FIXED, "mode": "jax"}
    if backend == "ray":  # in a process of its own (see _ray_sweep), then read back here
        pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'dltut[ray]'")
        _ray_sweep(tmp_path, tmp_path / backend, "--batched", "--dataset", tiny_mnist,
                   *(item for name, values in {**GRID, **fixed}.items()
                     for item in (f"--{name.replace('_', '-')}",
                                  *(values if isinstance(values, list) else [values]))))
    results = dltut.sweep("logreg", GRID, out_dir=tmp_path / backend, backend=backend,
                          batched=True, workers=2, dataset=tiny_mnist, **fixed)
    for result in results:
        log_text = (tmp_path / backend / result.run_id / "log.txt").read_text()
        assert "... building 2 logreg models" in log_text
        solo = dltut.sgd_optimization_mnist(dataset=tiny_mnist, **fixed, **result.settings)
        assert [getattr(result, n) for n in NUMBERS] == [getattr(solo, n) for n in NUMBERS]
        assert result.history == solo.history


def test_a_group_takes_every_option_a_sweep_passes_on():
    """What a sweep passes on to its runs (``fitting.Options`` less what it sets per run),
    ``fit_group`` takes too: a batched sweep drops none of them."""
    assert set(sweep.RUN_OPTIONS) <= set(batched.OPTIONS)
    assert set(sweep.RUN_OPTIONS) | set(sweep.SET_PER_RUN) == {
        field.name for field in dataclasses.fields(fitting.Options)}


@pytensor_only
def test_a_sweep_killed_midway_goes_on_with_only_the_unfinished_runs(tiny_mnist, tmp_path,
                                                                     caplog):
    """Killed (SIGKILL) while its second run trains (after its first checkpoint, 10 epochs in);
    started again, it leaves the first run alone, resumes the second from its checkpoint, and
    its table is that of a sweep never killed."""
    args = ["sweep", "logreg", "--learning-rate", "0.05", "0.1", "--batch-size", "50",
            "--n-epochs", "100", "--patience", "100000", "--checkpoint-every", "10",
            "--mode", "c", "--backend", "serial", "--dataset", str(tiny_mnist)]
    out_dir = tmp_path / "killed"
    first, second = (out_dir / f"learning_rate={lr}" for lr in ("0.05", "0.1"))
    process = subprocess.Popen([sys.executable, "-m", "dltut", *args, "--out-dir", str(out_dir)],
                               env=dict(os.environ, PYTHONPATH=ROOT), cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (second / "checkpoint.npz").exists() and process.poll() is None:
            assert time.monotonic() < deadline, "the second run wrote no checkpoint"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        stderr = process.communicate()[1]
    assert process.returncode == -signal.SIGKILL, stderr
    assert (first / "result.json").exists() and not (second / "result.json").exists()
    kept = {path: path.stat().st_mtime_ns for path in (first / "result.json", first / "log.txt")}

    caplog.set_level(logging.INFO, logger="dltut.sweep")
    assert main([*args, "--out-dir", str(out_dir)]) == 0  # started again
    assert f"{first.name}: done before" in caplog.text
    assert f"{second.name}: done before" not in caplog.text
    assert {path: path.stat().st_mtime_ns for path in kept} == kept
    assert "... resuming from" in (second / "log.txt").read_text()
    assert (second / "result.json").exists()

    whole = tmp_path / "whole"
    assert main([*args, "--out-dir", str(whole)]) == 0
    assert _table(out_dir) == _table(whole)


def _table(out_dir):
    """results.csv without the seconds (a resumed run's are its second process's)."""
    with open(out_dir / "results.csv", newline="") as file:
        return [{key: value for key, value in row.items() if key != "seconds"}
                for row in csv.DictReader(file)]


def test_the_sweep_picture(lr_sweep, tmp_path):
    pytest.importorskip("matplotlib", reason="dltut.plots needs matplotlib")
    from dltut.plots import plot_sweep, save_sweep_plot

    _, results = lr_sweep
    # as if the batch sizes were seeds: two columns (the learning rates), two dots each
    settings = [{"learning_rate": r.settings["learning_rate"], "seed": r.settings["batch_size"]}
                for r in results]
    fig = plot_sweep(results, settings)
    curves, strip = fig.axes
    assert [line.get_gid() for line in curves.lines if line.get_gid().startswith("valid")] == \
        [f"validation_{i}" for i in range(4)]
    for i, result in enumerate(results):
        (line,) = [line for line in curves.lines if line.get_gid() == f"validation_{i}"]
        numpy.testing.assert_allclose(line.get_ydata(),
                                      [v.validation_loss * 100 for v in result.history])
        assert result.stop_reason in line.get_label()
        assert f"patience {result.patience}" in line.get_label()
        (stop,) = [line for line in curves.lines if line.get_gid() == f"stop_{i}"]
        assert stop.get_xdata()[0] == result.iterations - 1
        (best,) = [line for line in curves.lines if line.get_gid() == f"best_{i}"]
        assert best.get_xdata()[0] == result.best_iter
    assert [label.get_text() for label in strip.get_xticklabels()] == \
        ["learning_rate=0.13", "learning_rate=0.5"]
    spread = [c for c in strip.collections if str(c.get_gid()).startswith("spread")]
    assert len(spread) == 2
    path = tmp_path / "sweep.png"
    save_sweep_plot(results, path)
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 20_000


def test_the_seed_draws_the_mlp_weights(tiny_mnist, monkeypatch):
    """test_mlp's hidden weights are RandomState(seed)'s draw: 1234's by default."""
    from dltut.tutorials import mlp

    class Built(Exception):
        pass

    real_MLP = mlp.MLP

    def stop_when_built(*args, **kwargs):
        raise Built(real_MLP(*args, **kwargs))

    monkeypatch.setattr(mlp, "MLP", stop_when_built)

    def initial_W(**seed):
        with pytest.raises(Built) as built:
            dltut.test_mlp(dataset=tiny_mnist, n_hidden=20, batch_size=100, **seed)
        return built.value.args[0].hiddenLayer.W.get_value()

    def drawn(seed):
        bound = numpy.sqrt(6.0 / (784 + 20))
        return numpy.random.RandomState(seed).uniform(-bound, bound, (784, 20))

    default, other = initial_W(), initial_W(seed=5)
    numpy.testing.assert_allclose(default, drawn(1234), rtol=1e-6)
    numpy.testing.assert_allclose(other, drawn(5), rtol=1e-6)
    assert not numpy.allclose(default, other)


@pytest.mark.parametrize("entry, tutorial_seed", [
    ("evaluate_lenet5", 23455), ("test_SdA", 89677), ("test_DBN", 123), ("test_dA", 123),
    ("test_cA", 123), ("test_rbm", 123)])
def test_every_entry_point_seeds_its_draws(entry, tutorial_seed, tiny_mnist, tmp_path,
                                           monkeypatch):
    """The first RandomState of each entry point is seeded with ``seed``, by default the
    tutorial's own."""
    class Seeded(Exception):
        pass

    def first_state(seed):
        raise Seeded(seed)

    def seed_used(**seed):
        monkeypatch.setattr(numpy.random, "RandomState", first_state)
        try:
            with pytest.raises(Seeded) as seeded:
                getattr(dltut, entry)(dataset=tiny_mnist, batch_size=100, **seed, **folder)
        finally:
            monkeypatch.undo()
        return seeded.value.args[0]

    folder = {"output_folder": str(tmp_path)} if entry in ("test_dA", "test_cA", "test_rbm") \
        else {}
    assert seed_used() == tutorial_seed
    assert seed_used(seed=7) == 7
    with pytest.raises(ValueError, match="seed must be an integer in"):
        getattr(dltut, entry)(dataset=tiny_mnist, seed=-1)


def test_the_logistic_regressions_draw_nothing(tiny_mnist):
    with pytest.raises(ValueError, match="draws nothing"):
        dltut.sgd_optimization_mnist(dataset=tiny_mnist, seed=1)
    with pytest.raises(ValueError, match="draws nothing"):
        dltut.cg_optimization_mnist(dataset=tiny_mnist, seed=1)


# ----------------------------------------------------------------------------------------------
# SIGTERM, bad flags and hostile run files


def _live_processes(group):
    """The processes of process group ``group`` that have not ended (zombies left out: a
    container's init may never reap an orphan)."""
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as file:
                    fields = file.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":  # pgrp, state
                alive.append(int(entry))
    return alive


@pytensor_only
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the processes in /proc")
def test_sigterm_stops_a_sweep_and_its_workers_within_two_seconds(tiny_mnist, tmp_path):
    """``kill`` (SIGTERM to the sweep's process alone) while two pool workers train: the sweep
    exits 130 with one line within two seconds and no worker is left; the runs keep their
    checkpoints."""
    out_dir = tmp_path / "sweep"
    process = subprocess.Popen(
        [sys.executable, "-m", "dltut", "sweep", "logreg", "--learning-rate", "0.05", "0.1",
         "--batch-size", "50", "--n-epochs", "100000", "--patience", "10000000", "--mode", "c",
         "--workers", "2", "--dataset", str(tiny_mnist), "--out-dir", str(out_dir)],
        env=dict(os.environ, PYTHONPATH=ROOT), cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "stderr.txt", "w"), start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list(out_dir.glob("*/checkpoint.npz")):  # a run trains: an epoch is done
            assert process.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "stderr.txt").read_text()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        status = process.wait(timeout=30)
        took = time.monotonic() - sent
        stragglers = _live_processes(process.pid)
        for _ in range(20):  # the multiprocessing resource tracker ends once its pipes close
            if not stragglers:
                break
            time.sleep(0.05)
            stragglers = _live_processes(process.pid)
    finally:
        for pid in _live_processes(process.pid):
            os.kill(pid, signal.SIGKILL)
    lines = [line for line in (tmp_path / "stderr.txt").read_text().splitlines()
             if line.startswith("dltut sweep")]
    assert status == 130 and took < 2.0, (status, took, lines)
    assert not stragglers, f"processes left: {stragglers}"
    assert len(lines) == 1 and "sweep stopped by SIGTERM" in lines[0] \
        and "run the same sweep again to go on" in lines[0], lines
    from dltut import saving

    for checkpoint in out_dir.glob("*/checkpoint.npz"):  # whole: a killed write leaves none
        saving.load_model(checkpoint)


def test_bad_workers_are_one_line_before_anything(tiny_mnist, tmp_path):
    from hostile import assert_refused, run_dltut

    for workers in (-3, 0):
        refused = run_dltut(["sweep", "logreg", "--learning-rate", 0.1, 0.2, "--workers", workers,
                             "--dataset", tiny_mnist, "--out-dir", tmp_path / "sweep"], tmp_path)
        assert_refused(refused, f"workers {workers}", "positive number of processes")
    assert not (tmp_path / "sweep").exists()


def test_a_read_only_out_dir_is_refused_before_anything(tiny_mnist, tmp_path):
    from hostile import assert_refused, run_dltut_read_only

    refused = run_dltut_read_only(tmp_path / "ro", [
        "sweep", "logreg", "--learning-rate", 0.1, 0.2, "--batch-size", 50, "--dataset",
        tiny_mnist, "--out-dir", tmp_path / "ro" / "sweep"], tmp_path)
    if refused is None:
        pytest.skip("no mount namespaces here (unshare)")
    assert_refused(refused, f"out_dir {tmp_path / 'ro' / 'sweep'}", "Read-only file system")


def _result(lr_sweep, tmp_path):
    """A copy of ``lr_sweep``'s finished sweep, and the path of its first run's files."""
    import shutil

    out_dir = tmp_path / "copy"
    shutil.copytree(lr_sweep[0], out_dir)
    return out_dir, out_dir / lr_sweep[1][0].run_id


def _json_edit(path, change):
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


@pytest.mark.parametrize("name, spoil, message", [
    ("result.json", lambda path: path.write_text('{"run": '), "not readable as JSON"),
    ("result.json", lambda path: path.write_text("[" * 100_000), "nested too deeply"),
    ("result.json", lambda path: path.write_text("[1, 2]"), "a JSON list"),
    ("result.json", lambda path: _json_edit(path, lambda r: r.update(settings={"seed": 1})),
     "settings {'seed': 1}"),
    ("result.json", lambda path: _json_edit(path, lambda r: r.update(epochs="8")), "epochs '8'"),
    ("result.json", lambda path: _json_edit(path, lambda r: r.pop("history")), "no history"),
    ("result.json", lambda path: _json_edit(path, lambda r: r.update(extra=1)),
     "fields ['extra'] unknown"),
    ("result.json", lambda path: _json_edit(path, lambda r: r["history"].append({"iter": -1})),
     "history[8]"),
    ("run.json", lambda path: path.write_text('"call"'), "not a run.json of a dltut sweep"),
    ("run.json", lambda path: _json_edit(path, lambda r: r.pop("call")),
     "not a run.json of a dltut sweep"),
    ("model.npz", lambda path: path.write_bytes(b"PK\x03\x04 not a zip"), ""),  # saving's
    ("checkpoint.npz", lambda path: (path.write_bytes(b"garbage"),
                                     (path.parent / "result.json").unlink()), ""),
])
def test_hostile_run_files_are_one_error_naming_the_file(lr_sweep, tiny_mnist, tmp_path, name,
                                                         spoil, message):
    """What a sweep started again reads back, spoilt: one ValueError naming the file, before
    anything runs or is written."""
    out_dir, run = _result(lr_sweep, tmp_path)
    spoil(run / name)
    before = {path: path.stat().st_mtime_ns for path in out_dir.rglob("*")}
    with pytest.raises(ValueError, match=re.escape(str(run / name)) + ".*" + re.escape(message)):
        dltut.sweep("logreg", GRID, out_dir=out_dir, backend="serial", dataset=tiny_mnist,
                    **FIXED)
    assert {path: path.stat().st_mtime_ns for path in out_dir.rglob("*")} == before


def test_a_hostile_result_file_on_the_command_line(lr_sweep, tiny_mnist, tmp_path):
    from hostile import assert_refused, run_dltut

    out_dir, run = _result(lr_sweep, tmp_path)
    (run / "result.json").write_text('{"run": [')
    refused = run_dltut(["sweep", "logreg", "--learning-rate", 0.13, 0.5, "--batch-size", 50, 100,
                         "--n-epochs", 8, "--patience", 30, "--mode", "c", "--backend", "serial",
                         "--dataset", tiny_mnist, "--out-dir", out_dir], tmp_path)
    assert_refused(refused, str(run / "result.json"), "not readable as JSON",
                   f"delete it to run {run.name} again")
