"""A small Lasagne: the layers, initialisers, nonlinearities, objectives and regularisation the
segmentation tutorials (the 1-D FCN, U-Net, FCN-8) were written with, under Lasagne's names,
arguments and semantics, on ``dltut.engine`` and ``dltut.ops``.

A network is built as in Lasagne: each layer takes the layer (or layers) below it, an
``InputLayer`` at the bottom, and creates its parameters at once; ``get_output(layer)`` builds
the symbolic output of the whole stack under it, and ``get_all_params(layer, trainable=True)``
lists the shared variables to train, in Lasagne's order::

    net = InputLayer((None, 2, 200), input_var)
    net = Conv1DLayer(net, num_filters=64, filter_size=25, pad="same", nonlinearity=None)
    net = NonlinearityLayer(BatchNormLayer(net), rectify)
    prediction = get_output(net)  # training: batch statistics, dropout on
    params = get_all_params(net, trainable=True)

Three choices differ from Lasagne's code, not from what it computes:

* **Random draws.** Lasagne draws initial weights (and each dropout layer's seed) from
  ``lasagne.random.get_rng()``, NumPy's global ``RandomState`` unless ``set_rng`` replaced it;
  so do ``get_rng``/``set_rng`` here, with the same ``RandomState`` calls, sizes, order and
  casts: ``numpy.random.seed(1609)`` before building a network gives Lasagne's weights. To pass
  randomness explicitly, give a layer ``rng=`` (a ``RandomState``): its draws come from it.
* **Static shapes.** PyTensor's JAX mode and the im2col convolutions need sizes as Python ints.
  Each layer computes its output shape from the shapes below it (``output_shape``, with None
  where Lasagne's has None), and ``get_output`` computes them again from the inputs it is given:
  an entry None in an ``InputLayer``'s shape is taken from the input variable's type where that
  knows it (on PyTensor a tensor created with ``shape=``, on either engine
  ``T.specify_shape(x, shape)``). So one network can be compiled for several image sizes (FCN-8
  trains on crops and validates on whole images). The convolutions, pooling and crops need the
  rows and columns so resolved; the batch may stay None (any batch), but in JAX mode, which
  compiles for static shapes.
* **Running averages.** ``BatchNormLayer`` in training mode sets ``default_update`` on clones of
  its shared ``mean`` and ``inv_std``, as Lasagne does: a function compiled from that output
  updates them by itself, on both engines and in every mode. Where one function holds two
  training-mode outputs of the same layer (the 1-D FCN reshapes by the shape of an output taken
  while building), Theano may apply both clones' updates one after the other, PyTensor applies
  one: the averages then differ from the original's.
"""

import functools
import numbers
import warnings
from collections import OrderedDict, deque

import numpy

from dltut import engine, ops, random
from dltut.engine import T

__all__ = [
    "get_rng", "set_rng",
    "Initializer", "Normal", "Uniform", "Glorot", "GlorotUniform", "GlorotNormal", "He",
    "HeNormal", "HeUniform", "Constant",
    "sigmoid", "softmax", "tanh", "rectify", "elu", "linear", "identity",
    "Layer", "MergeLayer", "InputLayer", "Conv1DLayer", "Conv2DLayer", "TransposedConv2DLayer",
    "Deconv2DLayer", "conv1d_mc0", "Pool1DLayer", "Pool2DLayer", "MaxPool1DLayer",
    "MaxPool2DLayer", "Upscale1DLayer", "BatchNormLayer", "batch_norm", "NonlinearityLayer",
    "DimshuffleLayer", "ReshapeLayer", "PadLayer", "DropoutLayer", "autocrop",
    "autocrop_array_shapes", "ConcatLayer", "ElemwiseMergeLayer", "ElemwiseSumLayer",
    "get_all_layers", "get_output", "get_output_shape", "get_all_params", "count_params",
    "get_all_param_values", "set_all_param_values",
    "categorical_crossentropy", "l1", "l2", "apply_penalty", "regularize_layer_params",
    "regularize_network_params",
]

# ----------------------------------------------------------------------------------------------
# Random draws

_rng = numpy.random  # NumPy's global RandomState, as lasagne.random


def get_rng():
    """The ``RandomState`` that initialisers and dropout layers draw from when a layer is given no
    ``rng``: NumPy's global one (``numpy.random``) unless ``set_rng`` replaced it."""
    return _rng


def set_rng(new_rng):
    """Draw from ``new_rng`` (a ``numpy.random.RandomState``) from now on, where no ``rng`` is
    given. ``set_rng(numpy.random.RandomState(1609))`` draws what ``numpy.random.seed(1609)``
    would make the global one draw."""
    global _rng
    _rng = new_rng


def _floatX(array):
    return numpy.asarray(array, dtype=engine.floatX())


# ----------------------------------------------------------------------------------------------
# Initialisers: each draws with Lasagne's RandomState calls, sizes and casts


class Initializer:
    """Makes a parameter's initial value: ``init(shape, rng=None)`` is ``init.sample(shape,
    rng)``, drawing from ``rng`` or, when None, ``get_rng()``."""

    def __call__(self, shape, rng=None):
        return self.sample(shape, rng)

    def sample(self, shape, rng=None):
        raise NotImplementedError


class Normal(Initializer):
    """Independent draws from :math:`N(mean, std^2)`: ``rng.normal(mean, std, size=shape)``."""

    def __init__(self, std=0.01, mean=0.0):
        self.std, self.mean = std, mean

    def sample(self, shape, rng=None):
        return _floatX((get_rng() if rng is None else rng).normal(self.mean, self.std, size=shape))


class Uniform(Initializer):
    """Independent uniform draws in ``range`` (``(-range, range)`` for a number), or, given
    ``std``, in :math:`mean \\pm \\sqrt 3 \\, std` (that standard deviation):
    ``rng.uniform(low=a, high=b, size=shape)``."""

    def __init__(self, range=0.01, std=None, mean=0.0):  # noqa: A002  Lasagne's name
        if std is not None:
            a, b = mean - numpy.sqrt(3) * std, mean + numpy.sqrt(3) * std
        elif isinstance(range, numbers.Number):
            a, b = -range, range
        else:
            a, b = range
        self.range = (a, b)

    def sample(self, shape, rng=None):
        low, high = self.range
        return _floatX((get_rng() if rng is None else rng).uniform(low=low, high=high, size=shape))


class Glorot(Initializer):
    """Glorot and Bengio's scaling: ``initializer`` with

    .. math::
        std = gain \\sqrt{2 / ((n_1 + n_2) \\, receptive\\_field\\_size)}

    where ``n_1, n_2 = shape[:2]`` and the receptive field is ``prod(shape[2:])``; ``gain`` may
    be ``"relu"`` for :math:`\\sqrt 2`."""

    def __init__(self, initializer, gain=1.0):
        self.initializer = initializer
        self.gain = numpy.sqrt(2) if gain == "relu" else gain

    def sample(self, shape, rng=None):
        if len(shape) < 2:
            raise ValueError(f"shape {shape!r}: Glorot initialisation needs 2 dimensions or more")
        n1, n2 = shape[:2]
        receptive_field_size = numpy.prod(shape[2:])
        std = self.gain * numpy.sqrt(2.0 / ((n1 + n2) * receptive_field_size))
        return self.initializer(std=std).sample(shape, rng)


class GlorotUniform(Glorot):
    """Glorot's uniform initialisation, Lasagne's default for weights: :math:`\\pm \\sqrt{6 / ((n_1
    + n_2) \\, receptive\\_field\\_size)}` for ``gain=1``."""

    def __init__(self, gain=1.0):
        super().__init__(Uniform, gain)


