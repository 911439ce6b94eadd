"""Batched runs: a group trained in lockstep gives each run its solo run's numbers and log lines,
exactly (CPU float64, JAX mode); a stopped run is frozen; runs of other shapes are refused."""

import logging
import os
import signal

import numpy
import pytest

import dltut
from conftest import in_mode
from dltut import data, registry
from dltut import batched
from dltut.batched import fit_group, shape_key
from dltut.compiled import CompiledGroup
from dltut.engine import T

pytest.importorskip("jax")

# small MLP runs on tiny_mnist (30 minibatches of 20 an epoch) whose patience of 20 updates
# validates every 10: a run stops at update 20 unless its second validation is a significant
# gain, and later ones at other updates (checked below: the stops differ). Spans of 10 updates,
# and of 9 before a stop, keep the solo runs' compiles few.
MLP = {"batch_size": 20, "n_hidden": 12, "n_epochs": 4, "patience": 20}
MLP_RUNS = [{**MLP, "learning_rate": learning_rate, "seed": seed}
            for learning_rate in (0.01, 0.1) for seed in (1234, 1, 2, 3)]


def _solo_mlp(run, dataset):
    """The run alone: ``test_mlp`` with the run's seed."""
    return dltut.test_mlp(dataset=dataset, **run)


def _trainer_lines(caplog, run=None):
    """The trainer's log lines (of group run ``run``, or of a solo run)."""
    return [record.getMessage() for record in caplog.records
            if record.name == "dltut.trainer" and getattr(record, "run", None) == run]


def _assert_same_run(got, expected, what):
    for field in ("best_validation_loss", "best_iter", "test_score", "epochs", "iterations",
                  "stop_reason", "patience", "validation_frequency", "n_train_batches"):
        assert getattr(got, field) == getattr(expected, field), f"{what}: {field}"
    assert got.history == expected.history, what
    numpy.testing.assert_array_equal(got.costs, expected.costs, err_msg=what)
    for got_param, expected_param in zip(got.best_params, expected.best_params, strict=True):
        numpy.testing.assert_array_equal(got_param, expected_param, err_msg=what)


def test_mlp_group_equals_the_solo_runs(tiny_mnist, floatX64, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="dltut")
    with in_mode("jax"):
        solo = []
        for run in MLP_RUNS:
            caplog.clear()
            solo.append((_solo_mlp(run, tiny_mnist), _trainer_lines(caplog)))
        caplog.clear()
        outs = [tmp_path / f"run{index}.npz" for index in range(len(MLP_RUNS))]
        group = fit_group("mlp", MLP_RUNS, dataset=tiny_mnist, outs=outs)
    assert len({result.iterations for result, _ in solo}) > 1, "the runs should stop apart"
    for index, (result, (expected, lines)) in enumerate(zip(group, solo)):
        _assert_same_run(result, expected, f"run {index}")
        assert _trainer_lines(caplog, index) == lines, f"run {index}"
        saved = dltut.load_model(outs[index])
        numpy.testing.assert_array_equal(saved.params["W_hidden"], expected.best_params[0])
        assert saved.info["best_iter"] == expected.best_iter


def test_logistic_regression_group_equals_the_solo_runs(tiny_mnist, floatX64, caplog):
    caplog.set_level(logging.INFO, logger="dltut")
    # validated once an epoch (12 minibatches of 50), no patience stop: one span length
    runs = [{"learning_rate": rate, "batch_size": 50, "n_epochs": 3, "patience": 1000}
            for rate in (0.13, 0.5)]
    with in_mode("jax"):
        solo = []
        for run in runs:
            caplog.clear()
            solo.append((dltut.sgd_optimization_mnist(dataset=tiny_mnist, **run),
                         _trainer_lines(caplog)))
        caplog.clear()
        group = fit_group("logreg", runs, dataset=tiny_mnist)
    for index, (result, (expected, lines)) in enumerate(zip(group, solo)):
        _assert_same_run(result, expected, f"run {index}")
        assert _trainer_lines(caplog, index) == lines


def test_a_group_in_several_loops_equals_one_loop(tiny_mnist, floatX64, monkeypatch):
    """Runs split into loops of 3 (3 + 3 + 2) give what one loop of all 8 gives, which
    test_mlp_group_equals_the_solo_runs checks against the solo runs."""
    runs = [{**run, "n_epochs": 2} for run in MLP_RUNS]
    with in_mode("jax"):
        one_loop = fit_group("mlp", runs, dataset=tiny_mnist)
        model_bytes = sum(param.get_value().nbytes for param in one_loop[0].model.params)
        monkeypatch.setattr(batched, "CPU_LOOP_BYTES", 3 * model_bytes + 1)
        assert batched.runs_per_loop([result.model.params for result in one_loop]) == 3
        loops = fit_group("mlp", runs, dataset=tiny_mnist)
    for index, (got, expected) in enumerate(zip(loops, one_loop)):
        _assert_same_run(got, expected, f"run {index}")


