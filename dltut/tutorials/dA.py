"""A denoising autoencoder on MNIST (the tutorial's dA.py).

An autoencoder maps its input ``x`` to a hidden code ``y = s(W x + b)`` and maps the code back to
a reconstruction ``z = s(W' y + b')``; with tied weights ``W' = W^T``. A denoising autoencoder
computes the code from a corrupted copy ``tilde_x`` of the input (here: each pixel set to zero
with probability ``corruption_level``) and is trained to reconstruct the clean ``x``.
``test_dA`` trains one without corruption and one with 30 % corruption, with the tutorial's
settings and seeds, and writes the weights of their first 100 hidden units as pictures.

References: P. Vincent, H. Larochelle, Y. Bengio, P.A. Manzagol, Extracting and Composing Robust
Features with Denoising Autoencoders, ICML 2008; Y. Bengio, P. Lamblin, D. Popovici,
H. Larochelle, Greedy Layer-Wise Training of Deep Networks, NIPS 2006.
"""

import dataclasses
import logging
import os

import numpy

from dltut import data, engine
from dltut.atomic import check_output_folder
from dltut.epochs import Epochs
from dltut.engine import T
from dltut.fitting import (check_batch_size, check_positive_integers, check_seed,
                           check_sgd_settings, prepare)
from dltut.plots import tile_raster_images, write_png
from dltut.random import RandomStreams
from dltut.trainer import Minibatches
from dltut.tutorials.mlp import sigmoid
from dltut.updates import sgd

log = logging.getLogger(__name__)

IMAGE_SHAPE = (28, 28)  # an MNIST digit
FILTER_TILES = (10, 10)  # the pictures show the first 100 hidden units
# the fitting.Options test_dA takes
RUN_OPTIONS = ("floatX", "mode", "device", "tf32", "fused", "checkpoint", "checkpoint_every",
               "resume", "overwrite")
CORRUPTION_LEVELS = (0.0, 0.3)  # test_dA's two runs
RUN_NAMES = ("no corruption", "30% corruption")  # as its closing lines name them


def tied_weights(numpy_rng, n_visible, n_hidden, W=None, bhid=None, bvis=None, name="dA"):
    """An autoencoder's ``(W, b, b_prime)`` (the dA's and the cA's), those given kept.

    ``W`` (n_visible, n_hidden) is drawn uniform in :math:`\\pm 4 \\sqrt{6 / (n_{hidden} +
    n_{visible})}` by one ``numpy_rng.uniform`` call; the biases start at zero.
    """
    if W is None:
        bound = 4 * numpy.sqrt(6.0 / (n_hidden + n_visible))
        initial_W = numpy.asarray(
            numpy_rng.uniform(low=-bound, high=bound, size=(n_visible, n_hidden)),
            dtype=engine.floatX(),
        )
        W = engine.shared(initial_W, name=f"W_{name}")
    b = bhid if bhid is not None else engine.shared_zeros((n_hidden,), f"b_{name}")
    b_prime = bvis if bvis is not None else engine.shared_zeros((n_visible,), f"b_prime_{name}")
    return W, b, b_prime


class dA:
    """A denoising autoencoder with tied weights.

    .. math::
        \\tilde{x} \\sim q_D(\\tilde{x} | x)                      (corruption)

        y = s(W \\tilde{x} + b)                                   (the hidden code)

        z = s(W^T y + b')                                        (the reconstruction)

        L(x, z) = -\\sum_{k=1}^{d} [x_k \\log z_k + (1 - x_k) \\log(1 - z_k)]

    ``W`` (n_visible, n_hidden) is drawn uniform in :math:`\\pm 4 \\sqrt{6 / (n_{hidden} +
    n_{visible})}` by one ``numpy_rng.uniform`` call (4 times the tanh bound: the units are
    sigmoids); ``b`` (hidden) and ``b_prime`` (visible) start at zero. ``W``, ``bhid`` and
    ``bvis`` may be given instead, to share them with another model (the stacked autoencoder's
    layers). ``theano_rng`` draws the corruption; if None it is seeded, as in the tutorial, with
    ``numpy_rng.randint(2 ** 30)``, drawn before ``W``. ``input`` is the symbolic minibatch, one
    example per row (a new floatX matrix if None; the tutorial's was float64 whatever floatX).
    ``params`` is ``[W, b, b_prime]``, named ``W_{name}``, ``b_{name}``, ``b_prime_{name}``.
    """

    def __init__(self, numpy_rng, theano_rng=None, input=None, n_visible=784, n_hidden=500,
                 W=None, bhid=None, bvis=None, name="dA"):
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        self.W, self.b, self.b_prime = tied_weights(numpy_rng, n_visible, n_hidden, W, bhid, bvis,
                                                    name)
        self.W_prime = self.W.T  # tied weights
        self.theano_rng = theano_rng
        self.x = input if input is not None else T.matrix("input")
        self.params = [self.W, self.b, self.b_prime]

    def get_corrupted_input(self, input, corruption_level):
        """``input`` with each entry kept with probability ``1 - corruption_level``, else zeroed.

        The mask is ``theano_rng.binomial`` of ``input``'s shape, of dtype floatX (a mask of
        0s and 1s: an int64 one would turn a float32 product into float64).
        """
        mask = self.theano_rng.binomial(size=input.shape, n=1, p=1 - corruption_level,
                                        dtype=engine.floatX())
        return mask * input

    def get_hidden_values(self, input):
        """The hidden code of ``input``: :math:`s(x W + b)`."""
        return sigmoid(T.dot(input, self.W) + self.b)

    def get_reconstructed_input(self, hidden):
        """The reconstruction of a hidden code: :math:`s(y W^T + b')`."""
        return sigmoid(T.dot(hidden, self.W_prime) + self.b_prime)

    def get_cost_updates(self, corruption_level, learning_rate):
        """The cost of one minibatch and its SGD updates: ``(cost, updates)``.

        The cost is the cross-entropy of the reconstruction of the corrupted input against the
        clean input, summed over the pixels of each example and averaged over the minibatch.
        """
        tilde_x = self.get_corrupted_input(self.x, corruption_level)
        y = self.get_hidden_values(tilde_x)
        z = self.get_reconstructed_input(y)
        # one cross-entropy per example (row), then their mean over the minibatch
        L = -T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        cost = T.mean(L)
        return cost, sgd(cost, self.params, learning_rate)