class GlorotNormal(Glorot):
    def __init__(self, gain=1.0):
        super().__init__(Normal, gain)


class He(Initializer):
    """He et al.'s scaling: ``initializer`` with :math:`std = gain \\sqrt{1 / fan_{in}}`, where
    :math:`fan_{in}` is ``prod(shape[1:])`` (``shape[0]`` for a matrix); ``gain="relu"`` is
    :math:`\\sqrt 2`."""

    def __init__(self, initializer, gain=1.0):
        self.initializer = initializer
        self.gain = numpy.sqrt(2) if gain == "relu" else gain

    def sample(self, shape, rng=None):
        if len(shape) < 2:
            raise ValueError(f"shape {shape!r}: He initialisation needs 2 dimensions or more")
        fan_in = shape[0] if len(shape) == 2 else numpy.prod(shape[1:])
        std = self.gain * numpy.sqrt(1.0 / fan_in)
        return self.initializer(std=std).sample(shape, rng)


class HeNormal(He):
    """He's normal initialisation (U-Net's weights, with ``gain="relu"``)."""

    def __init__(self, gain=1.0):
        super().__init__(Normal, gain)


class HeUniform(He):
    def __init__(self, gain=1.0):
        super().__init__(Uniform, gain)


class Constant(Initializer):
    """Every entry ``val`` (biases, batch normalisation's parameters); draws nothing."""

    def __init__(self, val=0.0):
        self.val = val

    def sample(self, shape, rng=None):
        return _floatX(numpy.ones(shape) * self.val)


def create_param(spec, shape, name=None, rng=None, static_shape=False):
    """A shared variable named ``name`` of ``shape`` from ``spec``: an initialiser (drawing from
    ``rng``), a NumPy array or number, or a shared variable used as it is (named ``name`` if it
    has no name). ``static_shape``: the shape is part of the variable's type (on PyTensor)."""
    shape = tuple(shape)
    if any(d is None or d <= 0 for d in shape):
        raise ValueError(f"cannot create parameter {name!r} of shape {shape!r}: sizes must be "
                         f"positive ints")
    if isinstance(spec, Initializer):
        spec = spec(shape, rng)
    elif callable(spec):
        spec = spec(shape)
    if isinstance(spec, (numbers.Number, numpy.generic)):
        spec = numpy.asarray(spec)
    if isinstance(spec, numpy.ndarray):
        if spec.shape != shape:
            raise ValueError(f"parameter {name!r}: value of shape {spec.shape}, expected {shape}")
        return engine.shared(spec, name=name, borrow=False, static_shape=static_shape)
    if hasattr(spec, "get_value"):
        if spec.ndim != len(shape):
            raise ValueError(f"parameter {name!r}: shared variable of {spec.ndim} dimensions, "
                             f"expected {len(shape)}")
        if not spec.name:
            spec.name = name
        return spec
    raise TypeError(f"parameter {name!r}: {type(spec).__name__} is not an initialiser, a NumPy "
                    f"array or a shared variable")


# ----------------------------------------------------------------------------------------------
# Nonlinearities, as Lasagne's on Theano


def sigmoid(x):
    """:math:`1 / (1 + e^{-x})`."""
    return T.sigmoid(x) if engine.name() == "pytensor" else T.nnet.sigmoid(x)


def softmax(x):
    """Row-wise softmax of a matrix, :math:`e^{x_{ij}} / \\sum_k e^{x_{ik}}`."""
    return engine.softmax(x)


def tanh(x):
    return T.tanh(x)


def rectify(x):
    """:math:`\\max(0, x)`, written as Theano's ``relu``, :math:`(x + |x|) / 2` (its gradient at
    0 is 1/2)."""
    return 0.5 * (x + abs(x))


def elu(x):
    """:math:`x` where positive, :math:`e^x - 1` elsewhere (U-Net's)."""
    return T.switch(x > 0, x, T.expm1(x))


def linear(x):
    return x


identity = linear


# ----------------------------------------------------------------------------------------------
# The layer contract


class Layer:
    """A layer on ``incoming`` (a layer, or a shape tuple for a free-floating one).

    ``output_shape`` is ``get_output_shape_for(input_shape)``; ``get_output_for(input,
    input_shape=..., **kwargs)`` builds the output expression, where ``input_shape`` is the input's
    shape as ``get_output`` resolved it (its sizes as known when compiling: see the module's
    docstring). ``params`` maps each shared variable the layer created, in creation order, to its
    set of tags (``"trainable"``, ``"regularizable"``, ...). ``rng`` (a ``RandomState``) is where
    the layer's initialisers draw; None: ``get_rng()``.
    """

    def __init__(self, incoming, name=None, rng=None):
        if isinstance(incoming, tuple):
            self.input_shape, self.input_layer = incoming, None
        else:
            self.input_shape, self.input_layer = incoming.output_shape, incoming
        self.name, self.rng = name, rng
        self.params = OrderedDict()
        if any(d is not None and d <= 0 for d in self.input_shape):
            raise ValueError(f"cannot create {type(self).__name__} {name!r} on input_shape "
                             f"{self.input_shape!r}: sizes must be positive (or None)")

    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        return input_shape

    def get_output_for(self, input, **kwargs):
        raise NotImplementedError

    def get_params(self, unwrap_shared=True, **tags):
        """The layer's parameters with every tag set ``True`` in ``tags`` and none set ``False``:
        ``get_params(trainable=True)``."""
        only = {tag for tag, value in tags.items() if value}
        exclude = {tag for tag, value in tags.items() if not value}
        return [param for param, param_tags in self.params.items()
                if only <= param_tags and not param_tags & exclude]

    def add_param(self, spec, shape, name=None, static_shape=False, **tags):
        """Create a parameter from ``spec`` (``create_param``), named ``"{layer}.{name}"`` when
        the layer has a name, tagged ``trainable`` and ``regularizable`` unless ``tags`` says
        otherwise."""
        if name is not None and self.name is not None:
            name = f"{self.name}.{name}"
        param = create_param(spec, shape, name, self.rng, static_shape)
        tags.setdefault("trainable", True)
        tags.setdefault("regularizable", True)
        self.params[param] = {tag for tag, value in tags.items() if value}
        return param

    def _draw_rng(self):
        return get_rng() if self.rng is None else self.rng


class MergeLayer(Layer):
    """A layer on several ``incomings``: ``input_shapes``, ``input_layers``, and
    ``get_output_for(inputs, input_shapes=..., **kwargs)``."""

    def __init__(self, incomings, name=None, rng=None):
        self.input_shapes = [incoming if isinstance(incoming, tuple) else incoming.output_shape
                             for incoming in incomings]
        self.input_layers = [None if isinstance(incoming, tuple) else incoming
                             for incoming in incomings]
        self.name, self.rng = name, rng
        self.params = OrderedDict()

    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_shapes)

    def get_output_shape_for(self, input_shapes):
        raise NotImplementedError


