"""A stacked denoising autoencoder on MNIST (the tutorial's SdA.py).

The SdA is an MLP of sigmoid layers with a logistic layer on top, trained in two phases. First
each hidden layer is *pretrained* as a denoising autoencoder (``dA``, sharing the layer's ``W``
and ``b``) that reconstructs the layer's input from a corrupted copy, the first layer on the
pixels, each next one on the codes of the layer below, greedily, one after the other. Then the
whole network is *fine-tuned* as a classifier by minibatch SGD on the negative log-likelihood,
with the tutorials' early stopping (dltut's one trainer). ``test_SdA`` does both with the
tutorial's three layers of 1000 units, corruption levels 0.1, 0.2, 0.3 and seed.

References: P. Vincent, H. Larochelle, Y. Bengio, P.A. Manzagol, Extracting and Composing Robust
Features with Denoising Autoencoders, ICML 2008; Y. Bengio, P. Lamblin, D. Popovici,
H. Larochelle, Greedy Layer-Wise Training of Deep Networks, NIPS 2006.
"""

import logging

import numpy

from dltut import engine
from dltut.engine import T
from dltut.fitting import check_seed, check_sgd_settings, prepare
from dltut.random import RandomStreams
from dltut.stacked import Phases, check_epochs, finetune, load, pretrain
from dltut.tutorials.dA import dA
from dltut.tutorials.logistic_sgd import LogisticRegression
from dltut.tutorials.mlp import HiddenLayer, sigmoid

log = logging.getLogger(__name__)

HIDDEN_LAYERS_SIZES = (1000, 1000, 1000)  # test_SdA's network
CORRUPTION_LEVELS = (0.1, 0.2, 0.3)  # test_SdA's corruption of each layer's input in pretraining


