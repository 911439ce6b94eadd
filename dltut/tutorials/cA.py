"""A contractive autoencoder on MNIST (the tutorial's cA.py).

An autoencoder with tied weights, as in ``dA``: the code ``h = s(W x + b)`` and the reconstruction
``z = s(W^T h + b')``. Instead of corrupting the input, the contractive autoencoder adds to the
reconstruction cost the squared Frobenius norm of the Jacobian of the code with respect to the
input, so that the code changes little when the input moves a little. ``test_cA`` trains one of
500 hidden units with the tutorial's settings and seed and writes the weights of its first 100
hidden units as a picture.

Two defects of the original are reproduced by default, so that its printed numbers can be checked:

* The penalty is ``T.sum(J ** 2) // n_batchsize``: floor division, whose gradient is zero. The
  contraction term adds a constant to the cost and never trains; the original trains a plain
  autoencoder. ``fixed_penalty=True`` divides instead (``/``), and the contraction trains.
* The epoch line means to print the mean reconstruction cost and the mean Jacobian norm over the
  epoch's minibatches, but prints the mean of the first minibatch's two costs and the mean of the
  square roots of the second's (``c_array[0]`` and ``c_array[1]`` are rows, not columns). With
  ``fixed_penalty=True`` the line prints the epoch's means; either way the result holds them.

References: S. Rifai, P. Vincent, X. Muller, X. Glorot, Y. Bengio, Contractive Auto-Encoders:
Explicit Invariance During Feature Extraction, ICML 2011; S. Rifai, X. Muller, X. Glorot,
G. Mesnil, Y. Bengio, P. Vincent, Learning invariant features through local space contraction,
Technical Report 1360, Universite de Montreal.
"""

import dataclasses
import logging
import math
import os
import timeit

import numpy

from dltut import data, engine
from dltut.atomic import check_output_folder
from dltut.engine import T
from dltut.fitting import (check_batch_size, check_positive_integers, check_seed,
                           check_sgd_settings, prepare)
from dltut.plots import tile_raster_images, write_png
from dltut.trainer import Minibatches
from dltut.tutorials.dA import tied_weights
from dltut.tutorials.mlp import sigmoid
from dltut.updates import sgd

log = logging.getLogger(__name__)

IMAGE_SHAPE = (28, 28)  # an MNIST digit
FILTER_TILES = (10, 10)  # the picture shows the first 100 hidden units
RUN_OPTIONS = ("floatX", "mode", "device", "tf32", "fused")  # the fitting.Options test_cA takes


class cA:
    """A contractive autoencoder with tied weights.

    .. math::
        h = s(W x + b)                                           (the hidden code)

        J_{ij} = \\frac{\\partial h_j}{\\partial x_i} = h_j (1 - h_j) W_{ij}   (its Jacobian)

        z = s(W^T h + b')                                        (the reconstruction)

        L = -\\sum_{k=1}^{d} [x_k \\log z_k + (1 - x_k) \\log(1 - z_k)]
            + \\lambda \\sum_{i,j} J_{ij}^2

    ``W`` (n_visible, n_hidden) is drawn uniform in :math:`\\pm 4 \\sqrt{6 / (n_{hidden} +
    n_{visible})}` by one ``numpy_rng.uniform`` call, the only draw; ``b`` (hidden) and
    ``b_prime`` (visible) start at zero. ``W``, ``bhid`` and ``bvis`` may be given instead, to
    share them with another model. ``input`` is the symbolic minibatch, one example per row, of
    exactly ``n_batchsize`` rows (the Jacobian is shaped for it); a new floatX matrix if None (the
    tutorial's was float64 whatever floatX). ``params`` is ``[W, b, b_prime]``, named
    ``W_{name}``, ``b_{name}``, ``b_prime_{name}``.
    """

    def __init__(self, numpy_rng, input=None, n_visible=784, n_hidden=100, n_batchsize=1,
                 W=None, bhid=None, bvis=None, name="cA"):
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        self.n_batchsize = n_batchsize
        self.W, self.b, self.b_prime = tied_weights(numpy_rng, n_visible, n_hidden, W, bhid, bvis,
                                                    name)
        self.W_prime = self.W.T  # tied weights
        self.x = input if input is not None else T.matrix("input")
        self.params = [self.W, self.b, self.b_prime]

    def get_hidden_values(self, input):
        """The hidden code of ``input``: :math:`s(x W + b)`."""
        return sigmoid(T.dot(input, self.W) + self.b)

    def get_jacobian(self, hidden, W):
        """The Jacobian of each example's code with respect to its input:
        (n_batchsize, n_visible, n_hidden), ``J[n, i, j] = h[n, j] (1 - h[n, j]) W[i, j]``."""
        slope = T.reshape(hidden * (1 - hidden), (self.n_batchsize, 1, self.n_hidden))
        return slope * T.reshape(W, (1, self.n_visible, self.n_hidden))

    def get_reconstructed_input(self, hidden):
        """The reconstruction of a hidden code: :math:`s(h W^T + b')`."""
        return sigmoid(T.dot(hidden, self.W_prime) + self.b_prime)

    def get_cost_updates(self, contraction_level, learning_rate, fixed_penalty=False):
        """The cost of one minibatch and its SGD updates: ``(cost, updates)``.

        The cost is the mean over the minibatch of the reconstruction cross-entropy (``L_rec``,
        one per example) plus ``contraction_level`` times ``L_jacob``, the squared Frobenius norm
        of the Jacobian per example: its sum over the minibatch divided by ``n_batchsize``. The
        tutorial divides with ``//`` (floor division: the penalty is floored and its gradient is
        zero, so it never trains); ``fixed_penalty=True`` divides with ``/``.
        """
        y = self.get_hidden_values(self.x)
        z = self.get_reconstructed_input(y)
        J = self.get_jacobian(y, self.W)
        # one cross-entropy per example (row)
        self.L_rec = -T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        if fixed_penalty:
            self.L_jacob = T.sum(J ** 2) / self.n_batchsize
        else:
            self.L_jacob = T.sum(J ** 2) // self.n_batchsize  # the tutorial's floor division
        cost = T.mean(self.L_rec) + contraction_level * T.mean(self.L_jacob)
        return cost, sgd(cost, self.params, learning_rate)