class InputLayer(Layer):
    """The network's input: ``shape`` (None for a size that may vary) and the symbolic
    ``input_var`` it stands for. Without one, a floatX tensor named ``input`` (``{name}.input``)
    is made, whose type knows the sizes given, on PyTensor (Theano's types know only the
    sizes of 1)."""

    def __init__(self, shape, input_var=None, name=None, **kwargs):
        self.shape = tuple(shape)
        if any(d is not None and d <= 0 for d in self.shape):
            raise ValueError(f"InputLayer {name!r}: shape {self.shape!r} must have positive "
                             f"sizes (or None)")
        if input_var is None:
            var_name = f"{name}.input" if name is not None else "input"
            if engine.name() == "pytensor":
                input_var = T.tensor(var_name, dtype=engine.floatX(), shape=self.shape)
            else:
                input_var = T.TensorType(engine.floatX(), [s == 1 for s in self.shape])(var_name)
        elif input_var.ndim != len(self.shape):
            raise ValueError(f"InputLayer {name!r}: shape {self.shape!r} has {len(self.shape)} "
                             f"dimensions, but input_var has {input_var.ndim}")
        self.input_var = input_var
        self.name, self.rng = name, None
        self.params = OrderedDict()

    @property
    def output_shape(self):
        return self.shape


def _ints(layer, shape, axes, what):
    """``shape``'s entries on ``axes`` as ints, or a ValueError saying where they come from."""
    sizes = [shape[axis] for axis in axes]
    if any(size is None for size in sizes):
        name = f" {layer.name}" if layer.name else ""
        raise ValueError(
            f"{type(layer).__name__}{name} needs its input's {what} as ints, but its input shape "
            f"is {tuple(shape)!r}: give the InputLayer those sizes, or get_output an input whose "
            f"type knows them (T.specify_shape(input_var, shape))")
    return sizes


def _as_tuple(value, n, what):
    """An int or a sequence of ``n`` ints as a tuple of ``n`` ints; else a ValueError."""
    values = (value,) * n if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != n or not all(isinstance(v, numbers.Integral) for v in values):
        raise ValueError(f"{what} {value!r} must be an int or {n} ints")
    return tuple(int(v) for v in values)


# ----------------------------------------------------------------------------------------------
# Convolutions


def conv_output_length(input_length, filter_size, stride, pad=0):
    """An axis of ``input_length`` after a convolution: ``pad`` is ``"valid"``, ``"full"``,
    ``"same"`` or an int, and the stride keeps one output in ``stride``."""
    if input_length is None:
        return None
    named = {"valid": input_length - filter_size + 1, "full": input_length + filter_size - 1,
             "same": input_length}
    length = named[pad] if isinstance(pad, str) else input_length + 2 * pad - filter_size + 1
    return (length + stride - 1) // stride


def conv_input_length(output_length, filter_size, stride, pad=0):
    """The axis a convolution maps to ``output_length``, the largest with no input left unread:
    what a transposed convolution with ``crop=pad`` gives."""
    if output_length is None:
        return None
    pad = {"valid": 0, "full": filter_size - 1, "same": filter_size // 2}.get(pad, pad)
    return (output_length - 1) * stride - 2 * pad + filter_size


def conv1d_mc0(input, filters, image_shape, filter_shape, border_mode="valid", subsample=(1,),
               filter_flip=True):
    """A 1-D convolution of ``(batch, channels, length)`` as a 2-D one over images of one row,
    Lasagne's ``conv1d_mc0``: the axis ``x`` of one row goes before the length."""
    border_mode = border_mode[0] if isinstance(border_mode, tuple) else border_mode
    if isinstance(border_mode, numbers.Integral):
        border_mode = (0, border_mode)
    batch, channels, length = image_shape
    n_filters, _, size = filter_shape
    conved = ops.conv2d(input.dimshuffle(0, 1, "x", 2), filters.dimshuffle(0, 1, "x", 2),
                        (batch, channels, 1, length), (n_filters, channels, 1, size),
                        border_mode=border_mode, subsample=(1, subsample[0]),
                        filter_flip=filter_flip)
    return conved[:, :, 0, :]


class BaseConvLayer(Layer):
    r"""A convolution over ``n`` spatial axes with ``num_filters`` filters of ``filter_size``, a
    bias per filter and a nonlinearity:

    .. math::
        y = f(W * x + b)

    ``pad`` is ``"valid"`` (0), ``"full"`` (``filter_size - 1``), ``"same"`` (``filter_size //
    2``, odd sizes only: the output keeps the input's size) or ints; ``flip_filters=True`` is a
    true convolution, ``False`` a cross-correlation; ``untie_biases`` gives each output position
    its own bias; ``b=None`` no bias; ``nonlinearity=None`` is linear. ``W`` (``GlorotUniform()``
    by default) and ``b`` are created in that order, ``W`` of ``get_W_shape()``.
    """

    def __init__(self, incoming, num_filters, filter_size, stride=1, pad=0, untie_biases=False,
                 W=GlorotUniform(), b=Constant(0.0), nonlinearity=rectify, flip_filters=True,
                 n=None, **kwargs):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = identity if nonlinearity is None else nonlinearity
        n = len(self.input_shape) - 2 if n is None else n
        if len(self.input_shape) != n + 2:
            raise ValueError(f"a {n}-D convolution needs an input shape (batch, channels, {n} "
                             f"spatial sizes), got {self.input_shape!r}")
        self.n = n
        self.num_filters = num_filters
        self.filter_size = _as_tuple(filter_size, n, "filter_size")
        self.flip_filters = flip_filters
        self.stride = _as_tuple(stride, n, "stride")
        self.untie_biases = untie_biases
        if pad == "same" and any(s % 2 == 0 for s in self.filter_size):
            raise ValueError(f"pad 'same' needs odd filter sizes, got {self.filter_size!r}")
        if pad == "valid":
            self.pad = (0,) * n
        elif pad in ("full", "same"):
            self.pad = pad
        else:
            self.pad = _as_tuple(pad, n, "pad")
        self.W = self.add_param(W, self.get_W_shape(), name="W")
        if b is None:
            self.b = None
        else:
            biases_shape = (num_filters, *self.output_shape[2:]) if untie_biases else (num_filters,)
            self.b = self.add_param(b, biases_shape, name="b", regularizable=False)

    def get_W_shape(self):
        """``(num_filters, input channels, *filter_size)``."""
        return (self.num_filters, self.input_shape[1], *self.filter_size)

    def get_output_shape_for(self, input_shape):
        pad = self.pad if isinstance(self.pad, tuple) else (self.pad,) * self.n
        return (input_shape[0], self.num_filters,
                *(conv_output_length(size, f, s, p)
                  for size, f, s, p in zip(input_shape[2:], self.filter_size, self.stride, pad)))

    def get_output_for(self, input, input_shape=None, **kwargs):
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        conved = self.convolve(input, shape)
        if self.b is None:
            activation = conved
        elif self.untie_biases:
            activation = conved + T.shape_padleft(self.b, 1)
        else:
            activation = conved + self.b.dimshuffle(("x", 0) + ("x",) * self.n)
        return self.nonlinearity(activation)

    def _border_mode(self, pad):
        """Lasagne's ``pad`` (or ``crop``) as Theano's ``border_mode``."""
        return "half" if pad == "same" else pad


class Conv1DLayer(BaseConvLayer):
    """A 1-D convolution of ``(batch, channels, length)`` (the 1-D FCN's), through
    ``convolution`` (``conv1d_mc0``: a 2-D convolution of one-row images)."""

    def __init__(self, incoming, num_filters, filter_size, stride=1, pad=0, untie_biases=False,
                 W=GlorotUniform(), b=Constant(0.0), nonlinearity=rectify, flip_filters=True,
                 convolution=conv1d_mc0, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad, untie_biases, W, b,
                         nonlinearity, flip_filters, n=1, **kwargs)
        self.convolution = convolution

    def convolve(self, input, input_shape):
        _ints(self, input_shape, (1, 2), "channels and length")
        return self.convolution(input, self.W, input_shape, self.get_W_shape(),
                                border_mode=self._border_mode(self.pad), subsample=self.stride,
                                filter_flip=self.flip_filters)


class Conv2DLayer(BaseConvLayer):
    """A 2-D convolution of ``(batch, channels, rows, cols)``, through ``convolution``
    (``dltut.ops.conv2d``, Theano's arguments; ``functools.partial(ops.conv2d, method="xla")``
    runs JAX's own convolution in JAX mode)."""

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1), pad=0,
                 untie_biases=False, W=GlorotUniform(), b=Constant(0.0), nonlinearity=rectify,
                 flip_filters=True, convolution=ops.conv2d, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad, untie_biases, W, b,
                         nonlinearity, flip_filters, n=2, **kwargs)
        self.convolution = convolution

    def convolve(self, input, input_shape):
        _ints(self, input_shape, (1, 2, 3), "channels, rows and columns")
        return self.convolution(input, self.W, input_shape, self.get_W_shape(),
                                border_mode=self._border_mode(self.pad), subsample=self.stride,
                                filter_flip=self.flip_filters)