def test_a_vmapped_group_equals_the_solo_runs_up_to_rounding(tiny_mnist, floatX64, monkeypatch):
    """A GPU's group (vmap=True: one program of all runs, the model built once), here on the
    CPU: the same validations, stops and best iterations as one exact loop, the costs and
    parameters equal to rounding."""
    runs = [{**run, "n_epochs": 2} for run in MLP_RUNS]
    with in_mode("jax"):
        exact = fit_group("mlp", runs, dataset=tiny_mnist)
        monkeypatch.setattr(batched.engine, "jax_platform", lambda: "gpu")
        built = []
        monkeypatch.setattr(batched, "CompiledGroup", lambda *args, **kwargs: built.append(
            CompiledGroup(*args, **kwargs)) or built[-1])
        vmapped = fit_group("mlp", runs, dataset=tiny_mnist)
    group, = built
    assert len(group.units) == 1 and len(group.units[0][0]) == len(runs)  # one program
    assert [loop.like for loop in group.loops[1:]] == [group.loops[0]] * (len(runs) - 1)
    assert len({result.iterations for result in exact}) > 1, "the runs should stop apart"
    for index, (got, expected) in enumerate(zip(vmapped, exact)):
        for field in ("best_validation_loss", "best_iter", "test_score", "epochs", "iterations",
                      "stop_reason"):
            assert getattr(got, field) == getattr(expected, field), f"run {index}: {field}"
        assert got.history == expected.history
        numpy.testing.assert_allclose(got.costs, expected.costs, rtol=1e-12)
        for got_param, expected_param in zip(got.best_params, expected.best_params, strict=True):
            numpy.testing.assert_allclose(got_param, expected_param, rtol=1e-9, atol=1e-15)


def test_runs_per_loop_keeps_a_cpu_loops_parameters_within_the_budget(floatX64):
    with in_mode("jax"):
        mlp = registry.build({"model": "mlp", "n_in": 784, "n_hidden": 500, "n_out": 10},
                             numpy.random.RandomState(1), T.matrix("x"))
        logreg = registry.build({"model": "logistic_regression", "n_in": 784, "n_out": 10},
                                None, T.matrix("x"))
        # float64: 3.2 MB of MLP parameters a run, 63 KB of logistic regression's
        assert batched.runs_per_loop([mlp.params] * 8) == 1
        assert batched.runs_per_loop([logreg.params] * 8) == 8
        assert batched.runs_per_loop([logreg.params] * 100) == 66


@pytest.mark.parametrize("runs_per_loop", [None, 1, "vmap"])
@pytest.mark.parametrize("training", [0, 1])
def test_a_stopped_run_is_frozen(tiny_mnist, floatX64, runs_per_loop, training):
    """Of two runs, the one ``training`` trains and the other keeps its parameters, in one loop,
    in two (the second then runs the first's compiled programs on its own parameters) or in two
    vmapped as one program."""
    frozen = 1 - training
    with in_mode("jax"):
        datasets = data.load_shared(tiny_mnist)
        x, y = T.matrix("x"), T.ivector("y")
        models = [registry.build({"model": "logistic_regression", "n_in": 784, "n_out": 10},
                                 None, x) for _ in range(2)]
        costs = [model.negative_log_likelihood(y) for model in models]
        group = CompiledGroup(x, y, costs, [model.y_pred for model in models],
                              [model.params for model in models],
                              [0.1, 0.2],
                              datasets, batch_size=50, span_length=4,
                              runs_per_loop=None if runs_per_loop == "vmap" else runs_per_loop,
                              vmap=runs_per_loop == "vmap")
        assert len(group.loops) == (1 if runs_per_loop is None else 2)
        assert group.loops[-1].like is (None if runs_per_loop is None else group.loops[0])
        assert len(group.units) == (2 if runs_per_loop == 1 else 1)
        before = [group.get_run_params(index) for index in range(2)]
        active = numpy.arange(2) == training
        span_costs = group.train_minibatches(0, 6, active)  # 4 + 2 steps
        after = [group.get_run_params(index) for index in range(2)]
    assert span_costs.shape == (6, 2)
    # a loop of frozen runs only is not run
    assert numpy.isnan(span_costs[:, frozen]).all() == (runs_per_loop == 1)
    assert numpy.isfinite(span_costs[:, training]).all()
    for frozen_param, kept in zip(after[frozen], before[frozen]):
        numpy.testing.assert_array_equal(frozen_param, kept)
    assert not numpy.array_equal(after[training][0], before[training][0])