class SdA:
    """Stacked denoising autoencoders: sigmoid ``HiddenLayer``\\ s, each sharing its ``W`` and
    ``b`` with a ``dA``, under a ``LogisticRegression``.

    .. math::
        h^{(0)} = x, \\quad h^{(i+1)} = s(h^{(i)} W^{(i)} + b^{(i)}), \\quad
        P(Y | x) = softmax(h^{(L)} W^{(L)} + b^{(L)})

    Draw order, as in the tutorial: the seed of ``theano_rng`` (if None), then each layer's
    ``W``; the dAs draw nothing (they are given ``W``, ``b`` and the one ``theano_rng`` they all
    share). ``params`` are the sigmoid and logistic layers' (what fine-tuning trains); each dA
    (``dA_layers``) also has its own visible bias ``b_prime``, trained in pretraining only.
    ``corruption_levels`` is kept, as the tutorial's constructor has it, but unused: the
    pretraining functions take the level per call. ``input`` (a new matrix if None) is the
    symbolic minibatch, as a model rebuilt from its file is given it (``dltut.registry``); the
    logistic layer's ``p_y_given_x``, ``y_pred`` and ``negative_log_likelihood`` are the
    network's, for its predictions.
    """

    def __init__(self, numpy_rng, theano_rng=None, input=None, n_ins=784,
                 hidden_layers_sizes=(500, 500), n_outs=10, corruption_levels=(0.1, 0.1)):
        self.sigmoid_layers = []
        self.dA_layers = []
        self.params = []
        self.n_layers = len(hidden_layers_sizes)
        self.corruption_levels = tuple(corruption_levels)

        if self.n_layers < 1:
            raise ValueError(f"hidden_layers_sizes {hidden_layers_sizes!r}: give at least one "
                             "layer")

        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        self.theano_rng = theano_rng
        # allocate symbolic variables for the data
        self.x = self.input = input if input is not None else T.matrix("x")  # rasterized images
        self.y = T.ivector("y")  # the labels are presented as 1D vector of [int] labels

        # The SdA is an MLP whose hidden layers each share their weights with a denoising
        # autoencoder. Pretraining trains the autoencoders (and so the MLP's weights); fine-tuning
        # then trains the whole MLP by stochastic gradient descent.
        for i in range(self.n_layers):
            # the size of the input is either the number of hidden units of the layer below or
            # the input size if we are on the first layer
            input_size = n_ins if i == 0 else hidden_layers_sizes[i - 1]
            # the input to this layer is either the activation of the hidden layer below or the
            # input of the SdA if we are on the first layer
            layer_input = self.x if i == 0 else self.sigmoid_layers[-1].output

            sigmoid_layer = HiddenLayer(rng=numpy_rng, input=layer_input, n_in=input_size,
                                        n_out=hidden_layers_sizes[i], activation=sigmoid,
                                        name=f"sigmoid{i}")
            self.sigmoid_layers.append(sigmoid_layer)
            # only the sigmoid layers' parameters are the SdA's: the visible biases of the dAs
            # are those dAs' own
            self.params.extend(sigmoid_layer.params)

            # a denoising autoencoder that shares its weights with this layer
            dA_layer = dA(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                          n_visible=input_size, n_hidden=hidden_layers_sizes[i],
                          W=sigmoid_layer.W, bhid=sigmoid_layer.b, name=f"dA{i}")
            self.dA_layers.append(dA_layer)

        # a logistic layer on top of the MLP
        self.logLayer = LogisticRegression(input=self.sigmoid_layers[-1].output,
                                           n_in=hidden_layers_sizes[-1], n_out=n_outs,
                                           name="logreg")
        self.params.extend(self.logLayer.params)

        # the cost of fine-tuning: the negative log likelihood
        self.finetune_cost = self.logLayer.negative_log_likelihood(self.y)
        # the zero-one loss of the minibatch given by self.x and self.y
        self.errors = self.logLayer.errors(self.y)
        self.p_y_given_x, self.y_pred = self.logLayer.p_y_given_x, self.logLayer.y_pred
        self.negative_log_likelihood = self.logLayer.negative_log_likelihood

    def pretraining_functions(self, train_set_x, batch_size):
        """One function per dA, in layer order, over the shared ``train_set_x``:
        ``fn(index, corruption=0.2, lr=0.1)`` is one update of the dA on minibatch ``index``
        and returns its cost."""
        index = T.lscalar("index")  # index to a minibatch
        corruption_level = T.scalar("corruption")  # % of corruption to use
        learning_rate = T.scalar("lr")  # learning rate to use
        # beginning of a batch, given `index`
        batch_begin = index * batch_size
        # ending of a batch given `index`
        batch_end = batch_begin + batch_size

        pretrain_fns = []
        for i, dA_layer in enumerate(self.dA_layers):
            # get the cost and the updates list
            cost, updates = dA_layer.get_cost_updates(corruption_level, learning_rate)
            fn = engine.function(
                inputs=[
                    index,
                    engine.In(corruption_level, value=0.2),
                    engine.In(learning_rate, value=0.1),
                ],
                outputs=cost,
                updates=updates,
                givens={self.x: train_set_x[batch_begin:batch_end]},
                name=f"pretrain_dA{i}",
            )
            pretrain_fns.append(fn)

        return pretrain_fns

    def build_finetune_functions(self, datasets, batch_size, learning_rate):
        """The fine-tuning's ``train_fn`` (one SGD update on minibatch ``index``; its cost) and
        the zero-one losses of minibatch ``index`` of the validation and of the test set. The
        trainer takes the means over each set of these (the tutorial's ``valid_score`` and
        ``test_score``; ``dltut.stacked.finetune``)."""
        (train_set_x, train_set_y), (valid_set_x, valid_set_y), (test_set_x, test_set_y) = datasets

        index = T.lscalar("index")  # index to a [mini]batch

        # compute the gradients with respect to the model parameters
        gparams = engine.grad(self.finetune_cost, self.params)

        # compute list of fine-tuning updates
        updates = [
            (param, param - gparam * learning_rate)
            for param, gparam in zip(self.params, gparams)
        ]

        train_fn = engine.function(
            inputs=[index],
            outputs=self.finetune_cost,
            updates=updates,
            givens={
                self.x: train_set_x[index * batch_size: (index + 1) * batch_size],
                self.y: train_set_y[index * batch_size: (index + 1) * batch_size],
            },
            name="train",
        )
        test_score_i = engine.function(
            [index],
            self.errors,
            givens={
                self.x: test_set_x[index * batch_size: (index + 1) * batch_size],
                self.y: test_set_y[index * batch_size: (index + 1) * batch_size],
            },
            name="test",
        )
        valid_score_i = engine.function(
            [index],
            self.errors,
            givens={
                self.x: valid_set_x[index * batch_size: (index + 1) * batch_size],
                self.y: valid_set_y[index * batch_size: (index + 1) * batch_size],
            },
            name="valid",
        )
        return train_fn, valid_score_i, test_score_i