class TransposedConv2DLayer(BaseConvLayer):
    r"""The transposed convolution (``Deconv2DLayer``): the gradient of a convolution with
    respect to its input, which upsamples by ``stride`` (FCN-8's and U-Net's upsampling).

    .. math::
        y[c, r, q] = f\Big(\sum_{k, u, v, i, j \,:\, i s + u - p = r, \; j s + v - p = q}
                          W[k, c, u, v] \, x[k, i, j] + b[c]\Big)

    (with ``flip_filters=False``, the default; ``True`` reads the taps reversed). ``W`` has shape
    ``(input channels, num_filters, *filter_size)``, as the convolution it transposes; ``crop``
    (``"valid"``: 0, ``"full"``, ``"same"`` or ints) is that convolution's padding, cut from the
    output: an axis of ``n`` gives ``(n - 1) * stride - 2 crop + filter_size``, or
    ``output_size`` where given. It calls ``ops.conv2d_grad_wrt_inputs`` with
    ``filter_flip=not flip_filters``, as Lasagne calls Theano's.
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1), crop=0,
                 untie_biases=False, W=GlorotUniform(), b=Constant(0.0), nonlinearity=rectify,
                 flip_filters=False, output_size=None, **kwargs):
        self.output_size = None if output_size is None else _as_tuple(output_size, 2,
                                                                      "output_size")
        super().__init__(incoming, num_filters, filter_size, stride, crop, untie_biases, W, b,
                         nonlinearity, flip_filters, n=2, **kwargs)
        self.crop = self.pad
        del self.pad

    def get_W_shape(self):
        return (self.input_shape[1], self.num_filters, *self.filter_size)

    def get_output_shape_for(self, input_shape):
        if self.output_size is not None:
            return (input_shape[0], self.num_filters, *self.output_size)
        crop = getattr(self, "crop", getattr(self, "pad", None))  # pad while __init__ runs
        crop = crop if isinstance(crop, tuple) else (crop,) * self.n
        return (input_shape[0], self.num_filters,
                *(conv_input_length(size, f, s, p)
                  for size, f, s, p in zip(input_shape[2:], self.filter_size, self.stride, crop)))

    def convolve(self, input, input_shape):
        _ints(self, input_shape, (1, 2, 3), "channels, rows and columns")
        return ops.conv2d_grad_wrt_inputs(
            input, self.W, self.get_output_shape_for(input_shape), self.get_W_shape(),
            border_mode=self._border_mode(self.crop), subsample=self.stride,
            filter_flip=not self.flip_filters)


Deconv2DLayer = TransposedConv2DLayer


# ----------------------------------------------------------------------------------------------
# Pooling and upscaling


class _PoolLayer(Layer):
    """What the 1-D and 2-D pooling layers share: their sizes over the last ``ndim`` axes, as
    tuples, and the one mode implemented."""

    ndim = None
    axes_names = None

    def __init__(self, incoming, pool_size, stride, pad, ignore_border, mode, **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != self.ndim + 2:
            raise ValueError(f"a {self.ndim}-D pooling layer needs an input shape (batch, "
                             f"channels, {self.axes_names}), got {self.input_shape!r}")
        if mode != "max":
            raise ValueError(f"mode {mode!r}: only 'max' pooling is implemented")
        self.pool_size = _as_tuple(pool_size, self.ndim, "pool_size")
        self.stride = self.pool_size if stride is None else _as_tuple(stride, self.ndim, "stride")
        self.pad = _as_tuple(pad, self.ndim, "pad")
        self.ignore_border, self.mode = ignore_border, mode

    def get_output_shape_for(self, input_shape):
        return (*input_shape[:2], *(
            None if size is None else ops.pool_output_length(size, w, s, p, self.ignore_border)
            for size, w, s, p in zip(input_shape[2:], self.pool_size, self.stride, self.pad)))

    def _checked_shape(self, input_shape):
        """The input's shape; its pooled sizes must be known unless the windows tile it."""
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        if (self.stride, self.pad, self.ignore_border) != (self.pool_size, (0,) * self.ndim,
                                                          True):
            _ints(self, shape, tuple(range(2, 2 + self.ndim)), self.axes_names)
        return shape


class Pool2DLayer(_PoolLayer):
    r"""Pooling over the last two axes, ``ops.pool_2d``:

    .. math::
        y[b, c, i, j] = \max_{0 \le u, v < pool\_size} x[b, c, i s + u - p, j s + v - p]

    ``stride=None`` is ``pool_size``; ``pad`` adds room that takes no part in the max;
    ``ignore_border=False`` keeps a last window overlapping the end. Only ``mode="max"``."""

    ndim, axes_names = 2, "rows and columns"

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0), ignore_border=True,
                 mode="max", **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, **kwargs)

    def get_output_for(self, input, input_shape=None, **kwargs):
        shape = self._checked_shape(input_shape)
        return ops.pool_2d(input, ws=self.pool_size, ignore_border=self.ignore_border,
                           stride=self.stride, pad=self.pad, mode=self.mode, input_shape=shape)


class Pool1DLayer(_PoolLayer):
    """Pooling along the last axis of ``(batch, channels, length)``, as a 2-D pooling of
    one-column images."""

    ndim, axes_names = 1, "length"

    def __init__(self, incoming, pool_size, stride=None, pad=0, ignore_border=True, mode="max",
                 **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, **kwargs)

    def get_output_for(self, input, input_shape=None, **kwargs):
        shape = self._checked_shape(input_shape)
        pooled = ops.pool_2d(T.shape_padright(input, 1), ws=(self.pool_size[0], 1),
                             ignore_border=self.ignore_border, stride=(self.stride[0], 1),
                             pad=(self.pad[0], 0), mode=self.mode, input_shape=(*shape, 1))
        return pooled[:, :, :, 0]


class MaxPool1DLayer(Pool1DLayer):
    def __init__(self, incoming, pool_size, stride=None, pad=0, ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class MaxPool2DLayer(Pool2DLayer):
    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0), ignore_border=True,
                 **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class Upscale1DLayer(Layer):
    """Upsampling of the last axis of ``(batch, channels, length)`` by ``scale_factor``:
    ``"repeat"`` repeats each value, ``"dilate"`` puts it first among zeros."""

    def __init__(self, incoming, scale_factor, mode="repeat", **kwargs):
        super().__init__(incoming, **kwargs)
        (self.scale_factor,) = _as_tuple(scale_factor, 1, "scale_factor")
        if self.scale_factor < 1:
            raise ValueError(f"scale_factor {scale_factor!r} must be >= 1")
        if mode not in ("repeat", "dilate"):
            raise ValueError(f"mode {mode!r}: choose 'repeat' or 'dilate'")
        self.mode = mode

    def get_output_shape_for(self, input_shape):
        length = input_shape[2]
        return (*input_shape[:2], None if length is None else length * self.scale_factor,
                *input_shape[3:])

    def get_output_for(self, input, input_shape=None, **kwargs):
        a = self.scale_factor
        if a == 1:
            return input
        if self.mode == "repeat":
            return T.repeat(input, a, axis=2)
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        out_shape = [input.shape[k] if size is None else size
                     for k, size in enumerate(self.get_output_shape_for(shape))]
        return T.set_subtensor(T.zeros(out_shape, dtype=input.dtype)[:, :, ::a], input)


