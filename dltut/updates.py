"""Update rules as pure functions: a cost and its parameters in, ``(param, new_value)`` pairs out."""

import numpy

from dltut import engine
from dltut.engine import T


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


def adam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam (Kingma and Ba, 2014), as Lasagne computes it: at step :math:`t = 1, 2, \\ldots`

    .. math::
        a_t = \\eta \\sqrt{1 - \\beta_2^t} / (1 - \\beta_1^t)

        m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\quad
        v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2

        \\theta_t = \\theta_{t-1} - a_t m_t / (\\sqrt{v_t} + \\epsilon)

    ``loss_or_grads`` is the cost, or the list of its gradients with respect to ``params``
    (shared variables). The moments ``m`` and ``v`` start at zero in shared variables named
    ``{param}_m`` and ``{param}_v``, the step count ``t`` in ``adam_t`` (floatX). Returns the
    update pairs in Lasagne's order: for each parameter ``m``, ``v``, then the parameter; ``t``
    last. ``learning_rate`` may be a shared variable, whose value the caller changes between
    epochs (the segmentation tutorials decay it).
    """
    if any(not hasattr(param, "get_value") for param in params):
        raise ValueError(f"params must be shared variables, got {params!r}")
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError(f"{len(loss_or_grads)} gradients for {len(params)} parameters")
        grads = list(loss_or_grads)
    else:
        grads = engine.grad(loss_or_grads, params)
    t_prev = engine.shared(numpy.asarray(0.0, dtype=engine.floatX()), name="adam_t")
    one = T.constant(1)  # an int8: no upcast of float32 terms
    t = t_prev + 1
    a_t = learning_rate * T.sqrt(one - beta2 ** t) / (one - beta1 ** t)
    updates = []
    for param, g_t in zip(params, grads):
        value = param.get_value(borrow=True)
        m_prev = engine.shared(numpy.zeros(value.shape, dtype=value.dtype), name=f"{param.name}_m")
        v_prev = engine.shared(numpy.zeros(value.shape, dtype=value.dtype), name=f"{param.name}_v")
        m_t = beta1 * m_prev + (one - beta1) * g_t
        v_t = beta2 * v_prev + (one - beta2) * g_t ** 2
        step = a_t * m_t / (T.sqrt(v_t) + epsilon)
        updates += [(m_prev, m_t), (v_prev, v_t), (param, param - step)]
    updates.append((t_prev, t))
    return updates
