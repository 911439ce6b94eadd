"""Update rules as pure functions: a cost and its parameters in, ``(param, new_value)`` pairs out."""

from dltut import engine


def sgd(cost, params, learning_rate):
    """Plain stochastic gradient descent, one step per call of the compiled function.

    .. math::
        \\theta := \\theta - \\eta \\, \\partial \\ell / \\partial \\theta

    Returns the list of ``(param, param - learning_rate * gradient)`` pairs for ``updates=``, in the
    order of ``params``. ``learning_rate`` is a number, or a symbolic scalar (the SdA's
    pretraining sets its value per layer).
    """
    if isinstance(learning_rate, (int, float)) and not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    gparams = engine.grad(cost, params)
    return [(param, param - learning_rate * gparam) for param, gparam in zip(params, gparams)]