# ----------------------------------------------------------------------------------------------
# Batch normalisation


class BatchNormLayer(Layer):
    r"""Batch normalisation (Ioffe and Szegedy, 2015):

    .. math::
        y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \, \gamma + \beta

    with :math:`\mu, \sigma^2` the mean and (biased) variance over ``axes`` (``"auto"``: all but
    the channels, axis 1) of the minibatch in training, and in deterministic mode the running
    averages ``mean`` and ``inv_std`` (:math:`1 / \sqrt{\sigma^2 + \epsilon}`). Training updates
    those: :math:`mean := (1 - \alpha) \, mean + \alpha \mu` and likewise ``inv_std`` with the
    batch's :math:`1 / \sqrt{\sigma^2 + \epsilon}`, through ``default_update`` on clones that
    share their storage, as Lasagne does, so a function compiled from the output applies them
    without being given them. ``get_output``'s ``batch_norm_use_averages`` and
    ``batch_norm_update_averages`` override ``deterministic``.

    Parameters in order: ``beta`` (trainable), ``gamma`` (trainable, regularizable), ``mean``
    and ``inv_std`` (neither; tagged ``batch_norm_stat``), each of the input's shape without
    ``axes``.
    """

    def __init__(self, incoming, axes="auto", epsilon=1e-4, alpha=0.1, beta=Constant(0),
                 gamma=Constant(1), mean=Constant(0), inv_std=Constant(1), **kwargs):
        super().__init__(incoming, **kwargs)
        if axes == "auto":
            axes = (0, *range(2, len(self.input_shape)))
        elif isinstance(axes, numbers.Integral):
            axes = (axes,)
        self.axes, self.epsilon, self.alpha = tuple(axes), epsilon, alpha
        shape = [size for axis, size in enumerate(self.input_shape) if axis not in self.axes]
        if any(size is None for size in shape):
            raise ValueError(f"BatchNormLayer needs the sizes of the axes it does not normalise "
                             f"over: input shape {self.input_shape!r}, axes {self.axes!r}")
        self.beta = None if beta is None else self.add_param(
            beta, shape, "beta", trainable=True, regularizable=False)
        self.gamma = None if gamma is None else self.add_param(
            gamma, shape, "gamma", trainable=True, regularizable=True)
        # of static shape (on PyTensor), as their default updates are: their types must be equal
        self.mean = self.add_param(mean, shape, "mean", static_shape=True, trainable=False,
                                   regularizable=False, batch_norm_stat=True)
        self.inv_std = self.add_param(inv_std, shape, "inv_std", static_shape=True,
                                      trainable=False, regularizable=False, batch_norm_stat=True)

    def get_output_for(self, input, deterministic=False, batch_norm_use_averages=None,
                       batch_norm_update_averages=None, **kwargs):
        input_mean = input.mean(self.axes)
        input_inv_std = _reciprocal(T.sqrt(input.var(self.axes) + self.epsilon))
        use_averages = deterministic if batch_norm_use_averages is None \
            else batch_norm_use_averages
        mean, inv_std = (self.mean, self.inv_std) if use_averages \
            else (input_mean, input_inv_std)
        update_averages = not deterministic if batch_norm_update_averages is None \
            else batch_norm_update_averages
        if update_averages:
            # clones sharing the stored averages' storage, updated by a compiled function itself;
            # in the graph by a zero term, so that the function finds their updates
            running_mean, running_inv_std = self.mean.clone(), self.inv_std.clone()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # PyTensor 3 deprecates it
                running_mean.default_update = _as_type_of(
                    running_mean, (1 - self.alpha) * running_mean + self.alpha * input_mean)
                running_inv_std.default_update = _as_type_of(
                    running_inv_std,
                    (1 - self.alpha) * running_inv_std + self.alpha * input_inv_std)
            mean = mean + 0 * running_mean
            inv_std = inv_std + 0 * running_inv_std
        param_axes = iter(range(input.ndim - len(self.axes)))
        pattern = ["x" if axis in self.axes else next(param_axes) for axis in range(input.ndim)]
        beta = 0 if self.beta is None else self.beta.dimshuffle(pattern)
        gamma = 1 if self.gamma is None else self.gamma.dimshuffle(pattern)
        return (input - mean.dimshuffle(pattern)) * (gamma * inv_std.dimshuffle(pattern)) + beta


def _as_type_of(shared, value):
    """``value`` with ``shared``'s static shape (PyTensor compiles a default update only of the
    same type as its variable; Theano's types have no shapes)."""
    if engine.name() != "pytensor":
        return value
    return T.specify_shape(value, shared.type.shape)


def _reciprocal(x):
    """``1 / x`` as Theano's ``T.inv`` (PyTensor's ``reciprocal``)."""
    return T.reciprocal(x) if engine.name() == "pytensor" else T.inv(x)


def batch_norm(layer, **kwargs):
    """Insert batch normalisation before ``layer``'s nonlinearity, as Lasagne's ``batch_norm``:
    the layer loses its nonlinearity (made linear) and its bias ``b`` (which the normalisation
    would cancel), and a ``BatchNormLayer`` (``kwargs``) then a ``NonlinearityLayer`` with the
    nonlinearity come on top; returns the top layer. Named ``{name}_bn`` and
    ``{name}_bn_nonlin`` where the layer (or ``name=``) has a name."""
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = identity
    if getattr(layer, "b", None) is not None:
        del layer.params[layer.b]
        layer.b = None
    bn_name = kwargs.pop("name", None) or (layer.name and layer.name + "_bn")
    layer = BatchNormLayer(layer, name=bn_name, **kwargs)
    if nonlinearity is not None:
        layer = NonlinearityLayer(layer, nonlinearity, name=bn_name and bn_name + "_nonlin")
    return layer


# ----------------------------------------------------------------------------------------------
# Elementwise and shape layers


class NonlinearityLayer(Layer):
    """``nonlinearity(x)`` (``None``: linear)."""

    def __init__(self, incoming, nonlinearity=rectify, **kwargs):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = identity if nonlinearity is None else nonlinearity

    def get_output_for(self, input, **kwargs):
        return self.nonlinearity(input)


class DimshuffleLayer(Layer):
    """``input.dimshuffle(pattern)``: axes reordered, ``"x"`` a new axis of 1; an axis left out
    must have size 1."""

    def __init__(self, incoming, pattern, **kwargs):
        super().__init__(incoming, **kwargs)
        used = [p for p in pattern if p != "x"]
        if not all(isinstance(p, numbers.Integral) for p in used) or len(set(used)) < len(used):
            raise ValueError(f"pattern {pattern!r} must hold each input axis at most once, "
                             f"and 'x'")
        self.pattern = tuple(pattern)
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        for p in self.pattern:
            if p != "x" and not 0 <= p < len(input_shape):
                raise ValueError(f"pattern {self.pattern!r} names axis {p}, but the input shape "
                                 f"{input_shape!r} has {len(input_shape)}")
        for axis, size in enumerate(input_shape):
            if axis not in self.pattern and size not in (1, None):
                raise ValueError(f"pattern {self.pattern!r} drops axis {axis} of size {size}: "
                                 f"only axes of size 1 can be dropped")
        return tuple(1 if p == "x" else input_shape[p] for p in self.pattern)

    def get_output_for(self, input, **kwargs):
        return input.dimshuffle(self.pattern)


