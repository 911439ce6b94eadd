"""The models by name, to rebuild one from the description a model file records.

A model has the logistic layer's interface: ``params``, ``y_pred``, ``p_y_given_x``,
``negative_log_likelihood(y)`` and ``errors(y)`` (the SdA's and the DBN's ``errors`` is, as in
their tutorials, the expression of their own labels ``y``). ``build(arch, rng, input)`` makes one
from its architecture dict (``{"model": "mlp", "n_in": 784, ...}``), which is what a saved model
records. ``param_shapes(arch)`` checks such a dict and says the shape of each parameter the model
would have, without building it: a model file's arrays are checked against it before anything is
allocated, so a file cannot ask for a model larger than itself.
"""

import importlib
import inspect
import math

import numpy

from dltut import catalogue

# architecture "model" -> the tutorial module, the class that builds it and the keyword it takes
# its numpy rng by (None: it draws nothing), from the catalogue. The class is imported on first
# use: the tutorial modules import the core (fitting, saving), which imports this.
ARCHITECTURES = {t.architecture.name: (f"dltut.tutorials.{t.module}", t.architecture.cls,
                                       t.architecture.rng)
                 for t in catalogue.TUTORIALS.values() if t.architecture is not None}
# the most parameters (numbers) of a model dltut builds: 4 GiB of float32, far above the
# tutorials' (LeNet5: 431,080; the SdA's: 2,797,010)
MAX_PARAMETERS = 2**30


class ArchitectureError(ValueError):
    """An architecture dict that names no model, lacks or adds a setting, or has a bad value."""


def build(arch, rng, input):
    """The model described by ``arch`` on the symbolic ``input``, its weights drawn from ``rng``."""
    param_shapes(arch)  # checked before anything is drawn or allocated
    arch = dict(arch)
    module, name, rng_keyword = ARCHITECTURES[arch.pop("model")]
    model = getattr(importlib.import_module(module), name)
    if rng_keyword is None:  # the logistic regression starts at zero: it draws nothing
        return model(input=input, name="logreg", **arch)
    return model(input=input, **{rng_keyword: rng}, **arch)


def param_values(model):
    """``{name: value}`` of a model's parameters, in ``model.params`` order."""
    return {param.name: numpy.asarray(param.get_value()) for param in model.params}


def param_shapes(arch):
    """``{name: shape}`` of the parameters of the model ``arch``, in ``model.params`` order.

    Checks ``arch`` first: a known ``model``, exactly its settings, each a positive int (a list
    of them where the model takes one), and at most ``MAX_PARAMETERS`` numbers in all; an
    ``ArchitectureError`` naming the setting otherwise.
    """
    if not isinstance(arch, dict):
        raise ArchitectureError(f"architecture {arch!r} is not a dict of settings")
    kind = arch.get("model")
    if not isinstance(kind, str) or kind not in ARCHITECTURES:
        raise ArchitectureError(f"unknown model {kind!r} in architecture {arch!r}: one of "
                                f"{', '.join(ARCHITECTURES)}")
    settings = {key: value for key, value in arch.items() if key != "model"}
    expected = tuple(inspect.signature(_SHAPES[kind]).parameters)  # the model's settings
    if set(settings) != set(expected):
        missing = sorted(set(expected) - set(settings))
        extra = sorted(set(settings) - set(expected))
        raise ArchitectureError(
            f"architecture {arch!r}: {kind} takes the settings {', '.join(expected)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(map(str, extra))}" if extra else ""))
    for key, value in settings.items():
        _check_size(arch, key, value)
    shapes = _SHAPES[kind](**settings)
    count = sum(math.prod(shape) for shape in shapes.values())
    if count > MAX_PARAMETERS:
        raise ArchitectureError(f"architecture {arch!r} has {count:,} parameters, more than "
                                f"dltut builds ({MAX_PARAMETERS:,}): choose smaller sizes")
    return shapes


# the settings that are lists, with the length they must have (None: >= 1)
_LISTS = {"nkerns": 2, "hidden_layers_sizes": None}


def _check_size(arch, key, value):
    if key in _LISTS:
        length = _LISTS[key]
        if not isinstance(value, (list, tuple)) or not value \
                or (length is not None and len(value) != length):
            size = "one or more" if length is None else str(length)
            raise ArchitectureError(f"architecture {arch!r}: {key} must be a list of {size} "
                                    f"positive integers, got {value!r}")
        for item in value:
            _check_positive(arch, key, item)
    else:
        _check_positive(arch, key, value)


def _check_positive(arch, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ArchitectureError(f"architecture {arch!r}: {key} must be a positive integer, got "
                                f"{value!r}")


def _layer(name, n_in, n_out):
    """A ``W_name`` (n_in, n_out) and ``b_name`` (n_out,): the hidden and logistic layers'."""
    return {f"W_{name}": (n_in, n_out), f"b_{name}": (n_out,)}


def _lenet_shapes(batch_size, nkerns, n_hidden, n_out):
    # the tutorial module's image, filter and pooling shapes (imported on first use, as build does)
    lenet = importlib.import_module(ARCHITECTURES["lenet5"][0])
    filter_shape, side = lenet.FILTER_SHAPE, lenet.IMAGE_SHAPE
    for _ in nkerns:  # each convolution and pooling shrinks the maps: 28 -> 12 -> 4
        side = tuple((s - f + 1) // p for s, f, p in zip(side, filter_shape, lenet.POOL_SIZE))
    return {**_layer("logreg", n_hidden, n_out),
            **_layer("hidden", nkerns[1] * math.prod(side), n_hidden),
            "W_conv1": (nkerns[1], nkerns[0]) + filter_shape, "b_conv1": (nkerns[1],),
            "W_conv0": (nkerns[0], 1) + filter_shape, "b_conv0": (nkerns[0],)}


def _stacked_shapes(n_ins, hidden_layers_sizes, n_outs):
    shapes, n_in = {}, n_ins
    for i, n_hidden in enumerate(hidden_layers_sizes):
        shapes.update(_layer(f"sigmoid{i}", n_in, n_hidden))
        n_in = n_hidden
    return {**shapes, **_layer("logreg", n_in, n_outs)}


_SHAPES = {
    "logistic_regression": lambda n_in, n_out: _layer("logreg", n_in, n_out),
    "mlp": lambda n_in, n_hidden, n_out: {**_layer("hidden", n_in, n_hidden),
                                          **_layer("logreg", n_hidden, n_out)},
    "lenet5": _lenet_shapes,
    "sda": _stacked_shapes,
    "dbn": _stacked_shapes,
}
