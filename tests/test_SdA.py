"""SdA: the tutorial's draws, a pretraining step of a stacked dA against NumPy with the masks of
the NumPy MRG reference, small test_SdA runs in every mode (fused and not), bad settings
(checkpoints and model files: test_stacked.py)."""

import logging

import numpy
import pytest

import dltut
from conftest import available_modes, in_every_mode, in_mode
from dltut import engine
from dltut.random import NumpyStreams, seed_state
from dltut.tutorials.SdA import SdA
from test_dA import _numpy_cost_and_grads, _sigmoid

SMALL = {"hidden_layers_sizes": (30, 20, 10), "batch_size": 100}  # small and quick


def test_initial_weights_are_the_tutorial_draws(floatX64):
    # the streams' seed, then each sigmoid layer's W (4 times the tanh bound), from one rng
    sda = SdA(numpy.random.RandomState(89677), n_ins=6, hidden_layers_sizes=(5, 4), n_outs=3)
    rng = numpy.random.RandomState(89677)
    seed = rng.randint(2 ** 30)
    numpy.testing.assert_array_equal(sda.theano_rng.rstate, seed_state(seed))
    for layer, da, (n_in, n_out) in zip(sda.sigmoid_layers, sda.dA_layers, ((6, 5), (5, 4))):
        bound = numpy.sqrt(6.0 / (n_in + n_out))
        numpy.testing.assert_array_equal(layer.W.get_value(),
                                         4 * rng.uniform(-bound, bound, (n_in, n_out)))
        assert da.W is layer.W and da.b is layer.b and da.theano_rng is sda.theano_rng
        assert not layer.b.get_value().any() and not da.b_prime.get_value().any()
    assert not sda.logLayer.W.get_value().any()
    assert [p.name for p in sda.params] == ["W_sigmoid0", "b_sigmoid0", "W_sigmoid1",
                                            "b_sigmoid1", "W_logreg", "b_logreg"]
    assert [da.b_prime.name for da in sda.dA_layers] == ["b_prime_dA0", "b_prime_dA1"]


def test_second_layer_pretraining_step_against_numpy(floatX64, mode):
    if mode == "numba":
        pytest.skip("numba compiles it for half a minute; the dA's step is tested in it in "
                    "test_dA.py")
    # the second dA reconstructs the first layer's codes from a corrupted copy; its mask is the
    # second call site of the streams the dAs share (the first is the first dA's)
    n, sizes, corruption, lr = 4, (6, 5, 4), 0.3, 0.1
    sda = SdA(numpy.random.RandomState(3), n_ins=sizes[0], hidden_layers_sizes=sizes[1:],
              n_outs=2)
    data = numpy.random.RandomState(4).uniform(0.05, 0.95, (2 * n, sizes[0]))
    fns = sda.pretraining_functions(engine.shared(data, "train_x"), batch_size=n)
    W0, b0 = (p.get_value() for p in sda.sigmoid_layers[0].params)
    before = [p.get_value() for p in sda.dA_layers[1].params]
    got = fns[1](1, corruption=corruption, lr=lr)  # the second minibatch

    streams = NumpyStreams(sda.theano_rng.default_instance_seed)
    streams.binomial((n, sizes[1]), p=1 - corruption, nstreams=15360)  # the first dA's site
    mask = streams.binomial((n, sizes[1]), p=1 - corruption, dtype="float64", nstreams=15360)
    codes = _sigmoid(data[n:] @ W0 + b0)
    expected, grads = _numpy_cost_and_grads(codes, mask, *before)
    assert got == pytest.approx(expected, rel=1e-12)
    for param, value, grad in zip(sda.dA_layers[1].params, before, grads):
        numpy.testing.assert_allclose(param.get_value(), value - lr * grad, rtol=1e-12,
                                      atol=1e-15, err_msg=param.name)
    numpy.testing.assert_array_equal(sda.sigmoid_layers[0].W.get_value(), W0)  # not trained


def _tiny_test_SdA(tiny_mnist, **options):
    return dltut.test_SdA(**{"pretraining_epochs": 2, "training_epochs": 2, "dataset": tiny_mnist,
                             **SMALL, **options})


def _numbers(result):
    return (result.pretraining_costs, [v.validation_loss for v in result.history],
            result.test_score, result.best_iter)


def test_tiny_runs_agree_in_every_mode_and_log_the_tutorial_lines(tiny_mnist, floatX64, caplog):
    caplog.set_level(logging.INFO, logger="dltut")
    # two layers, an epoch of each phase: compiling takes the time. Not in Numba mode, whose
    # compiling of the four graphs takes longest: the dA is tested in it in test_dA.py
    results = in_every_mode(lambda mode: _tiny_test_SdA(
        tiny_mnist, hidden_layers_sizes=(30, 20), corruption_levels=(0.1, 0.2),
        pretraining_epochs=1, training_epochs=1), modes=("c", "jax"))
    reference = results["c"]
    for mode, result in results.items():
        numpy.testing.assert_allclose(result.pretraining_costs, reference.pretraining_costs,
                                      rtol=1e-9, err_msg=mode)
        assert [v.validation_loss for v in result.history] == \
            [v.validation_loss for v in reference.history]
        assert result.stop_reason == "n_epochs" and result.epochs == 1
    messages = [record.getMessage() for record in caplog.records]
    costs = reference.pretraining_costs
    assert len(costs) == 2 and all(len(layer) == 1 for layer in costs)
    for i, layer in enumerate(costs):
        for epoch, cost in enumerate(layer):
            assert f"Pre-training layer {i}, epoch {epoch}, cost {cost:f}" in messages
    for line in ("... building the model", "... getting the pretraining functions",
                 "... pre-training the model", "... getting the finetuning functions",
                 "... finetunning the model", "epoch 1, minibatch 6/6, validation error "
                 f"{reference.history[-1].validation_loss * 100:f} %"):
        assert line in messages
    assert sum(m.startswith("The pretraining code for file SdA.py ran for ") for m in messages) \
        == len(results)


def test_fused_pretraining_and_finetuning_equal_one_call_per_minibatch(tiny_mnist, floatX64):
    if "jax" not in available_modes():
        pytest.skip("fusing is measured and tested in JAX mode")
    with in_mode("jax"):
        fused = _tiny_test_SdA(tiny_mnist, fused=True)
        unfused = _tiny_test_SdA(tiny_mnist, fused=False)
    assert _numbers(fused) == _numbers(unfused)
    assert fused.pretraining_costs[0][1] < fused.pretraining_costs[0][0]  # the first dA learns
    for got, expected in zip(fused.model.params, unfused.model.params):
        numpy.testing.assert_array_equal(got.get_value(), expected.get_value())


@pytest.mark.parametrize("settings, message", [
    ({"pretraining_epochs": -1}, "pretraining_epochs must be an integer >= 0, got -1"),
    ({"training_epochs": 0}, "training_epochs must be an integer >= 1, got 0"),
    ({"pretrain_lr": 0}, "learning_rate must be positive, got 0"),
    ({"batch_size": 700}, "batch_size 700 is larger than the training set"),
    ({"corruption_levels": (0.1, 0.2)}, "give one corruption level per hidden layer"),
    ({"corruption_levels": (0.1, 0.2, 1.0)}, "corruption level 1.0 must be in [0, 1)"),
])
def test_bad_settings_fail_before_training(tiny_mnist, settings, message):
    arguments = {"pretraining_epochs": 1, "training_epochs": 1, "dataset": tiny_mnist, **SMALL,
                 **settings}
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        dltut.test_SdA(**arguments)