PHASES = Phases(kind="SdA", file="SdA.py",
                pretraining_line="Pre-training layer %i, epoch %d, cost %f",
                finetuning_message="... finetunning the model", patience_epochs=10,
                optimization_line="Optimization complete with best validation score of %f %%, "
                                  "on iteration %i, with test performance %f %%",
                finetuning_time_line="The training code for file %s ran for %.2fm")


def test_SdA(finetune_lr=0.1, pretraining_epochs=15, pretrain_lr=0.001, training_epochs=1000,
             dataset=None, batch_size=1, *, hidden_layers_sizes=HIDDEN_LAYERS_SIZES,
             corruption_levels=CORRUPTION_LEVELS, seed=89677, **options):
    """Pretrain and fine-tune the tutorial's stacked denoising autoencoder on MNIST (SdA.py).

    ``numpy.random.RandomState(seed)`` seeds the network (the tutorial's 89677 by default); each of
    the three 1000-unit layers is pretrained for ``pretraining_epochs`` epochs as a dA (corruption
    0.1, 0.2, 0.3; learning rate ``pretrain_lr``), logging ``Pre-training layer %i, epoch %d, cost
    %f``; then the network is fine-tuned with learning rate ``finetune_lr`` for at most
    ``training_epochs`` epochs, with patience ``10 * n_train_batches`` (the tutorial's).
    ``hidden_layers_sizes`` and ``corruption_levels`` (one per layer) change the network, for
    quicker experiments; the defaults are the tutorial's. ``options`` are the fields of
    ``fitting.Options``: ``checkpoint``/``resume`` cover pretraining too. Returns the fine-tuning's
    ``TrainResult`` with ``pretraining_costs`` (one list per layer) and ``pretraining_time`` (see
    ``dltut.stacked.pretrain`` and ``finetune``).
    """
    check_seed(seed)
    options = prepare(options)
    check_sgd_settings(finetune_lr, batch_size)
    check_sgd_settings(pretrain_lr, batch_size)
    check_epochs(pretraining_epochs, training_epochs)
    hidden_layers_sizes, corruption_levels = list(hidden_layers_sizes), list(corruption_levels)
    if len(corruption_levels) != len(hidden_layers_sizes):
        raise ValueError(f"corruption_levels {corruption_levels} and hidden_layers_sizes "
                         f"{hidden_layers_sizes}: give one corruption level per hidden layer")
    for level in corruption_levels:
        if not 0 <= level < 1:
            raise ValueError(f"corruption level {level!r} must be in [0, 1): the fraction of "
                             "inputs zeroed")
    datasets, arch = load("sda", dataset, batch_size, hidden_layers_sizes)
    train_set_x = datasets[0][0]

    # numpy random generator
    numpy_rng = numpy.random.RandomState(seed)
    log.info("... building the model")
    # construct the stacked denoising autoencoder class
    sda = SdA(numpy_rng=numpy_rng, n_ins=arch["n_ins"],
              hidden_layers_sizes=arch["hidden_layers_sizes"], n_outs=arch["n_outs"])

    log.info("... getting the pretraining functions")
    pretraining_fns = sda.pretraining_functions(train_set_x=train_set_x, batch_size=batch_size)

    # pre-train layer-wise, layer i with corruption_levels[i] (dltut.stacked's epochs)
    settings = {"pretraining_epochs": pretraining_epochs, "pretrain_lr": pretrain_lr,
                "batch_size": batch_size, "corruption_levels": corruption_levels, "seed": seed}
    pretraining = pretrain(
        sda, sda.dA_layers, pretraining_fns,
        [{"corruption": level, "lr": pretrain_lr} for level in corruption_levels], datasets,
        settings, options, PHASES)
    if pretraining.interrupted is not None:  # by SIGINT/SIGTERM: no fine-tuning
        return pretraining.interrupted

    # get the training, validation and testing function for the model
    log.info("... getting the finetuning functions")
    train_fn, validate_model, test_model = sda.build_finetune_functions(
        datasets=datasets, batch_size=batch_size, learning_rate=finetune_lr)

    # fine-tune with early stopping (dltut's one trainer)
    return finetune(sda, arch, datasets, train_fn, validate_model, test_model, pretraining,
                    finetune_lr, training_epochs, options, PHASES)


test_SdA.__test__ = False  # the tutorial's name, not a pytest test