def _is_symbolic(value):
    return isinstance(value, engine.backend().graph.basic.Variable)


class ReshapeLayer(Layer):
    """``input.reshape(shape)``, where an entry of ``shape`` is an int, ``-1`` (the size that
    makes the total match, once), ``[i]`` (the input's size on axis ``i``) or a symbolic scalar
    (whose size is then unknown to the layers above)."""

    def __init__(self, incoming, shape, **kwargs):
        super().__init__(incoming, **kwargs)
        shape = tuple(shape)
        for s in shape:
            if isinstance(s, numbers.Integral):
                if s == 0 or s < -1:
                    raise ValueError(f"shape {shape!r}: ints must be positive or -1")
            elif isinstance(s, list):
                if len(s) != 1 or not isinstance(s[0], numbers.Integral) or s[0] < 0:
                    raise ValueError(f"shape {shape!r}: an input axis is written [i], i >= 0")
            elif not (_is_symbolic(s) and s.ndim == 0):
                raise ValueError(f"shape {shape!r}: entries are ints, [i] or symbolic scalars")
        if sum(1 for s in shape if isinstance(s, numbers.Integral) and s == -1) > 1:
            raise ValueError(f"shape {shape!r} has -1 more than once")
        self.shape = shape
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape, **kwargs):
        output = list(self.shape)
        masked_input, masked_output = list(input_shape), list(self.shape)
        for dim, o in enumerate(self.shape):
            if isinstance(o, list):
                if o[0] >= len(input_shape):
                    raise ValueError(f"shape {self.shape!r} names [{o[0]}], but the input shape "
                                     f"{input_shape!r} has {len(input_shape)} axes")
                output[dim] = masked_output[dim] = input_shape[o[0]]
                if input_shape[o[0]] is None:  # the same unknown size on both sides
                    masked_input[o[0]] = masked_output[dim] = 1
            elif _is_symbolic(o):
                output[dim] = masked_output[dim] = None
        input_size = None if None in masked_input else int(numpy.prod(masked_input))
        output_size = None if None in masked_output else int(numpy.prod(masked_output))
        if -1 in [o for o in output if isinstance(o, numbers.Integral)]:
            dim = next(d for d, o in enumerate(output)
                       if isinstance(o, numbers.Integral) and o == -1)
            if input_size is None or output_size is None:
                output[dim] = output_size = None
            else:
                output[dim] = input_size // -output_size
                output_size = -output_size * output[dim]
        if None not in (input_size, output_size) and input_size != output_size:
            raise ValueError(f"input shape {input_shape!r} cannot be reshaped to {self.shape!r}: "
                             f"the total size differs")
        return tuple(output)

    def get_output_for(self, input, input_shape=None, **kwargs):
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        return input.reshape(tuple(
            (input.shape[o[0]] if shape[o[0]] is None else shape[o[0]]) if isinstance(o, list)
            else o for o in self.shape))


class PadLayer(Layer):
    """``val`` added around each axis after the first ``batch_ndim``: ``width`` on each side, or
    per axis an int or a pair ``(before, after)``."""

    def __init__(self, incoming, width, val=0, batch_ndim=2, **kwargs):
        super().__init__(incoming, **kwargs)
        self.width, self.val, self.batch_ndim = width, val, batch_ndim

    def _widths(self, ndim):
        widths = [self.width] * (ndim - self.batch_ndim) \
            if isinstance(self.width, numbers.Integral) else self.width
        return [(w, w) if isinstance(w, numbers.Integral) else tuple(w) for w in widths]

    def get_output_shape_for(self, input_shape):
        shape = list(input_shape)
        for k, (before, after) in enumerate(self._widths(len(shape))):
            if shape[k + self.batch_ndim] is not None:
                shape[k + self.batch_ndim] += before + after
        return tuple(shape)

    def get_output_for(self, input, input_shape=None, **kwargs):
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        out_shape = [input.shape[k] if size is None else size for k, size in enumerate(shape)]
        cut = [slice(None)] * input.ndim
        for k, (before, after) in enumerate(self._widths(input.ndim)):
            axis = k + self.batch_ndim
            cut[axis] = slice(before, before + out_shape[axis])
            out_shape[axis] = out_shape[axis] + before + after
        out = T.zeros(out_shape, dtype=input.dtype)
        if self.val:
            out = out + numpy.asarray(self.val, dtype=input.dtype)
        return T.set_subtensor(out[tuple(cut)], input)


# ----------------------------------------------------------------------------------------------
# Dropout


class DropoutLayer(Layer):
    r"""Dropout (Srivastava et al., 2014): in training, each input is kept with probability
    :math:`q = 1 - p`, and scaled by :math:`1 / q` (``rescale``) so that its expectation is
    unchanged; deterministic mode passes the input through.

    .. math::
        y = x \odot m / q, \quad m_i \sim Bernoulli(q)

    The mask is drawn as Lasagne draws it: from Theano's MRG31k3p streams
    (``dltut.random.RandomStreams``) seeded at construction by ``rng.randint(1, 2147462579)``,
    ``binomial(size, p=q)`` of the input's shape (its construction-time shape; the symbolic one,
    with Theano's guess of 15360 streams, where that has None): a new draw at each call of the
    compiled function, the same as Theano's, bit for bit.
    """

    def __init__(self, incoming, p=0.5, rescale=True, **kwargs):
        super().__init__(incoming, **kwargs)
        seed = self._draw_rng().randint(1, 2147462579)
        self._srng = random.RandomStreams(seed, name=self.name or "dropout")
        self.p, self.rescale = p, rescale

    def get_output_for(self, input, deterministic=False, input_shape=None, **kwargs):
        if deterministic or self.p == 0:
            return input
        retain_prob = T.constant(1, dtype="int8") - self.p
        if self.rescale:
            input = input / retain_prob
        mask_shape, n_streams = self.input_shape, None
        if None in mask_shape:  # Lasagne's input.shape, drawn with Theano's 15360 streams
            resolved = mask_shape if input_shape is None else tuple(input_shape)
            mask_shape = input.shape if None in resolved else resolved
            n_streams = random.MAX_STREAMS
        mask = self._srng.binomial(mask_shape, p=retain_prob, dtype=input.dtype,
                                   nstreams=n_streams)
        return input * mask


# ----------------------------------------------------------------------------------------------
# Merging layers, with cropping


