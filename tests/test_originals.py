"""The first epoch of the MLP, LeNet, dA and RBM tutorials on the full MNIST split prints, in
every mode, the numbers the original code prints; the HMC sampler draws what the original's
test_hmc draws.

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
``test_cA(training_epochs=1, dataset=mnist.pkl.gz)``. SdA.py ran there beside dA.py, mlp.py and
logistic_sgd.py, their imports of ``MRG_RandomStreams`` renamed, with floatX=float64,
OPENBLAS_NUM_THREADS=1 and the original test's settings ``test_SdA(pretraining_epochs=1,
training_epochs=1, batch_size=300, dataset=mnist.pkl.gz)``; a copy of it that also printed the
``repr`` of each mean it prints gave the full digits below. rbm.py ran as dA.py did (the same
import changed; theano-pymc's Python scan, as its Cython scan does not build on Python 3.11),
with floatX=float64 and the original test's small settings, ``test_rbm(training_epochs=1,
batch_size=300, n_chains=1, n_samples=1, n_hidden=20, dataset=mnist.pkl.gz)``; its two pictures
were read back with PIL and hashed. DBN.py ran as SdA.py did, beside rbm.py, with
``test_DBN(pretraining_epochs=1, training_epochs=1, batch_size=300, dataset=mnist.pkl.gz)``.
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
    if (tutorial, mode) == ("lenet", "numba"):
        pytest.skip("two minutes in Numba mode; LeNet's small run there is the other modes' "
                    "(test_convolutional_mlp.py)")
    if (floatX, tutorial) == ("float32", "mlp") and mode != "jax":
        pytest.skip("CI time: the MLP in float32 in the default mode; float64 in every mode")
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
def test_dA_first_epoch_costs_are_the_original_ones(tmp_path):
    # the default mode only: the modes agree with one another in test_dA.py
    runs = dltut.test_dA(training_epochs=1, floatX="float64", output_folder=tmp_path)
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
# test_hmc.py's run on theano-pymc (see test_hmc_draws_are_the_original_ones), to 17 digits
ORIGINAL_HMC_FIRST_DRAWS = [
    [[-0.12956446111224373, -0.894290294056933, -0.24691938699980556, -2.783091762046705,
      -1.7936415512676847],
     [-0.6915729110655353, 0.9338904523677151, -0.1937317070930311, -0.009965449244570943,
      0.677769142094241],
     [-0.8631450686969017, 0.276977868982133, -0.810087662328708, -1.73404321715511,
      -0.4097744188553542]],
    [[-0.11220653328807907, -0.8896414411727313, -0.2355897049332606, -2.7934766462836684,
      -1.783216376775294],
     [-0.7387935726792851, 0.9502273397638232, -0.18691582376305432, 0.004702928566828623,
      0.6785622470093311],
     [-0.8935788752661998, 0.27893504025248106, -0.8147094828910965, -1.766253670926537,
      -0.38531817413018005]],
    [[-0.13393057556689916, -0.8687509218408815, -0.25282250774137854, -2.7968723523749803,
      -1.7813880996907328],
     [-0.7208174721558919, 0.9494752005753587, -0.23046264774508401, -0.029090762484498975,
      0.6664265943961931],
     [-0.8233936076603792, 0.2749535581668374, -0.85037158449439, -1.7630304958475098,
      -0.4078856976419785]],
]
ORIGINAL_HMC_EMPIRICAL_MEAN = [6.947451588887587, 2.8267865412506374, 2.2515840788079426,
                               5.518335865686471, 7.20614027558165]
ORIGINAL_HMC_EMPIRICAL_COV_DIAGONAL = [1.0044303847349834, 0.9768731295911374, 1.0384901510402844,
                                       1.0512421443685942, 0.9919605523028807]
ORIGINAL_HMC_FINAL = (0.43232963747751657, 0.9151492258633982)  # step size, acceptance rate


@pytest.mark.slow
@pytest.mark.parametrize("mode", available_modes())
def test_hmc_draws_are_the_original_ones(mode):
    """test_hmc draws what the original's draws: its first three draws, the mean and variances of
    the 3,000 samples kept and the final step size and acceptance rate, to 1e-12 relative.

    The original: code/hmc/hmc.py and test_hmc.py copied as they are but for hmc.py's import of
    ``MRG_RandomStreams``, which theano-pymc names ``MRG_RandomStream``; run on theano-pymc 1.1.2
    (.venv-theano, C mode, THEANO_FLAGS=floatX=float64, OPENBLAS_NUM_THREADS=1) by a script that
    set ``sys.modules["theano.scan.scan_perform_ext"] = None`` before importing theano (as
    dltut.engine does: the Cython scan does not build on Python 3.11), wrapped each
    ``sampler.draw()`` to keep its positions and called ``sampler_on_nd_gaussian(...,
    burnin=1000, n_samples=1000, dim=5)`` as test_hmc does. Compared over all 2,000 draws,
    dltut's are the same bits in the C mode and within 1e-12 relative in the Numba and JAX modes
    (log, sin and cos an ulp apart). doc/hmc.txt publishes a run on a much older Theano that
    theano-pymc does not reproduce either: final step size 0.4604 and acceptance rate 0.9225
    there, 0.4323 and 0.9151 here.
    """
    run = dltut.test_hmc(floatX="float64", mode=mode)
    numpy.testing.assert_allclose(run.draws[:3], ORIGINAL_HMC_FIRST_DRAWS, rtol=1e-12)
    numpy.testing.assert_allclose(run.samples.mean(axis=0), ORIGINAL_HMC_EMPIRICAL_MEAN,
                                  rtol=1e-12)
    numpy.testing.assert_allclose(numpy.diag(numpy.cov(run.samples.T)),
                                  ORIGINAL_HMC_EMPIRICAL_COV_DIAGONAL, rtol=1e-11)
    assert (run.stepsizes[-1], run.acceptance_rates[-1]) == \
        pytest.approx(ORIGINAL_HMC_FINAL, rel=1e-12, abs=0)


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
def test_rbm_small_run_prints_the_original_cost_and_draws_its_pictures(tmp_path, caplog):
    # the default mode only: the modes agree with one another in test_rbm.py
    with caplog.at_level(logging.INFO, logger="dltut"):
        run = dltut.test_rbm(training_epochs=1, batch_size=300, n_chains=1, n_samples=1,
                             n_hidden=20, floatX="float64", output_folder=tmp_path)
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


# SdA.py and DBN.py, floatX=float64, pretraining_epochs=1, training_epochs=1, batch_size=300: each
# layer's mean pretraining cost, then the validation and test errors after the one fine-tuning
# epoch (their repr, from a copy of each printing them)
ORIGINAL_STACKED = {
    "SdA": ((194.5161492026235, 695.4876343305924, 529.058439830087),
            (0.1484848484848485, 0.15727272727272726),
            ("Pre-training layer 2, epoch 0, cost 529.058440",
             "     epoch 1, minibatch 166/166, test error of best model 15.727273 %")),
    "DBN": ((-165.613036644063, -620.4213006128427, -134.3891835013716),
            (0.28181818181818186, 0.30090909090909096),
            ("epoch 1, minibatch 166/166, validation error 28.181818 %",)),
}


@pytest.mark.slow
@pytest.mark.parametrize("tutorial", sorted(ORIGINAL_STACKED))
def test_stacked_small_run_is_the_original_one(tutorial, caplog):
    # the default mode only (the modes agree on small data in test_SdA and test_DBN): a run of
    # the three 1000-unit layers takes minutes in each mode
    run = dltut.test_SdA if tutorial == "SdA" else dltut.test_DBN
    with caplog.at_level(logging.INFO, logger="dltut"):
        result = run(pretraining_epochs=1, training_epochs=1, batch_size=300, floatX="float64")
    costs, errors, printed = ORIGINAL_STACKED[tutorial]
    for layer, original in zip(result.pretraining_costs, costs):
        assert layer[0] == pytest.approx(original, rel=1e-12, abs=0)
    assert (result.best_validation_loss, result.test_score) == \
        pytest.approx(errors, rel=1e-12, abs=0)
    lines = [record.getMessage() for record in caplog.records]
    for line in printed:
        assert line in lines
