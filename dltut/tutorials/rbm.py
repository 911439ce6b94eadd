"""A restricted Boltzmann machine on MNIST (the tutorial's rbm.py).

An RBM is an energy-based model of binary visible units ``v`` (the pixels) and hidden units ``h``,
with connections between the two layers only. Given one layer, the units of the other are
independent, which makes block Gibbs sampling easy: sample all of ``h`` given ``v``, then all of
``v`` given ``h``. It is trained by following the gradient of the free energy of the data down
and that of samples from the model up; the samples come from a Gibbs chain of ``k`` steps,
started at the data (contrastive divergence, CD-k) or where the previous update's chain stopped
(persistent CD, PCD-k). ``test_rbm`` trains one with PCD-15 on MNIST, writes its filters after
each epoch, then runs persistent chains from test images and writes what they sample.

References: G. Hinton, Training Products of Experts by Minimizing Contrastive Divergence, Neural
Computation 2002; T. Tieleman, Training Restricted Boltzmann Machines using Approximations to the
Likelihood Gradient, ICML 2008.
"""

import dataclasses
import logging
import os
import timeit

import numpy

from dltut import data, engine
from dltut.atomic import check_output_folder
from dltut.engine import T
from dltut.fitting import (check_batch_size, check_positive_integers, check_seed,
                           check_sgd_settings, prepare)
from dltut.plots import tile_raster_images, write_png
from dltut.random import RandomStreams
from dltut.trainer import Minibatches
from dltut.tutorials.mlp import sigmoid

log = logging.getLogger(__name__)

IMAGE_SHAPE = (28, 28)  # an MNIST digit
FILTER_TILES = (10, 10)  # the filter pictures show the first 100 hidden units
PCD_STEPS = 15  # Gibbs steps of each update's negative phase (PCD-15)
PLOT_EVERY = 1000  # Gibbs steps between two plotted samples of a chain
RUN_OPTIONS = ("floatX", "mode", "device", "tf32", "fused")  # the fitting.Options test_rbm takes


