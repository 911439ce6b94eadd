"""registry: a model is rebuilt by name, and an unknown name is refused with the known ones."""

import importlib

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
