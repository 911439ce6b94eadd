"""DBN: the tutorial's draws, the RBMs' call sites on the one shared stream, small test_DBN runs in
every mode (fused and not) with the tutorial's lines, bad settings (checkpoints and model files:
test_stacked.py)."""

import logging

import numpy
import pytest

import dltut
from conftest import available_modes, in_every_mode, in_mode
from dltut.random import seed_state
from dltut.tutorials.DBN import DBN

SMALL = {"hidden_layers_sizes": (30, 20), "batch_size": 100}


def test_initial_weights_are_the_tutorial_draws(floatX64):
    # the streams' seed, then each sigmoid layer's W (4 times the tanh bound), from one rng
    dbn = DBN(numpy.random.RandomState(123), n_ins=6, hidden_layers_sizes=(5, 4), n_outs=3)
    rng = numpy.random.RandomState(123)
    numpy.testing.assert_array_equal(dbn.theano_rng.rstate, seed_state(rng.randint(2 ** 30)))
    for layer, rbm, (n_in, n_out) in zip(dbn.sigmoid_layers, dbn.rbm_layers, ((6, 5), (5, 4))):
        bound = numpy.sqrt(6.0 / (n_in + n_out))
        numpy.testing.assert_array_equal(layer.W.get_value(),
                                         4 * rng.uniform(-bound, bound, (n_in, n_out)))
        assert rbm.W is layer.W and rbm.hbias is layer.b and rbm.theano_rng is dbn.theano_rng
        assert not rbm.vbias.get_value().any()
    assert [p.name for p in dbn.params] == ["W_sigmoid0", "b_sigmoid0", "W_sigmoid1",
                                            "b_sigmoid1", "W_logreg", "b_logreg"]
    assert [rbm.vbias.name for rbm in dbn.rbm_layers] == ["vbias_rbm0", "vbias_rbm1"]


def test_each_rbm_draws_from_its_own_call_sites_in_layer_order(floatX64):
    # the positive phase's hidden sample, then the Gibbs step's visible and hidden samples: three
    # call sites per RBM, taken in layer order when the pretraining functions are built
    dbn = DBN(numpy.random.RandomState(123), n_ins=6, hidden_layers_sizes=(5, 4), n_outs=3)
    from dltut import engine

    dbn.pretraining_functions(engine.shared(numpy.zeros((4, 6)), "train_x"), 2, k=1)
    names = [shared.name for shared, *_ in dbn.theano_rng.state_updates]
    assert len(names) == 6 and len(set(names)) == 6


def _small_test_DBN(tiny_mnist, **options):
    return dltut.test_DBN(**{"pretraining_epochs": 1, "training_epochs": 1, "dataset": tiny_mnist,
                             **SMALL, **options})


@pytest.mark.slow  # 48 s from an empty home; the SdA's twin test stays in the fast suite
def test_tiny_runs_agree_in_every_mode_and_log_the_tutorial_lines(tiny_mnist, floatX64, caplog):
    caplog.set_level(logging.INFO, logger="dltut")
    # not in Numba mode, whose compiling of the four graphs takes longest: the RBM is tested in
    # it in test_rbm.py
    results = in_every_mode(lambda mode: _small_test_DBN(tiny_mnist), modes=("c", "jax"))
    reference = results["c"]
    for mode, result in results.items():
        numpy.testing.assert_allclose(result.pretraining_costs, reference.pretraining_costs,
                                      rtol=1e-9, err_msg=mode)
        assert [v.validation_loss for v in result.history] == \
            [v.validation_loss for v in reference.history]
    messages = [record.getMessage() for record in caplog.records]
    for i, (cost,) in enumerate(reference.pretraining_costs):
        assert f"Pre-training layer {i}, epoch 0, cost  {cost!r}" in messages
        assert cost < 0  # a log-likelihood of the reconstruction
    for line in ("... building the model", "... getting the pretraining functions",
                 "... pre-training the model", "... getting the finetuning functions",
                 "... finetuning the model"):
        assert line in messages
    assert any(m.startswith("Optimization complete with best validation score of ")
               and ", obtained at iteration 6, " in m for m in messages)
    assert sum(m.startswith("The fine tuning code for file DBN.py ran for ") for m in messages) \
        == len(results)


def test_fused_pretraining_equals_one_call_per_minibatch(tiny_mnist, floatX64):
    if "jax" not in available_modes():
        pytest.skip("fusing is measured and tested in JAX mode")
    with in_mode("jax"):
        fused = _small_test_DBN(tiny_mnist, pretraining_epochs=2, fused=True)
        unfused = _small_test_DBN(tiny_mnist, pretraining_epochs=2, fused=False)
    assert fused.pretraining_costs == unfused.pretraining_costs
    assert fused.pretraining_costs[0][1] > fused.pretraining_costs[0][0]  # the RBM learns
    for got, expected in zip(fused.model.params, unfused.model.params):
        numpy.testing.assert_array_equal(got.get_value(), expected.get_value())


@pytest.mark.parametrize("settings, message", [
    ({"k": 0}, "k must be a positive integer (the Gibbs steps of CD-k), got 0"),
    ({"pretraining_epochs": -1}, "pretraining_epochs must be an integer >= 0, got -1"),
    ({"finetune_lr": -0.1}, "learning_rate must be positive, got -0.1"),
    ({"batch_size": 700}, "batch_size 700 is larger than the training set"),
])
def test_bad_settings_fail_before_training(tiny_mnist, settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _small_test_DBN(tiny_mnist, **settings)