class RBM:
    """A restricted Boltzmann machine with binary visible and hidden units.

    .. math::
        E(v, h) = -b^T v - c^T h - v^T W h

        F(v) = -b^T v - \\sum_i \\log(1 + e^{c_i + (v^T W)_i})          (the free energy)

        P(h_i = 1 | v) = sigm(c_i + (v^T W)_i), \\quad P(v_j = 1 | h) = sigm(b_j + (W h)_j)

    ``W`` (n_visible, n_hidden) is drawn uniform in :math:`\\pm 4 \\sqrt{6 / (n_{hidden} +
    n_{visible})}` by one ``numpy_rng.uniform`` call; ``hbias`` (:math:`c`) and ``vbias``
    (:math:`b`) start at zero. ``W``, ``hbias`` and ``vbias`` may be given instead, to share them
    with another model (a deep belief network's layers). ``numpy_rng`` is ``RandomState(1234)`` if
    None; ``theano_rng`` draws the samples and, if None, is seeded with
    ``numpy_rng.randint(2 ** 30)``, drawn before ``W``. ``input`` is the symbolic minibatch, one
    example per row (a new floatX matrix if None). ``params`` is ``[W, hbias, vbias]``, named
    ``W_{name}``, ``hbias_{name}``, ``vbias_{name}``.

    In JAX mode a sample's size (the means' shape) must be a constant when XLA compiles: the
    ``W`` made here has a static shape, a ``W`` given needs one too
    (``engine.shared(..., static_shape=True)``), and so do the input (``CompiledCost`` gives the
    minibatch its shape) and a persistent chain.
    """

    def __init__(self, input=None, n_visible=784, n_hidden=500, W=None, hbias=None, vbias=None,
                 numpy_rng=None, theano_rng=None, name="rbm"):
        check_positive_integers(n_visible=n_visible, n_hidden=n_hidden)
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        if numpy_rng is None:
            numpy_rng = numpy.random.RandomState(1234)
        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        if W is None:
            bound = 4 * numpy.sqrt(6.0 / (n_hidden + n_visible))
            initial_W = numpy.asarray(
                numpy_rng.uniform(low=-bound, high=bound, size=(n_visible, n_hidden)),
                dtype=engine.floatX(),
            )
            # of static shape: in JAX mode a sample's size, computed from W's, must be a constant
            W = engine.shared(initial_W, name=f"W_{name}", static_shape=True)
        self.W = W
        self.hbias = hbias if hbias is not None else engine.shared_zeros((n_hidden,),
                                                                         f"hbias_{name}")
        self.vbias = vbias if vbias is not None else engine.shared_zeros((n_visible,),
                                                                         f"vbias_{name}")
        self.input = input if input is not None else T.matrix("input")
        self.theano_rng = theano_rng
        self.params = [self.W, self.hbias, self.vbias]

    def free_energy(self, v_sample):
        """:math:`F(v)` of each row of ``v_sample``."""
        wx_b = T.dot(v_sample, self.W) + self.hbias
        vbias_term = T.dot(v_sample, self.vbias)
        hidden_term = T.sum(T.log(1 + T.exp(wx_b)), axis=1)
        return -hidden_term - vbias_term

    def propup(self, vis):
        """``[pre-sigmoid activation, P(h = 1 | vis)]`` of the hidden units.

        The pre-sigmoid activation is returned too, so that a cost can take the log of the sigmoid
        of it in a form that stays finite (see ``get_reconstruction_cost``).
        """
        pre_sigmoid_activation = T.dot(vis, self.W) + self.hbias
        return [pre_sigmoid_activation, sigmoid(pre_sigmoid_activation)]

    def sample_h_given_v(self, v0_sample):
        """``[pre-sigmoid, mean, sample]`` of the hidden units given the visible ones.

        The sample is one ``theano_rng.binomial`` draw of the means' (symbolic) shape, of dtype
        floatX (an int64 sample would turn float32 products into float64).
        """
        pre_sigmoid_h1, h1_mean = self.propup(v0_sample)
        h1_sample = self.theano_rng.binomial(size=h1_mean.shape, n=1, p=h1_mean,
                                             dtype=engine.floatX())
        return [pre_sigmoid_h1, h1_mean, h1_sample]

    def propdown(self, hid):
        """``[pre-sigmoid activation, P(v = 1 | hid)]`` of the visible units."""
        pre_sigmoid_activation = T.dot(hid, self.W.T) + self.vbias
        return [pre_sigmoid_activation, sigmoid(pre_sigmoid_activation)]

    def sample_v_given_h(self, h0_sample):
        """``[pre-sigmoid, mean, sample]`` of the visible units given the hidden ones."""
        pre_sigmoid_v1, v1_mean = self.propdown(h0_sample)
        v1_sample = self.theano_rng.binomial(size=v1_mean.shape, n=1, p=v1_mean,
                                             dtype=engine.floatX())
        return [pre_sigmoid_v1, v1_mean, v1_sample]

    def gibbs_hvh(self, h0_sample):
        """One Gibbs step from the hidden units: ``sample_v_given_h`` then ``sample_h_given_v``."""
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h0_sample)
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_sample)
        return [pre_sigmoid_v1, v1_mean, v1_sample, pre_sigmoid_h1, h1_mean, h1_sample]

    def gibbs_vhv(self, v0_sample):
        """One Gibbs step from the visible units: ``sample_h_given_v`` then ``sample_v_given_h``."""
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v0_sample)
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h1_sample)
        return [pre_sigmoid_h1, h1_mean, h1_sample, pre_sigmoid_v1, v1_mean, v1_sample]

    def get_cost_updates(self, lr=0.1, persistent=None, k=1):
        """One step of CD-k, or of PCD-k with ``persistent``: ``(monitoring cost, updates)``.

        The negative phase is a ``scan`` of ``k`` ``gibbs_hvh`` steps, started at the hidden
        sample of the input (CD) or at ``persistent``, a shared (batch size, n_hidden) matrix
        holding the chain's hidden state (PCD). The gradient is that of

        .. math::
            \\overline{F(x)} - \\overline{F(\\tilde{v})}

        (means over the minibatch ``x`` and the chain's end :math:`\\tilde{v}`), with the chain's
        end held constant: no gradient flows back through the sampling. ``updates`` is a dict:
        the random streams' states advanced by the scan, each parameter's
        ``param - gparam * lr``, and for PCD the chain's new hidden state. The monitoring cost is
        the pseudo-likelihood for PCD, the reconstruction cross-entropy for CD.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer (the Gibbs steps of CD-k or PCD-k), "
                             f"got {k!r}")
        # positive phase
        pre_sigmoid_ph, ph_mean, ph_sample = self.sample_h_given_v(self.input)
        chain_start = ph_sample if persistent is None else persistent
        # negative phase: the scan's outputs stack the chain's k steps
        (
            [pre_sigmoid_nvs, nv_means, nv_samples, pre_sigmoid_nhs, nh_means, nh_samples],
            updates,
        ) = engine.scan(self.gibbs_hvh, outputs_info=[None, None, None, None, None, chain_start],
                        n_steps=k, name="gibbs_hvh")
        updates = dict(updates)
        chain_end = nv_samples[-1]
        # the free energies of the minibatch and of the chain's end as one matrix's rows, so that
        # the gradient of W is one product of both phases' rows, not two added (the same sum)
        free_energies = self.free_energy(T.concatenate([self.input, chain_end]))
        n_data = self.input.shape[0]
        cost = T.mean(free_energies[:n_data]) - T.mean(free_energies[n_data:])
        gparams = T.grad(cost, self.params, consider_constant=[chain_end])
        for gparam, param in zip(gparams, self.params):
            updates[param] = param - gparam * T.cast(lr, dtype=engine.floatX())
        if persistent is not None:
            updates[persistent] = nh_samples[-1]
            monitoring_cost = self.get_pseudo_likelihood_cost(updates)
        else:
            monitoring_cost = self.get_reconstruction_cost(updates, pre_sigmoid_nvs[-1])
        return monitoring_cost, updates

    def get_pseudo_likelihood_cost(self, updates):
        """A stochastic estimate of the log pseudo-likelihood of the (rounded) minibatch.

        .. math::
            \\log PL(x) \\approx N \\log P(x_i | x_{\\setminus i})
                = N \\log sigm(F(\\tilde{x}_i) - F(x))

        where :math:`\\tilde{x}_i` is :math:`x` with bit :math:`i` flipped and :math:`N` is
        n_visible; :math:`i` is a shared index that ``updates`` moves on by one (modulo N) at
        each call.
        """
        bit_i_idx = engine.shared(numpy.asarray(0, dtype="int64"), name="bit_i_idx")
        # binarized; MNIST's pixels are multiples of 1/256, 0.5 among them, which Theano 1.x
        # rounds to even (0), as NumPy does (older Theano rounded it away from zero)
        xi = T.round(self.input, mode="half_to_even")
        fe_xi = self.free_energy(xi)
        # xi with column bit_i_idx flipped, as a new matrix
        xi_flip = T.set_subtensor(xi[:, bit_i_idx], 1 - xi[:, bit_i_idx])
        fe_xi_flip = self.free_energy(xi_flip)
        cost = T.mean(self.n_visible * T.log(sigmoid(fe_xi_flip - fe_xi)))
        updates[bit_i_idx] = (bit_i_idx + 1) % self.n_visible
        return cost

    def get_reconstruction_cost(self, updates, pre_sigmoid_nv):
        """The cross-entropy of the input and its reconstruction :math:`sigm(pre\\_sigmoid\\_nv)`,
        summed over the pixels and averaged over the minibatch (its log-likelihood: negative).

        It takes the pre-sigmoid activation, not the sigmoid the scan computed: a sigmoid of
        more than about 37 is 1 in float64 and its log(1 - ...) -inf, while
        :math:`\\log sigm(a) = -softplus(-a)` and :math:`\\log(1 - sigm(a)) = -softplus(a)` stay
        finite. The compiler rewrites the logs of sigmoids into those forms where it sees both in
        one graph; inside a scan it would see only the sigmoid. ``updates`` is not changed.
        """
        return T.mean(T.sum(self.input * T.log(sigmoid(pre_sigmoid_nv))
                            + (1 - self.input) * T.log(1 - sigmoid(pre_sigmoid_nv)), axis=1))



@dataclasses.dataclass
class RBMRun:
    """What ``test_rbm`` did."""

    costs: list  # the mean pseudo-likelihood cost of each epoch, as logged
    rbm: RBM  # the trained machine
    filters: list  # the PNG of the first 100 hidden units' weights after each epoch
    samples: str  # the PNG of the chains' samples: one row a plot, one column a chain
    sample_means: numpy.ndarray  # (n_samples, n_chains, n_visible): what samples.png shows
    training_time: float  # seconds spent training, pictures left out (as logged)
    sampling_time: float  # seconds spent running the chains


def test_rbm(learning_rate=0.1, training_epochs=15, dataset=None, batch_size=20, n_chains=20,
             n_samples=10, output_folder="rbm_plots", n_hidden=500, *, seed=123, **options):
    """Train an RBM on MNIST with PCD-15, then sample from it (rbm.py).

    Training: ``RandomState(seed)`` (the tutorial's 123 by default) and
    ``RandomStreams(rng.randint(2 ** 30))`` as in the tutorial,
    ``training_epochs`` epochs over minibatches of ``batch_size``, each update running the
    persistent chain 15 Gibbs steps on; logs ``Training epoch %d, cost is`` and the mean
    pseudo-likelihood cost of each epoch and writes ``filters_at_epoch_%i.png`` after each.
    Sampling: ``n_chains`` persistent chains start at consecutive test images from
    ``rng.randint(n_test - n_chains)``; ``n_samples`` times, 1000 Gibbs steps (one compiled scan)
    run, and the visible means of the last step become a row of ``samples.png``. The pictures go
    into ``output_folder`` (made if missing). ``options`` are ``floatX``, ``mode``, ``device``,
    ``tf32`` and ``fused`` (of ``fitting.Options``; fused, the default in JAX mode, runs each
    epoch as one compiled call). Returns an ``RBMRun``.
    """
    check_seed(seed)
    options = prepare(options, only=RUN_OPTIONS)
    check_sgd_settings(learning_rate, batch_size)
    check_positive_integers(training_epochs=training_epochs, n_chains=n_chains,
                            n_samples=n_samples, n_hidden=n_hidden)
    datasets = data.load_shared(dataset)
    train_set_x, test_set_x = datasets[0][0], datasets[2][0]
    check_batch_size([(train_set_x, None)], batch_size)
    n_test = test_set_x.get_value(borrow=True).shape[0]
    if n_chains >= n_test:
        raise ValueError(f"n_chains {n_chains} is not smaller than the test set ({n_test} images): "
                         f"the chains start at test images from a random offset; use n_chains of "
                         f"at most {n_test - 1}")
    check_output_folder(output_folder, "output_folder")  # made if missing, probed

    # compute number of minibatches for training
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()  # index to a [mini]batch
    x = T.matrix("x")  # the data is presented as rasterized images
    rng = numpy.random.RandomState(seed)
    theano_rng = RandomStreams(rng.randint(2 ** 30))
    # the persistent chain's hidden state, one row per example of a minibatch
    persistent_chain = engine.shared(numpy.zeros((batch_size, n_hidden), dtype=engine.floatX()),
                                     name="persistent_chain", static_shape=True)
    rbm = RBM(input=x, n_visible=IMAGE_SHAPE[0] * IMAGE_SHAPE[1], n_hidden=n_hidden,
              numpy_rng=rng, theano_rng=theano_rng)
    # the cost and the gradient of one step of PCD-15
    cost, updates = rbm.get_cost_updates(lr=learning_rate, persistent=persistent_chain,
                                         k=PCD_STEPS)
    # train_rbm updates the parameters and the persistent chain
    train_rbm = engine.function(
        [index],
        cost,
        updates=updates,
        givens={x: train_set_x[index * batch_size: (index + 1) * batch_size]},
        name="train_rbm",
    )
    costs, filters, training_time = _train(
        rbm, Minibatches(train_rbm, None, None, n_train_batches, 0, 0, rbm.params,
                         fused=options.fused), training_epochs, output_folder)
    start_time = timeit.default_timer()
    # consecutive test images from a random offset start the chains
    test_idx = rng.randint(n_test - n_chains)
    sample_means = _sample(rbm, test_set_x.get_value(borrow=True)[test_idx:test_idx + n_chains],
                           n_samples)
    samples = os.path.join(output_folder, "samples.png")
    write_png(samples, _samples_picture(sample_means))
    return RBMRun(costs, rbm, filters, samples, sample_means, training_time,
                  timeit.default_timer() - start_time)


test_rbm.__test__ = False  # the tutorial's name, not a pytest test


def _train(rbm, train_rbm, training_epochs, output_folder):
    """``training_epochs`` epochs of ``train_rbm`` (``trainer.Minibatches``); ``(costs, filter
    pictures, seconds training)``."""
    compile_start = timeit.default_timer()
    n_train_batches = train_rbm.n_train_batches
    train_rbm.prepare([n_train_batches])  # compiled before the clock starts, as the tutorial
    plotting_time = 0.0
    start_time = timeit.default_timer()
    log.debug("compiled before training in %.3fs", start_time - compile_start)
    costs, filters = [], []
    for epoch in range(training_epochs):
        c = train_rbm.train_minibatches(0, n_train_batches)
        costs.append(float(numpy.mean(c, dtype="float64")))
        # the tutorial prints the mean's repr after a "cost is " and print's own space
        log.info("Training epoch %d, cost is  %r", epoch, costs[-1])
        plotting_start = timeit.default_timer()
        filters.append(os.path.join(output_folder, f"filters_at_epoch_{epoch}.png"))
        n_tiles = FILTER_TILES[0] * FILTER_TILES[1]
        write_png(filters[-1], tile_raster_images(
            X=numpy.asarray(rbm.W.get_value(borrow=True)).T[:n_tiles], img_shape=IMAGE_SHAPE,
            tile_shape=FILTER_TILES, tile_spacing=(1, 1)))
        plotting_time += timeit.default_timer() - plotting_start
    training_time = timeit.default_timer() - start_time - plotting_time
    log.info("Training took %f minutes", training_time / 60.0)
    return costs, filters, training_time


def _sample(rbm, start, n_samples):
    """Persistent Gibbs chains from the rows of ``start``: the visible means after every
    ``PLOT_EVERY`` steps, ``n_samples`` times, as an (n_samples, n_chains, n_visible) array."""
    persistent_vis_chain = engine.shared(numpy.asarray(start, dtype=engine.floatX()),
                                         name="persistent_vis_chain", static_shape=True)
    # PLOT_EVERY steps of gibbs_vhv in one scan; the chain goes on from its last sample
    (
        [presig_hids, hid_mfs, hid_samples, presig_vis, vis_mfs, vis_samples],
        updates,
    ) = engine.scan(rbm.gibbs_vhv, outputs_info=[None, None, None, None, None,
                                                 persistent_vis_chain],
                    n_steps=PLOT_EVERY, name="gibbs_vhv")
    updates = dict(updates)
    updates[persistent_vis_chain] = vis_samples[-1]
    # the mean-field activations to plot, and the samples that carry the chains on
    sample_fn = engine.function([], [vis_mfs[-1], vis_samples[-1]],
                                updates=list(updates.items()), name="sample_fn")
    means = []
    for idx in range(n_samples):
        vis_mf, vis_sample = sample_fn()
        log.info(" ... plotting sample %d", idx)
        means.append(numpy.asarray(vis_mf))
    return numpy.stack(means)


def _samples_picture(sample_means):
    """One row of tiles per plot, one column per chain, with a blank row below, as the
    tutorial's ``samples.png``."""
    n_samples, n_chains, _ = sample_means.shape
    height, width = IMAGE_SHAPE
    picture = numpy.zeros(((height + 1) * n_samples + 1, (width + 1) * n_chains - 1),
                          dtype=numpy.uint8)
    for idx, means in enumerate(sample_means):
        picture[(height + 1) * idx:(height + 1) * idx + height, :] = tile_raster_images(
            X=means, img_shape=IMAGE_SHAPE, tile_shape=(1, n_chains), tile_spacing=(1, 1))
    return picture
