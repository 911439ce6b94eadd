"""The first epoch of the MLP, LeNet and dA tutorials on the full MNIST split prints, in every mode,
the numbers the original code prints.

The originals were run on theano-pymc 1.1.2 (.ci/theano-env.sh's environment, six added) from
lisa-lab/DeepLearningTutorials' code/mlp.py and code/convolutional_mlp.py as they are, on the
tutorial's mnist.pkl.gz rebuilt from the shipped IDX files (dltut.data.load_data, float32 x,
int64 y, pickled), with THEANO_FLAGS=floatX=float32 or floatX=float64 and
``test_mlp(n_epochs=1)`` / ``evaluate_lenet5(n_epochs=1)``. dA.py ran there as it is but for its
import of ``MRG_RandomStreams``, which theano-pymc names ``MRG_RandomStream``, with floatX=float64
and ``test_dA(training_epochs=2, dataset=mnist.pkl.gz)``. logistic_cg.py and cA.py ran there as
they are (from a copy of code/, beside its logistic_sgd.py and utils.py; scipy 1.11.4, where dltut
has scipy 1.17), with THEANO_FLAGS=floatX=float64 OPENBLAS_NUM_THREADS=1 and
``cg_optimization_mnist(n_epochs=10, mnist_pkl_gz=mnist.pkl.gz)`` /
``test_cA(training_epochs=1, dataset=mnist.pkl.gz)``.
"""

import logging

import pytest

import dltut
from conftest import available_modes

# (floatX, tutorial) -> (validation error, test error of the best model) after epoch 1, as printed
ORIGINAL = {
    ("float32", "mlp"): ("9.620000", "10.090000"),
    ("float64", "mlp"): ("9.620000", "10.090000"),
    ("float32", "lenet"): ("9.230000", "9.520000"),
}
RUN = {
    "mlp": lambda **options: dltut.test_mlp(n_epochs=1, **options),
    "lenet": lambda **options: dltut.evaluate_lenet5(n_epochs=1, **options),
}
N_BATCHES = {"mlp": 2500, "lenet": 100}


@pytest.mark.slow
@pytest.mark.parametrize("mode", available_modes())
@pytest.mark.parametrize("floatX, tutorial", sorted(ORIGINAL))
def test_first_epoch_prints_the_original_numbers(floatX, tutorial, mode, caplog):
    with caplog.at_level(logging.INFO, logger="dltut"):
        RUN[tutorial](floatX=floatX, mode=mode)
    valid, test = ORIGINAL[floatX, tutorial]
    n = N_BATCHES[tutorial]
    lines = [record.getMessage() for record in caplog.records]
    assert f"epoch 1, minibatch {n}/{n}, validation error {valid} %" in lines
    assert f"     epoch 1, minibatch {n}/{n}, test error of best model {test} %" in lines


# dA.py, floatX=float64: the mean cost of epoch 0 without and with 30 % corruption, as printed
ORIGINAL_DA_COSTS = (63.28916942011223, 81.76498578165103)


@pytest.mark.slow
@pytest.mark.parametrize("mode", available_modes())
def test_dA_first_epoch_costs_are_the_original_ones(mode, tmp_path):
    runs = dltut.test_dA(training_epochs=1, floatX="float64", mode=mode, output_folder=tmp_path)
    for run, original in zip(runs, ORIGINAL_DA_COSTS):
        assert run.costs[0] == pytest.approx(original, rel=1e-12, abs=0)


# logistic_cg.py, floatX=float64, n_epochs=10: the callback's validation errors, then the best
# validation error and its test error, as printed
ORIGINAL_CG_VALIDATION = ("29.989583", "24.656250", "20.833333", "16.979167", "14.291667",
                          "14.239583", "13.166667", "12.281250", "11.739583", "11.531250")
ORIGINAL_CG_BEST = ("11.531250", "11.635417")


@pytest.mark.slow
@pytest.mark.parametrize("mode", [m for m in ("c", "jax") if m in available_modes()])
def test_logistic_cg_prints_the_original_numbers(mode, caplog):
    with caplog.at_level(logging.INFO, logger="dltut"):
        result = dltut.cg_optimization_mnist(n_epochs=10, floatX="float64", mode=mode)
    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if line.startswith("validation error")] == \
        [f"validation error {error} %" for error in ORIGINAL_CG_VALIDATION]
    valid, test = ORIGINAL_CG_BEST
    assert f"Optimization complete with best validation score of {valid} %, with test " \
        f"performance {test} %" in lines
    assert result.best_iter == 10


# cA.py, floatX=float64, training_epochs=1: its epoch line (minibatch 0's two costs averaged, the
# square roots of minibatch 1's averaged: see dltut.tutorials.cA)
ORIGINAL_CA_LINE = (589.3672383224493, 20.999259101134292)


@pytest.mark.slow
def test_cA_first_epoch_line_is_the_original_one(tmp_path):
    run = dltut.test_cA(training_epochs=1, floatX="float64", output_folder=tmp_path)
    assert run.logged[0] == pytest.approx(ORIGINAL_CA_LINE, rel=1e-12, abs=0)
