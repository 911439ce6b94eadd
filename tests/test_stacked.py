"""The stacked networks' two phases (dltut.stacked), for the SdA and the DBN: a run interrupted in
pretraining or in fine-tuning resumes to the unbroken run's numbers, a checkpoint resumes only its
own run, and the best model file predicts what the network predicts."""

import logging
import os
import signal

import numpy
import pytest

import dltut
from conftest import available_modes, in_mode
from dltut import engine, saving

# tutorial -> small settings: two layers, two epochs of each phase, minibatches of 100
SMALL = {
    "SdA": {"hidden_layers_sizes": (30, 20), "corruption_levels": (0.1, 0.2)},
    "DBN": {"hidden_layers_sizes": (30, 20)},
}
RUN = {"SdA": dltut.test_SdA, "DBN": dltut.test_DBN}


def _small_run(tutorial, tiny_mnist, **options):
    return RUN[tutorial](**{"pretraining_epochs": 2, "training_epochs": 2, "dataset": tiny_mnist,
                            "batch_size": 100, **SMALL[tutorial], **options})


class _InterruptAt(logging.Handler):
    """Sends this process SIGINT when a log line starts with ``prefix``, as Ctrl-C would."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix = prefix

    def emit(self, record):
        if record.getMessage().startswith(self.prefix):
            os.kill(os.getpid(), signal.SIGINT)


# each tutorial stopped in one phase: the two share the code of both
@pytest.mark.parametrize("tutorial, stop_at", [("SdA", "Pre-training layer 1, epoch 0"),
                                               ("DBN", "epoch 1, minibatch 6/6")])
def test_interrupted_run_resumes_to_the_unbroken_run(tutorial, tiny_mnist, tmp_path, floatX64,
                                                     stop_at, caplog):
    caplog.set_level(logging.INFO, logger="dltut")  # the lines that the interrupt waits for
    modes = [mode for mode in ("jax", "c") if mode in available_modes()]
    # a stop in fine-tuning needs no second pretraining epoch
    pretraining = {"pretraining_epochs": 1} if stop_at.startswith("epoch") else {}
    with in_mode(modes[0]):
        unbroken = _small_run(tutorial, tiny_mnist, **pretraining)
        checkpoint = str(tmp_path / "ck.npz")
        handler = _InterruptAt(stop_at)
        logging.getLogger("dltut").addHandler(handler)
        try:
            stopped = _small_run(tutorial, tiny_mnist, checkpoint=checkpoint, **pretraining)
        finally:
            logging.getLogger("dltut").removeHandler(handler)
        assert stopped.stop_reason == "interrupted"
        resumed = _small_run(tutorial, tiny_mnist, checkpoint=checkpoint, resume=checkpoint,
                             **pretraining)
    assert [v.validation_loss for v in resumed.history] == \
        [v.validation_loss for v in unbroken.history]
    assert resumed.test_score == unbroken.test_score
    if stop_at.startswith("Pre-training"):  # the whole pretraining is the unbroken one's
        assert resumed.pretraining_costs == unbroken.pretraining_costs
    for got, expected in zip(resumed.model.params, unbroken.model.params):
        numpy.testing.assert_array_equal(got.get_value(), expected.get_value())
    with pytest.raises(ValueError, match="checkpoint of another run"):
        _small_run(tutorial, tiny_mnist, pretrain_lr=0.5, resume=checkpoint, **pretraining)


@pytest.mark.parametrize("tutorial", sorted(RUN))
def test_best_model_file_predicts(tutorial, tiny_mnist, tmp_path, floatX64):
    result = _small_run(tutorial, tiny_mnist, pretraining_epochs=0, training_epochs=1,
                        out=str(tmp_path / "model.npz"))
    model = saving.load_model(tmp_path / "model.npz")
    assert model.arch["model"] == tutorial.lower() and model.arch["hidden_layers_sizes"] == [30, 20]
    images = numpy.random.RandomState(0).uniform(0, 1, (5, 784))
    expected = engine.function([result.model.input], result.model.y_pred)(images)
    numpy.testing.assert_array_equal(model.predict(images), expected)


@pytest.mark.parametrize("tutorial", ["SdA", "DBN"])
def test_training_on_codes_is_the_tutorials_update_on_minibatches(tutorial, floatX64, mode):
    # a run's epochs of the second layer train on the codes of the first layer, computed once
    # (the pretraining function with_precomputed its input, as dltut.stacked.pretrain has it);
    # the tutorial's fn(index) passes each minibatch through the first layer instead: the same
    # updates, up to the rounding of the codes
    if mode == "numba":
        pytest.skip("numba compiles the graphs for minutes; the two paths share their graph")
    n, sizes = 4, (6, 5, 4)
    network = (dltut.SdA if tutorial == "SdA" else dltut.DBN)(
        numpy.random.RandomState(3), n_ins=sizes[0], hidden_layers_sizes=sizes[1:], n_outs=2)
    data = numpy.random.RandomState(4).uniform(0.05, 0.95, (3 * n, sizes[0]))
    k = {} if tutorial == "SdA" else {"k": 1}
    settings = {"lr": 0.1, **({"corruption": 0.3} if tutorial == "SdA" else {})}
    fns = network.pretraining_functions(engine.shared(data, "train_x"), batch_size=n, **k)
    for index in range(3):  # the first layer away from its initial draw
        fns[0](index)
    layers = network.dA_layers if tutorial == "SdA" else network.rbm_layers
    trained = list(layers[1].params)
    before = [p.get_value() for p in trained], network.theano_rng.state()
    lower = [p.get_value() for p in network.sigmoid_layers[0].params]

    per_minibatch = [fns[1](index, **settings) for index in (0, 1, 2, 0)]
    expected = [p.get_value() for p in trained]
    for param, value in zip(trained, before[0]):
        param.set_value(value)
    network.theano_rng.set_state(before[1])
    training = fns[1].with_precomputed(network.sigmoid_layers[1].input)
    if hasattr(training, "over"):  # spans of minibatches, as a run's epochs (JAX mode)
        on_codes = list(training.over(0, 3, **settings)) + list(training.over(0, 1, **settings))
    else:
        on_codes = [training(index, **settings) for index in (0, 1, 2, 0)]

    numpy.testing.assert_allclose(on_codes, per_minibatch, rtol=1e-12)
    for param, value in zip(trained, expected):
        numpy.testing.assert_allclose(param.get_value(), value, rtol=1e-12, atol=1e-15,
                                      err_msg=param.name)
    assert per_minibatch[0] != per_minibatch[3]  # the updates changed the layer
    for param, value in zip(network.sigmoid_layers[0].params, lower):
        numpy.testing.assert_array_equal(param.get_value(), value)  # neither path trains it
