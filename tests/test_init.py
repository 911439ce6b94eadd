"""dltut's public names: each is loaded on first use from the module that defines it."""

import pytest

import dltut
from dltut import data, midi, saving, trainer
from dltut.tutorials import convolutional_mlp, dA, hmc, logistic_sgd, lstm, mlp, rbm, rnnrbm


@pytest.mark.parametrize("module, names", [
    (logistic_sgd, ["sgd_optimization_mnist", "LogisticRegression"]),
    (mlp, ["test_mlp", "HiddenLayer", "MLP"]),
    (convolutional_mlp, ["evaluate_lenet5", "LeNetConvPoolLayer", "LeNet5"]),
    (dA, ["test_dA", "dA"]),
    (hmc, ["test_hmc", "sampler_on_nd_gaussian", "HMC_sampler"]),
    (rbm, ["test_rbm", "RBM"]),
    (rnnrbm, ["test_rnnrbm", "RnnRbm"]),
    (midi, ["midiread", "midiwrite"]),
    (lstm, ["train_lstm"]),
    (data, ["load_data"]),
    (saving, ["load_model"]),
    (trainer, ["EarlyStopping", "train"]),
])
def test_public_names_are_their_modules_objects(module, names):
    for name in names:
        assert getattr(dltut, name) is getattr(module, name), name
        assert name in dir(dltut)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'dltut' has no attribute 'LeNet6'"):
        dltut.LeNet6