@dataclasses.dataclass
class DARun:
    """One of ``test_dA``'s two trainings."""

    corruption_level: float  # the fraction of pixels zeroed
    costs: list  # the mean training cost of each epoch, as logged
    da: dA  # the trained autoencoder
    filters: str  # the PNG of the weights of its first 100 hidden units
    elapsed: float  # seconds spent training, as logged ("ran for")


def test_dA(learning_rate=0.1, training_epochs=15, dataset=None, batch_size=20,
            output_folder="dA_plots", *, seed=123, **options):
    """Train a denoising autoencoder of 500 hidden units on MNIST twice (dA.py).

    First without corruption, then with 30 % corruption, each from ``RandomState(seed)`` (the
    tutorial's 123 by default) and ``RandomStreams(rng.randint(2 ** 30))`` as in the tutorial, with
    plain SGD on minibatches of ``batch_size``. Logs ``Training epoch %d, cost`` and the mean cost
    of each epoch, and writes ``filters_corruption_0.png`` and ``filters_corruption_30.png`` into
    ``output_folder`` (made if missing). ``options`` are ``floatX``, ``mode``, ``device``, ``tf32``,
    ``fused`` (of ``fitting.Options``; fused, the default in JAX mode, runs each epoch as one
    compiled call) and ``checkpoint``, ``checkpoint_every``, ``resume``, ``overwrite`` (both
    runs' state, see ``dltut.epochs``). Returns the two ``DARun``; a run stopped by SIGINT/SIGTERM raises
    ``dltut.epochs.Interrupted``.
    """
    check_seed(seed)
    options = prepare(options, only=RUN_OPTIONS)
    check_sgd_settings(learning_rate, batch_size)
    check_positive_integers(training_epochs=training_epochs)
    train_set_x = data.load_shared(dataset)[0][0]
    check_batch_size([(train_set_x, None)], batch_size)
    check_output_folder(output_folder, "output_folder")  # made if missing, probed

    # compute number of minibatches for training
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()  # index to a [mini]batch
    x = T.matrix("x")  # the data is presented as rasterized images
    runs = {}  # corruption level -> (its dA, its train_da)
    for corruption_level in CORRUPTION_LEVELS:
        rng = numpy.random.RandomState(seed)
        percent = round(corruption_level * 100)
        theano_rng = RandomStreams(rng.randint(2 ** 30), name=f"mrg_corruption_{percent}")
        da = dA(numpy_rng=rng, theano_rng=theano_rng, input=x,
                n_visible=IMAGE_SHAPE[0] * IMAGE_SHAPE[1], n_hidden=500,
                name=f"dA_corruption_{percent}")
        cost, updates = da.get_cost_updates(corruption_level=corruption_level,
                                            learning_rate=learning_rate)
        train_da = engine.function(
            [index],
            cost,
            updates=updates,
            givens={x: train_set_x[index * batch_size: (index + 1) * batch_size]},
            name=f"train_da_corruption_{percent}",
        )
        runs[corruption_level] = da, Minibatches(train_da, None, None, n_train_batches, 0, 0,
                                                 da.params, fused=options.fused)
    settings = {"learning_rate": learning_rate, "batch_size": batch_size, "seed": seed}
    epochs = Epochs("dA", settings, [p for da, _ in runs.values() for p in da.params],
                    [da.theano_rng for da, _ in runs.values()], options.checkpoint,
                    options.checkpoint_every, options.resume)
    results = []
    for (corruption_level, (da, train_da)), what in zip(runs.items(), RUN_NAMES):
        percent = round(corruption_level * 100)
        before = epochs.elapsed
        # the tutorial prints the mean's repr after a "cost " and print's own space
        costs = epochs.run(f"corruption {percent}", train_da, training_epochs,
                           "Training epoch %d, cost  %r")
        training_time = epochs.elapsed - before
        log.info("The %s code for file %s ran for %.2fm", what, os.path.basename(__file__),
                 training_time / 60.0)
        filters = os.path.join(output_folder, f"filters_corruption_{percent}.png")
        write_png(filters, tile_raster_images(
            X=da.W.get_value(borrow=True).T[:FILTER_TILES[0] * FILTER_TILES[1]],
            img_shape=IMAGE_SHAPE, tile_shape=FILTER_TILES, tile_spacing=(1, 1)))
        results.append(DARun(corruption_level, costs, da, filters, training_time))
    return results


test_dA.__test__ = False  # the tutorial's name, not a pytest test
