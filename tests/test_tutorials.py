"""The tutorials end to end: small runs in every mode, the scripts, and the published result."""

import logging

import numpy
import pytest

import dltut
from conftest import available_modes, in_every_mode, run_script
from dltut import data, engine, registry, saving
from dltut.tutorials.mlp import mlp_regularizer
from dltut.engine import T


def _messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name.startswith("dltut")]


def test_logreg_small_run(tiny_mnist, tmp_path, mode, caplog):
    out = tmp_path / "logreg.npz"
    with caplog.at_level(logging.INFO):
        result = dltut.sgd_optimization_mnist(n_epochs=3, dataset=tiny_mnist, batch_size=100,
                                              out=out, floatX="float64")
    lines = _messages(caplog)
    assert lines[:3] == ["... loading data", "... building the model", "... training the model"]
    assert any(line.startswith("epoch 3, minibatch 6/6, validation error") for line in lines)
    assert any(line.startswith("Optimization complete with best validation score of") for line in lines)
    assert result.epochs == 3 and result.iterations == 18 and len(result.history) == 3
    # the saved model predicts what the best model predicts, and scores its test error
    model = saving.load_model(out)
    assert model.info["best_iter"] == result.best_iter
    _, _, (test_x, test_y) = data.load_data(tiny_mnist)
    predicted = model.predict(test_x)
    assert numpy.mean(predicted != test_y) == pytest.approx(result.test_score)


def _depends_on(variable, target):
    stack = [variable]
    while stack:
        variable = stack.pop()
        if variable is target:
            return True
        if variable.owner is not None:
            stack.extend(variable.owner.inputs)
    return False


@pytest.mark.parametrize("L1_reg, L2_reg", [(0.0, 0.0), (0.01, 0.0), (0.0, 0.0001), (0.01, 0.0001)])
def test_mlp_regularizer_is_the_tutorial_cost_without_zero_terms(floatX64, L1_reg, L2_reg):
    mlp = registry.build({"model": "mlp", "n_in": 5, "n_hidden": 4, "n_out": 3},
                       numpy.random.RandomState(0), T.matrix("x"))
    nll = T.scalar("nll")
    cost = mlp_regularizer(L1_reg, L2_reg)(mlp, nll)
    assert _depends_on(cost, mlp.L1) == (L1_reg != 0)
    assert _depends_on(cost, mlp.L2_sqr) == (L2_reg != 0)
    W = [mlp.hiddenLayer.W.get_value(), mlp.logRegressionLayer.W.get_value()]
    expected = (1.5 + L1_reg * sum(numpy.abs(w).sum() for w in W)
                + L2_reg * sum((w ** 2).sum() for w in W))
    assert engine.function([nll], cost)(1.5) == pytest.approx(expected, rel=1e-12)


def test_mlp_small_run_is_the_same_in_every_mode(tiny_mnist, tmp_path, floatX64):
    runs = in_every_mode(lambda mode: dltut.test_mlp(
        n_epochs=2, dataset=tiny_mnist, batch_size=20, n_hidden=30, out=tmp_path / f"mlp_{mode}.npz"))
    reference = runs["c"]
    assert reference.iterations == 60 and [v.iter for v in reference.history] == [29, 59]
    for mode, result in runs.items():
        numpy.testing.assert_allclose(result.costs, reference.costs, rtol=1e-9, err_msg=mode)
        assert [v.validation_loss for v in result.history] == \
            [v.validation_loss for v in reference.history], mode


def test_logreg_script_train_and_predict(tiny_mnist, tmp_path):
    run = run_script("logreg.py", "--n-epochs", "2", "--batch-size", "100", "--dataset",
                  str(tiny_mnist), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "epoch 2, minibatch 6/6, validation error" in run.stdout
    assert "The code run for 2 epochs" in run.stdout
    assert (tmp_path / "out" / "logreg.npz").is_file()
    run = run_script("logreg.py", "predict", "--count", "7", "--dataset", str(tiny_mnist), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Predicted values for the first 7 examples in test set:" in run.stdout
    labels = run.stdout.strip().splitlines()[-1].strip("[]").split()
    assert len(labels) == 7 and all(label in "0123456789" for label in labels)


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "700"], "batch_size 700 is larger than the training set (600 examples)"),
    (["--learning-rate", "-1"], "learning_rate must be positive, got -1.0"),
    (["--n-epochs", "0"], "n_epochs must be an integer >= 1, got 0"),
    (["--dataset", "nowhere.npz"], "nowhere.npz: no such file or directory"),
])
def test_script_bad_settings(tiny_mnist, tmp_path, args, message):
    if "--dataset" not in args:
        args = args + ["--dataset", str(tiny_mnist)]
    run = run_script("logreg.py", *args, cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "logreg.npz").exists()


def test_predict_without_model(tmp_path):
    run = run_script("logreg.py", "predict", cwd=tmp_path)
    assert run.returncode == 2 and "no such model file" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("floatX, mode", [("float64", None), ("float32", None),
                                          ("float32", "jax")])
def test_logreg_reproduces_the_published_run(floatX, mode, caplog):
    """logistic_sgd.py's published result: 7.500000 % / 7.489583 % after 74 epochs; in the
    engine's default mode, and in JAX mode (fused, the data placed on JAX's device: the GPU path)."""
    if mode is not None and mode not in available_modes():
        pytest.skip(f"mode {mode} not available on this engine")
    with caplog.at_level(logging.INFO):
        result = dltut.sgd_optimization_mnist(floatX=floatX, mode=mode or engine.mode())
    assert "epoch 1, minibatch 83/83, validation error 12.458333 %" in _messages(caplog)
    assert "%f" % (result.best_validation_loss * 100) == "7.500000"
    assert "%f" % (result.test_score * 100) == "7.489583"
    assert result.epochs == 74 and result.stop_reason == "patience"