def test_shape_key_groups_runs_of_one_shape():
    base = shape_key("mlp", {"learning_rate": 0.1, "seed": 5, "L2_reg": 0.0, "patience": 7})
    assert base == shape_key("mlp", {})
    assert base != shape_key("mlp", {"n_hidden": 100})
    assert base != shape_key("mlp", {"batch_size": 10})
    assert shape_key("lenet", {"nkerns": [4, 6]}) == shape_key("lenet", {"nkerns": (4, 6)})


@pytest.mark.parametrize("tutorial, runs, options, fragment", [
    ("mlp", [{"n_hidden": 10}, {"n_hidden": 20}], {}, "differ in n_hidden (10 vs 20)"),
    ("logreg", [{"batch_size": 10}, {"batch_size": 20}], {}, "differ in batch_size"),
    ("mlp", [{"learning_rate": 0.1, "momentum": 0.9}], {}, "unknown mlp hyperparameters"),
    ("svm", [{}], {}, "unknown tutorial 'svm'"),
    ("mlp", [], {}, "non-empty list"),
    ("mlp", [{"learning_rate": -1.0}], {}, "learning_rate must be positive"),
    ("mlp", [{"seed": -3}], {}, "seed must be an integer"),
    ("mlp", [{"n_hidden": 0}], {}, "n_hidden must be a positive integer"),
    ("mlp", [{}], {"checkpoint": "c.npz"}, "does not take options ['checkpoint']"),
    ("mlp", [{}], {"fused": False}, "drop fused=False"),
    ("mlp", [{}], {"mode": "c"}, "JAX mode only, this is mode 'c'"),
    ("mlp", [{}, {}], {"checkpoints": ["c.npz"]}, "checkpoints has 1 paths for 2 runs"),
    ("mlp", [{}], {"resume": ["gone.npz"]}, "resume gone.npz: no such checkpoint file"),
])
def test_bad_groups_are_refused_before_anything_runs(tmp_path, tutorial, runs, options, fragment):
    missing = tmp_path / "no-such-data"  # loading it would be another error
    with pytest.raises(ValueError) as error:
        fit_group(tutorial, runs, dataset=missing, **options)
    assert fragment in str(error.value)


def test_outs_must_match_the_runs(tmp_path):
    with pytest.raises(ValueError, match="outs has 1 paths for 2 runs"):
        fit_group("mlp", [{}, {}], dataset=tmp_path / "none", outs=[tmp_path / "a.npz"])


def test_a_group_goes_on_from_its_runs_checkpoints(tiny_mnist, floatX64, tmp_path):
    """A group stopped by SIGINT after its first validation, then resumed with one run's
    checkpoint left out (that run starts over and catches up while the others wait): every run
    ends as in the unbroken group, and each checkpoint is one its solo run resumes from."""
    runs = [MLP_RUNS[1], MLP_RUNS[5], MLP_RUNS[6]]

    def interrupt(index, validation):
        if index == 0 and validation.iter == 9:
            os.kill(os.getpid(), signal.SIGINT)

    paths = [tmp_path / f"run{index}.npz" for index in range(len(runs))]
    with in_mode("jax"):
        unbroken = fit_group("mlp", runs, dataset=tiny_mnist)
        partial = fit_group("mlp", runs, dataset=tiny_mnist, checkpoints=paths,
                            callbacks=[interrupt])
        assert {result.stop_reason for result in partial} == {"interrupted"}
        with pytest.raises(ValueError, match="run0.npz exists: resume it"):
            fit_group("mlp", runs, dataset=tiny_mnist, checkpoints=paths,
                      resume=[None] + paths[1:])
        resumed = fit_group("mlp", runs, dataset=tiny_mnist, checkpoints=paths,
                            resume=[None] + paths[1:], overwrite=True)
        solo = dltut.test_mlp(dataset=tiny_mnist, **runs[2], resume=paths[2])
    assert len({result.iterations for result in unbroken}) > 1
    for index, (got, expected) in enumerate(zip(resumed, unbroken)):
        _assert_same_run(got, expected, f"run {index}")
    _assert_same_run(solo, unbroken[2], "run 2 resumed alone")
