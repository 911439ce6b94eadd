"""The first epoch of the MLP, LeNet, dA and RBM tutorials on the full MNIST split prints, in every
mode, the numbers the original code prints.

The originals were run on theano-pymc 1.1.2 (.ci/theano-env.sh's environment, six added) from
lisa-lab/DeepLearningTutorials' code/mlp.py and code/convolutional_mlp.py as they are, on the
tutorial's mnist.pkl.gz rebuilt from the shipped IDX files (dltut.data.load_data, float32 x,
int64 y, pickled), with THEANO_FLAGS=floatX=float32 or floatX=float64 and
``test_mlp(n_epochs=1)`` / ``evaluate_lenet5(n_epochs=1)``. dA.py ran there as it is but for its
import of ``MRG_RandomStreams``, which theano-pymc names ``MRG_RandomStream``, with floatX=float64
and ``test_dA(training_epochs=2, dataset=mnist.pkl.gz)``. rbm.py ran alike (the same import
changed; theano-pymc's Python scan, as its Cython scan does not build on Python 3.11), with
floatX=float64 and the original test's small settings, ``test_rbm(training_epochs=1,
batch_size=300, n_chains=1, n_samples=1, n_hidden=20, dataset=mnist.pkl.gz)``; its two pictures
were read back with PIL and hashed.
"""

import hashlib
import logging

import numpy
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


# rbm.py, floatX=float64, the original test's small settings: the mean cost of epoch 0, as
# printed, and the sha256 of the pixels of filters_at_epoch_0.png and samples.png
ORIGINAL_RBM_COST = -88.7215017688042
ORIGINAL_RBM_PICTURES = {
    "filters": "243cbc2389c03790d682c3ce58a5cb6797d3e14bbf17def3dd51a002e7bad86d",
    "samples": "84e8c8796a60d4e49ffe266f323d28a6257f7cdc27340942ff8c446967655c49",
}


def _original_tiles(X, tile_shape):
    """The original utils.tile_raster_images for 28x28 images: each tile scaled by the reciprocal
    of its range and truncated to uint8 (dltut.plots rounds, so its pixels differ by up to 1)."""
    out = numpy.zeros((29 * tile_shape[0] - 1, 29 * tile_shape[1] - 1), dtype=numpy.uint8)
    for index, row in enumerate(X[:tile_shape[0] * tile_shape[1]]):
        tile = row.reshape(28, 28) - row.min()
        tile *= 1.0 / (tile.max() + 1e-8)
        top, left = 29 * (index // tile_shape[1]), 29 * (index % tile_shape[1])
        out[top:top + 28, left:left + 28] = tile * 255
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mode", available_modes())
def test_rbm_small_run_prints_the_original_cost_and_draws_its_pictures(mode, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="dltut"):
        run = dltut.test_rbm(training_epochs=1, batch_size=300, n_chains=1, n_samples=1,
                             n_hidden=20, floatX="float64", mode=mode, output_folder=tmp_path)
    assert run.costs[0] == pytest.approx(ORIGINAL_RBM_COST, rel=1e-9, abs=0)
    assert any(m.startswith("Training epoch 0, cost is  -88.72150176880")
               for m in (record.getMessage() for record in caplog.records))
    # the same pictures: the weights after 166 minibatches of PCD-15, and the visible means after
    # the 1000 Gibbs steps of a chain started at the same test image
    samples = numpy.zeros((30, 28), dtype=numpy.uint8)
    samples[:28] = _original_tiles(run.sample_means[0], (1, 1))
    pictures = {"filters": _original_tiles(numpy.asarray(run.rbm.W.get_value()).T, (10, 10)),
                "samples": samples}
    for name, pixels in pictures.items():
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == ORIGINAL_RBM_PICTURES[name], name