def autocrop(inputs, cropping, shapes=None):
    """``inputs`` cut to a common size on the axes where ``cropping`` (one entry per axis from
    the first; missing ones None) says how: ``"lower"`` keeps the first ``min`` entries,
    ``"upper"`` the last, ``"center"`` those from ``(size - min) // 2``; None leaves the axis.
    ``shapes`` (the inputs' shapes, None where unknown) makes the cuts constant where the sizes
    are known; elsewhere they are read from the symbolic shapes, as Lasagne does."""
    if cropping is None:
        return list(inputs)
    ndim = inputs[0].ndim
    if not all(input.ndim == ndim for input in inputs):
        raise ValueError(f"autocrop needs inputs of the same dimensions, got "
                         f"{[input.ndim for input in inputs]}")
    shapes = [[None] * ndim if shape is None else list(shape)
              for shape in (shapes or [None] * len(inputs))]
    sizes = [[input.shape[axis] if shape[axis] is None else shape[axis] for axis in range(ndim)]
             for input, shape in zip(inputs, shapes)]
    cropping = list(cropping) + [None] * (ndim - len(cropping))
    slices = [[] for _ in inputs]
    for axis, mode in enumerate(cropping):
        if mode is None:
            for cuts in slices:
                cuts.append(slice(None))
            continue
        if mode not in ("lower", "upper", "center"):
            raise ValueError(f"crop mode {mode!r}: choose 'lower', 'upper', 'center' or None")
        known = [shape[axis] for shape in shapes]
        smallest = min(known) if None not in known else T.min(
            T.stack([T.as_tensor_variable(size[axis]) for size in sizes]))
        for cuts, size in zip(slices, sizes):
            if mode == "lower":
                cuts.append(slice(None, smallest))
            elif mode == "upper":
                cuts.append(slice(-smallest, None))
            else:
                offset = (size[axis] - smallest) // 2
                cuts.append(slice(offset, offset + smallest))
    return [input[tuple(cuts)] for input, cuts in zip(inputs, slices)]


def autocrop_array_shapes(input_shapes, cropping):
    """The shapes ``autocrop`` gives: on each cropped axis, the smallest size (None if any is
    unknown)."""
    if cropping is None:
        return list(input_shapes)
    ndim = len(input_shapes[0])
    if not all(len(shape) == ndim for shape in input_shapes):
        raise ValueError(f"autocrop needs shapes of the same dimensions, got {input_shapes!r}")
    cropping = list(cropping) + [None] * (ndim - len(cropping))
    columns = []
    for sizes, mode in zip(zip(*input_shapes), cropping):
        if mode is None:
            columns.append(sizes)
        elif mode in ("lower", "center", "upper"):
            columns.append([None if None in sizes else min(sizes)] * len(sizes))
        else:
            raise ValueError(f"crop mode {mode!r}: choose 'lower', 'upper', 'center' or None")
    return [tuple(shape) for shape in zip(*columns)]


