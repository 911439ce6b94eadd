"""The tutorials' layers: each builds its part of the graph at once from a symbolic ``input``.

Every layer sets ``self.W``, ``self.b``, ``self.params`` and ``self.output`` (the logistic layer also
``p_y_given_x`` and ``y_pred``). Weights come from an explicit ``rng`` in the tutorials' draw order,
so the same seed gives the tutorials' initial weights.
"""

import numpy

from dltut import engine, ops
from dltut.engine import T


def _shared_zeros(shape, name):
    return engine.shared(numpy.zeros(shape, dtype=engine.floatX()), name=name)


class LogisticRegression:
    """Multi-class logistic regression: a softmax over affine projections of the input.

    .. math::
        P(Y=i|x, W, b) = softmax_i(W x + b) = \\frac{e^{W_i x + b_i}}{\\sum_j e^{W_j x + b_j}}

        y_{pred} = argmax_i P(Y=i|x, W, b)

    ``W`` (n_in, n_out) and ``b`` (n_out,) start at zero, as in the tutorial; no random draw.
    """

    def __init__(self, input, n_in, n_out, W=None, b=None, name="logreg"):
        self.input = input
        self.W = W if W is not None else _shared_zeros((n_in, n_out), f"W_{name}")
        self.b = b if b is not None else _shared_zeros((n_out,), f"b_{name}")
        # one row per example, one column per class
        self.p_y_given_x = engine.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.output = self.p_y_given_x
        self.params = [self.W, self.b]

    def negative_log_likelihood(self, y):
        """Mean negative log-likelihood of the labels ``y`` over the minibatch.

        .. math::
            \\ell(\\theta=\\{W,b\\}, \\mathcal{D}) = -\\frac{1}{|\\mathcal{D}|}
                \\sum_{i=0}^{|\\mathcal{D}|} \\log P(Y=y^{(i)}|x^{(i)}, W, b)

        The mean, not the sum, keeps the learning rate less dependent on the batch size.
        """
        # log P of the correct class of each row: LP[arange(n), y]
        log_p = T.log(self.p_y_given_x)
        return -T.mean(log_p[T.arange(y.shape[0]), y])

    def errors(self, y):
        """The zero-one loss: fraction of the minibatch whose predicted label differs from ``y``."""
        if y.ndim != self.y_pred.ndim:
            raise TypeError(f"y must be a vector of labels like y_pred, got {y.type}")
        if not y.dtype.startswith("int"):
            raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
        return T.mean(T.neq(self.y_pred, y))


def tanh(x):
    """The hyperbolic tangent, the tutorials' default activation."""
    return T.tanh(x)


def sigmoid(x):
    """The logistic sigmoid (``T.nnet.sigmoid`` in Theano, ``T.sigmoid`` in PyTensor)."""
    return T.nnet.sigmoid(x) if engine.name() == "theano" else T.sigmoid(x)


class HiddenLayer:
    """A fully connected layer: ``output = activation(dot(input, W) + b)``.

    .. math::
        h = \\tanh(x W + b)

    ``W`` (n_in, n_out) is drawn uniform in :math:`\\pm\\sqrt{6 / (n_in + n_out)}` by one
    ``rng.uniform`` call, then multiplied by 4 for the sigmoid (whose slope at zero is 1/4); ``b`` is
    zero. ``activation=None`` gives a linear layer, as in the tutorial.
    """

    def __init__(self, rng, input, n_in, n_out, W=None, b=None, activation=tanh, name="hidden"):
        self.input = input
        if W is None:
            bound = numpy.sqrt(6.0 / (n_in + n_out))
            W_values = numpy.asarray(
                rng.uniform(low=-bound, high=bound, size=(n_in, n_out)), dtype=engine.floatX()
            )
            if activation is sigmoid:
                W_values *= 4
            W = engine.shared(W_values, name=f"W_{name}")
        self.W = W
        self.b = b if b is not None else _shared_zeros((n_out,), f"b_{name}")
        lin_output = T.dot(input, self.W) + self.b
        self.output = lin_output if activation is None else activation(lin_output)
        self.params = [self.W, self.b]


class LeNetConvPoolLayer:
    """A convolution with a bank of filters, then max-pooling, a bias and tanh.

    .. math::
        h = \\tanh(pool(W * x) + b)

    ``input`` has shape ``image_shape`` (batch, channels, rows, cols); ``W`` has
    ``filter_shape`` (n_filters, channels, f_rows, f_cols) and is drawn uniform in
    :math:`\\pm\\sqrt{6 / (fan_{in} + fan_{out})}` by one ``rng.uniform`` call, where each hidden
    unit sees ``fan_in = channels * f_rows * f_cols`` inputs and sends gradients to
    ``fan_out = n_filters * f_rows * f_cols // pool area`` (integer division, as in the tutorial).
    ``b`` (one per filter) is zero. ``self.output_shape`` is the shape of ``self.output``.
    """

    def __init__(self, rng, input, filter_shape, image_shape, poolsize=(2, 2), name="conv0"):
        conv_shape = ops.conv_output_shape(image_shape, filter_shape)  # checks the channels
        self.output_shape = ops.pool_output_shape(conv_shape, poolsize)
        self.input = input
        fan_in = int(numpy.prod(filter_shape[1:]))
        fan_out = filter_shape[0] * int(numpy.prod(filter_shape[2:])) // int(numpy.prod(poolsize))
        bound = numpy.sqrt(6.0 / (fan_in + fan_out))
        W_values = numpy.asarray(rng.uniform(low=-bound, high=bound, size=filter_shape),
                                 dtype=engine.floatX())
        self.W = engine.shared(W_values, name=f"W_{name}")
        self.b = _shared_zeros((filter_shape[0],), f"b_{name}")
        conv_out = ops.conv2d(input, self.W, input_shape=image_shape, filter_shape=filter_shape)
        pooled_out = ops.pool_2d(conv_out, ws=poolsize, ignore_border=True)
        # the bias is one number per feature map, broadcast over batch, rows and columns
        self.output = T.tanh(pooled_out + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]