@dataclasses.dataclass
class CARun:
    """What ``test_cA`` trained."""

    reconstruction_costs: list  # per epoch, the mean over its minibatches of the mean L_rec
    jacobian_norms: list  # per epoch, the mean over its minibatches of sqrt(L_jacob)
    logged: list  # per epoch, the two numbers of its "Training epoch" line
    ca: cA  # the trained autoencoder
    filters: str  # the PNG of the weights of its first 100 hidden units
    elapsed: float  # seconds spent training, as logged ("ran for")


def test_cA(learning_rate=0.01, training_epochs=20, dataset=None, batch_size=10,
            output_folder="cA_plots", contraction_level=0.1, fixed_penalty=False, *, seed=123,
            **options):
    """Train a contractive autoencoder of 500 hidden units on MNIST (cA.py).

    From ``RandomState(seed)`` (the tutorial's 123 by default), with plain SGD on minibatches of
    ``batch_size``.
    Logs ``Training epoch %d, reconstruction cost ... jacobian norm ...`` for each epoch and writes
    ``cae_filters.png`` into ``output_folder`` (made if missing). By default this is the tutorial
    as it ran, floored penalty and epoch line included (see the module's docstring);
    ``fixed_penalty=True`` trains the contraction and logs the epoch's means. ``options`` are
    ``floatX``, ``mode``, ``device``, ``tf32`` and ``fused`` (of ``fitting.Options``; fused, the
    default in JAX mode, runs each epoch as one compiled call). Returns a ``CARun``.
    """
    check_seed(seed)
    options = prepare(options, only=RUN_OPTIONS)
    check_sgd_settings(learning_rate, batch_size)
    check_positive_integers(training_epochs=training_epochs)
    if not (isinstance(contraction_level, (int, float)) and 0 <= contraction_level < math.inf):
        raise ValueError(f"contraction_level must be a number >= 0 (0: a plain autoencoder), "
                         f"got {contraction_level!r}")
    train_set_x = data.load_shared(dataset)[0][0]
    check_batch_size([(train_set_x, None)], batch_size)
    check_output_folder(output_folder, "output_folder")  # made if missing, probed

    # compute number of minibatches for training
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()  # index to a [mini]batch
    x = T.matrix("x")  # the data is presented as rasterized images
    rng = numpy.random.RandomState(seed)
    ca = cA(numpy_rng=rng, input=x, n_visible=IMAGE_SHAPE[0] * IMAGE_SHAPE[1], n_hidden=500,
            n_batchsize=batch_size)
    cost, updates = ca.get_cost_updates(contraction_level=contraction_level,
                                        learning_rate=learning_rate, fixed_penalty=fixed_penalty)
    # each minibatch returns its two costs: the mean reconstruction cost and the penalty
    train_ca = engine.function(
        [index],
        [T.mean(ca.L_rec), ca.L_jacob],
        updates=updates,
        givens={x: train_set_x[index * batch_size:(index + 1) * batch_size]},
        name="train_ca",
    )
    # an epoch's calls of train_ca (one compiled call where the mode can: dltut.trainer)
    epoch_of = Minibatches(train_ca, None, None, n_train_batches, 0, 0, ca.params,
                           fused=options.fused)
    compile_start = timeit.default_timer()
    epoch_of.prepare([n_train_batches])  # compiled before the clock starts
    start_time = timeit.default_timer()
    log.debug("compiled before training in %.3fs", start_time - compile_start)
    run = CARun([], [], [], ca, os.path.join(output_folder, "cae_filters.png"), 0.0)
    for epoch in range(training_epochs):
        c = numpy.asarray(epoch_of.train_minibatches(0, n_train_batches), dtype="float64")
        run.reconstruction_costs.append(float(numpy.mean(c[:, 0])))
        run.jacobian_norms.append(float(numpy.mean(numpy.sqrt(c[:, 1]))))
        means = (run.reconstruction_costs[-1], run.jacobian_norms[-1])
        if fixed_penalty:
            run.logged.append(means)
        else:
            # the tutorial's rows: minibatch 0's two costs, minibatch 1's (or 0's if alone)
            second = c[min(1, len(c) - 1)]
            run.logged.append((float(numpy.mean(c[0])), float(numpy.mean(numpy.sqrt(second)))))
            log.debug("epoch %d's means: reconstruction cost %r, jacobian norm %r", epoch, *means)
        # the tutorial prints the values' reprs, each between print's spaces
        log.info("Training epoch %d, reconstruction cost  %r  jacobian norm  %r", epoch,
                 *run.logged[-1])
    run.elapsed = timeit.default_timer() - start_time
    log.info("The code for file %s ran for %.2fm", os.path.basename(__file__), run.elapsed / 60.0)
    write_png(run.filters, tile_raster_images(
        X=ca.W.get_value(borrow=True).T[:FILTER_TILES[0] * FILTER_TILES[1]],
        img_shape=IMAGE_SHAPE, tile_shape=FILTER_TILES, tile_spacing=(1, 1)))
    return run


test_cA.__test__ = False  # the tutorial's name, not a pytest test