class ConcatLayer(MergeLayer):
    """The inputs concatenated along ``axis`` (U-Net's skip connections), cut first by
    ``cropping`` (``autocrop``; never along ``axis``)."""

    def __init__(self, incomings, axis=1, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        self.axis = axis
        if cropping is not None:
            cropping = list(cropping)
            cropping[axis] = None
        self.cropping = cropping

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        output = [next((s for s in sizes if s is not None), None) for sizes in zip(*input_shapes)]
        axis = self.axis % len(output)
        for shape in input_shapes:
            if len(shape) != len(output) or any(
                    k != axis and None not in (s, o) and s != o
                    for k, (s, o) in enumerate(zip(shape, output))):
                raise ValueError(f"ConcatLayer: input shapes {input_shapes!r} differ off the "
                                 f"concatenation axis {self.axis}")
        sizes = [shape[self.axis] for shape in input_shapes]
        output[self.axis] = None if None in sizes else sum(sizes)
        return tuple(output)

    def get_output_for(self, inputs, input_shapes=None, **kwargs):
        inputs = autocrop(inputs, self.cropping, input_shapes)
        if input_shapes is not None and engine.name() == "pytensor":
            # the gradient splits by the inputs' sizes, which JAX mode needs as constants
            inputs = [T.specify_shape(input, shape) if None not in shape else input
                      for input, shape in zip(inputs, autocrop_array_shapes(input_shapes,
                                                                            self.cropping))]
        return T.concatenate(inputs, axis=self.axis)


class ElemwiseMergeLayer(MergeLayer):
    """``merge_function`` applied elementwise, left to right over the inputs (cut first by
    ``cropping``, ``autocrop``)."""

    def __init__(self, incomings, merge_function, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        self.merge_function, self.cropping = merge_function, cropping

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        output = tuple(next((s for s in sizes if s is not None), None)
                       for sizes in zip(*input_shapes))
        for shape in input_shapes:
            if len(shape) != len(output) or any(None not in (s, o) and s != o
                                                for s, o in zip(shape, output)):
                raise ValueError(f"{type(self).__name__}: input shapes {input_shapes!r} differ")
        return output

    def get_output_for(self, inputs, input_shapes=None, **kwargs):
        return functools.reduce(self.merge_function, autocrop(inputs, self.cropping,
                                                              input_shapes))


class ElemwiseSumLayer(ElemwiseMergeLayer):
    """The sum of the inputs, each times its coefficient in ``coeffs`` (FCN-8's fusion of
    scores)."""

    def __init__(self, incomings, coeffs=1, cropping=None, **kwargs):
        super().__init__(incomings, T.add, cropping=cropping, **kwargs)
        if isinstance(coeffs, list):
            if len(coeffs) != len(incomings):
                raise ValueError(f"{len(coeffs)} coeffs for {len(incomings)} incomings")
        else:
            coeffs = [coeffs] * len(incomings)
        self.coeffs = coeffs

    def get_output_for(self, inputs, input_shapes=None, **kwargs):
        inputs = [input * coeff if coeff != 1 else input
                  for coeff, input in zip(self.coeffs, inputs)]
        return super().get_output_for(inputs, input_shapes, **kwargs)


# ----------------------------------------------------------------------------------------------
# Networks


def get_all_layers(layer, treat_as_input=None):
    """Every layer under ``layer`` (or a list of layers), each once, in Lasagne's order: a layer
    comes after all the layers it reads, inputs depth first in the order given; the layers in
    ``treat_as_input`` are not looked under."""
    queue = deque(layer if isinstance(layer, (list, tuple)) else [layer])
    seen, done, result = set(treat_as_input or ()), set(), []
    while queue:
        layer = queue[0]
        if layer is None:
            queue.popleft()
        elif layer not in seen:
            seen.add(layer)
            if hasattr(layer, "input_layers"):
                queue.extendleft(reversed(layer.input_layers))
            elif getattr(layer, "input_layer", None) is not None:
                queue.appendleft(layer.input_layer)
        else:
            queue.popleft()
            if layer not in done:
                result.append(layer)
                done.add(layer)
    return result


def _known_shape(variable):
    """The sizes ``variable``'s graph fixes (None elsewhere): its type's on PyTensor, a
    ``specify_shape``'s constants on Theano (``T.specify_shape(x, (x.shape[0], 3, 64, 64))``
    fixes all but the batch)."""
    if engine.name() == "pytensor":
        return tuple(variable.type.shape)
    owner = variable.owner
    if owner is not None and type(owner.op).__name__ == "SpecifyShape":
        sizes = getattr(owner.inputs[1], "data", None)
        if sizes is not None:
            return tuple(int(s) for s in sizes)
        vector = owner.inputs[1].owner
        if vector is not None and type(vector.op).__name__ == "MakeVector":
            return tuple(_constant_or_none(size) for size in vector.inputs)
    return (None,) * variable.ndim


def _constant_or_none(size):
    """A symbolic size's value where the graph makes it a constant; None otherwise."""
    try:
        return int(T.get_scalar_constant_value(size))
    except T.NotScalarConstantError:
        return None


def _resolved_shape(shape, variable):
    """``shape`` with its None entries filled in from ``variable``'s known sizes."""
    known = _known_shape(variable)
    if len(known) != len(shape):
        raise ValueError(f"an input of {variable.ndim} dimensions for a layer of shape "
                         f"{tuple(shape)!r}")
    return tuple(k if s is None else s for s, k in zip(shape, known))


def get_output(layer_or_layers, inputs=None, deterministic=False, **kwargs):
    """The symbolic output of ``layer_or_layers`` (a layer, or a list: a list of outputs).

    ``inputs`` is None (each ``InputLayer``'s ``input_var``), one expression (for the network's
    one ``InputLayer``), or a dict from layers to expressions (a layer so given is not looked
    under). ``deterministic=True`` builds the output for evaluation: no dropout, batch
    normalisation by its running averages. ``kwargs`` go to every layer
    (``batch_norm_use_averages``, ...).

    Each layer is also given its input's shape, the ``InputLayer``'s shape with the sizes the
    input expression's type knows (see the module's docstring).
    """
    treat_as_input = list(inputs) if isinstance(inputs, dict) else []
    if any(not isinstance(layer, Layer) for layer in treat_as_input):
        raise TypeError("the keys of get_output's inputs must be layers")
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    outputs = {layer: layer.input_var for layer in all_layers
               if isinstance(layer, InputLayer) and layer not in treat_as_input}
    if isinstance(inputs, dict):
        outputs.update((layer, T.as_tensor_variable(expr)) for layer, expr in inputs.items())
    elif inputs is not None:
        if len(outputs) > 1:
            raise ValueError(f"get_output was given one input expression for a network of "
                             f"{len(outputs)} input layers: give a dict from layers to "
                             f"expressions")
        outputs = {layer: T.as_tensor_variable(inputs) for layer in outputs}
    shapes = {layer: _resolved_shape(layer.output_shape, expr) for layer, expr in outputs.items()}
    for layer in all_layers:
        if layer in outputs:
            continue
        try:
            if isinstance(layer, MergeLayer):
                layer_inputs = [outputs[below] for below in layer.input_layers]
                shape_kwargs = {"input_shapes": [shapes[below] for below in layer.input_layers]}
                in_shape = shape_kwargs["input_shapes"]
            else:
                layer_inputs = outputs[layer.input_layer]
                shape_kwargs = {"input_shape": shapes[layer.input_layer]}
                in_shape = shape_kwargs["input_shape"]
        except KeyError:
            raise ValueError(f"get_output: no input expression for the free-floating layer "
                             f"{layer!r}: give a dict from that layer to an expression") from None
        outputs[layer] = layer.get_output_for(layer_inputs, deterministic=deterministic,
                                              **shape_kwargs, **kwargs)
        shapes[layer] = layer.get_output_shape_for(in_shape)
    if isinstance(layer_or_layers, (list, tuple)):
        return [outputs[layer] for layer in layer_or_layers]
    return outputs[layer_or_layers]


def get_output_shape(layer_or_layers, input_shapes=None):
    """The output shape of ``layer_or_layers``, from the input layers' shapes or from
    ``input_shapes`` (one shape, or a dict from layers to shapes)."""
    if not input_shapes:
        if isinstance(layer_or_layers, (list, tuple)):
            return [layer.output_shape for layer in layer_or_layers]
        return layer_or_layers.output_shape
    treat_as_input = list(input_shapes) if isinstance(input_shapes, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    shapes = {layer: layer.shape for layer in all_layers
              if isinstance(layer, InputLayer) and layer not in treat_as_input}
    if isinstance(input_shapes, dict):
        shapes.update(input_shapes)
    else:
        if len(shapes) > 1:
            raise ValueError("get_output_shape was given one shape for a network of several "
                             "input layers: give a dict from layers to shapes")
        shapes = {layer: tuple(input_shapes) for layer in shapes}
    for layer in all_layers:
        if layer not in shapes:
            below = [shapes[l] for l in layer.input_layers] if isinstance(layer, MergeLayer) \
                else shapes[layer.input_layer]
            shapes[layer] = layer.get_output_shape_for(below)
    if isinstance(layer_or_layers, (list, tuple)):
        return [shapes[layer] for layer in layer_or_layers]
    return shapes[layer_or_layers]


def get_all_params(layer, unwrap_shared=True, **tags):
    """The parameters of every layer under ``layer`` (``get_all_layers``' order, each layer's in
    creation order, each once) with the ``tags`` asked: ``get_all_params(net, trainable=True)``."""
    params = []
    for each in get_all_layers(layer):
        params += [param for param in each.get_params(**tags) if param not in params]
    return params


def count_params(layer, **tags):
    """The number of values in ``get_all_params(layer, **tags)``."""
    return sum(int(numpy.prod(param.get_value(borrow=True).shape))
               for param in get_all_params(layer, **tags))


def get_all_param_values(layer, **tags):
    """Copies of the values of ``get_all_params(layer, **tags)``, in that order."""
    return [param.get_value() for param in get_all_params(layer, **tags)]


def set_all_param_values(layer, values, **tags):
    """Set ``get_all_params(layer, **tags)`` to ``values`` (arrays of their shapes, in order)."""
    params = get_all_params(layer, **tags)
    if len(params) != len(values):
        raise ValueError(f"{len(values)} values for {len(params)} parameters")
    for param, value in zip(params, values):
        expected = param.get_value(borrow=True).shape
        if numpy.shape(value) != expected:
            raise ValueError(f"parameter {param.name!r} has shape {expected}, the value to set "
                             f"{numpy.shape(value)}")
        param.set_value(value)


# ----------------------------------------------------------------------------------------------
# Objectives and regularisation


def categorical_crossentropy(predictions, targets):
    r"""The cross-entropy of each row of ``predictions`` (class probabilities) with its target:

    .. math::
        \ell_i = -\log p_{i, t_i} \quad \text{(int targets)}, \qquad
        \ell_i = -\sum_k t_{ik} \log p_{ik} \quad \text{(one-hot or soft targets)}

    a vector, one loss per row (Theano's ``categorical_crossentropy``)."""
    if targets.ndim == predictions.ndim:
        return -T.sum(targets * T.log(predictions), axis=predictions.ndim - 1)
    if targets.ndim == predictions.ndim - 1:
        # an int64 start: PyTensor's JAX arange would count in the type of an int8 0 (to 127)
        rows = T.arange(T.constant(0, dtype="int64"), targets.shape[0])
        return -T.log(predictions[rows, targets])
    raise ValueError(f"targets of {targets.ndim} dimensions for predictions of "
                     f"{predictions.ndim}: give class indices or one row per prediction")


def l1(x):
    """:math:`\\sum |x|`."""
    return T.sum(abs(x))


def l2(x):
    """:math:`\\sum x^2`."""
    return T.sum(x ** 2)


def apply_penalty(tensor_or_tensors, penalty):
    """``penalty`` summed over a list of tensors (or of one tensor)."""
    if isinstance(tensor_or_tensors, (list, tuple)):
        return sum(penalty(x) for x in tensor_or_tensors)
    return penalty(tensor_or_tensors)


def regularize_layer_params(layer, penalty, tags=None):
    """``penalty`` of the parameters of ``layer`` (or of a list of layers) with ``tags``
    (``{"regularizable": True}``: the weights, not the biases)."""
    tags = {"regularizable": True} if tags is None else tags
    layers = layer if isinstance(layer, (list, tuple)) else [layer]
    return apply_penalty([param for each in layers for param in each.get_params(**tags)], penalty)


def regularize_network_params(layer, penalty, tags=None):
    """``penalty`` of every parameter under ``layer`` with ``tags`` (``{"regularizable":
    True}``), e.g. ``weight_decay * regularize_network_params(net, l2)``."""
    tags = {"regularizable": True} if tags is None else tags
    return apply_penalty(get_all_params(layer, **tags), penalty)
