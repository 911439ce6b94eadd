"""registry: a model is rebuilt by name, and an unknown name is refused with the known ones."""

import importlib
import re

import numpy
import pytest

from dltut import registry
from dltut.engine import T


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        registry.build({"model": "resnet"}, None, T.matrix("x"))


@pytest.mark.parametrize("arch, module, name, params", [
    ({"model": "logistic_regression", "n_in": 6, "n_out": 3}, "logistic_sgd",
     "LogisticRegression", ["W_logreg", "b_logreg"]),
    ({"model": "mlp", "n_in": 6, "n_hidden": 4, "n_out": 3}, "mlp", "MLP",
     ["W_hidden", "b_hidden", "W_logreg", "b_logreg"]),
    ({"model": "lenet5", "batch_size": 2, "nkerns": [2, 3], "n_hidden": 4, "n_out": 3},
     "convolutional_mlp", "LeNet5",
     ["W_logreg", "b_logreg", "W_hidden", "b_hidden", "W_conv1", "b_conv1", "W_conv0", "b_conv0"]),
])
def test_each_model_is_its_tutorial_class(arch, module, name, params):
    model = registry.build(arch, numpy.random.RandomState(0), T.matrix("x"))
    assert type(model) is getattr(importlib.import_module(f"dltut.tutorials.{module}"), name)
    assert list(registry.param_values(model)) == params


@pytest.mark.parametrize("arch", [
    {"model": "logistic_regression", "n_in": 6, "n_out": 3},
    {"model": "mlp", "n_in": 6, "n_hidden": 4, "n_out": 3},
    {"model": "lenet5", "batch_size": 2, "nkerns": [2, 3], "n_hidden": 4, "n_out": 3},
    {"model": "sda", "n_ins": 6, "hidden_layers_sizes": [5, 4], "n_outs": 3},
    {"model": "dbn", "n_ins": 6, "hidden_layers_sizes": [5], "n_outs": 3},
])
def test_param_shapes_are_those_the_model_builds(arch):
    """What a model file's arrays are checked against is what ``build`` allocates."""
    model = registry.build(arch, numpy.random.RandomState(0), T.matrix("x"))
    built = {name: value.shape for name, value in registry.param_values(model).items()}
    assert registry.param_shapes(arch) == built
    assert list(registry.param_shapes(arch)) == list(built)


@pytest.mark.parametrize("arch, message", [
    ([1, 2], "is not a dict"),
    ({"model": "mlp", "n_in": 784, "n_hidden": 10, "n_out": 10, "act": "relu"}, "unknown act"),
    ({"model": "mlp", "n_in": 784, "n_out": 10}, "missing n_hidden"),
    ({"model": "mlp", "n_in": 784, "n_hidden": 0, "n_out": 10}, "n_hidden must be a positive"),
    ({"model": "mlp", "n_in": 784, "n_hidden": 2.5, "n_out": 10}, "got 2.5"),
    ({"model": "mlp", "n_in": 784, "n_hidden": True, "n_out": 10}, "got True"),
    ({"model": "mlp", "n_in": 784, "n_hidden": "5", "n_out": 10}, "got '5'"),
    ({"model": "mlp", "n_in": 784, "n_hidden": 10**8, "n_out": 10},
     "79,500,000,010 parameters, more than dltut builds"),
    ({"model": "lenet5", "batch_size": 1, "nkerns": [20], "n_hidden": 5, "n_out": 10},
     "nkerns must be a list of 2 positive integers"),
    ({"model": "sda", "n_ins": 784, "hidden_layers_sizes": [], "n_outs": 10},
     "hidden_layers_sizes must be a list of one or more"),
    ({"model": ["mlp"]}, "unknown model ['mlp']"),
])
def test_bad_architectures_are_refused_before_building(arch, message):
    with pytest.raises(registry.ArchitectureError, match=re.escape(message)):
        registry.param_shapes(arch)
    with pytest.raises(registry.ArchitectureError, match=re.escape(message)):
        registry.build(arch, numpy.random.RandomState(0), T.matrix("x"))

