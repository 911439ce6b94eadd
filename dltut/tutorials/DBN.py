"""A deep belief network on MNIST (the tutorial's DBN.py).

A DBN is a stack of restricted Boltzmann machines: the first RBM models the pixels, each next one
the hidden units' probabilities of the one below. Used as a classifier it is an MLP of sigmoid
layers, each sharing its ``W`` and hidden bias with one RBM, under a logistic layer, trained in two
phases: each RBM is *pretrained* in turn by contrastive divergence (CD-``k``), greedily, layer by
layer; then the whole network is *fine-tuned* by minibatch SGD on the negative log-likelihood
with the tutorials' early stopping (dltut's one trainer). ``test_DBN`` does both with the
tutorial's three layers of 1000 units and seed.

References: G. E. Hinton, S. Osindero, Y.-W. Teh, A Fast Learning Algorithm for Deep Belief Nets,
Neural Computation 18, 2006; Y. Bengio, P. Lamblin, D. Popovici, H. Larochelle, Greedy
Layer-Wise Training of Deep Networks, NIPS 2006.
"""

import logging

import numpy

from dltut import engine
from dltut.engine import T
from dltut.fitting import check_seed, check_sgd_settings, prepare
from dltut.random import RandomStreams
from dltut.stacked import Phases, check_epochs, finetune, load, pretrain
from dltut.tutorials.logistic_sgd import LogisticRegression
from dltut.tutorials.mlp import HiddenLayer, sigmoid
from dltut.tutorials.rbm import RBM

log = logging.getLogger(__name__)

HIDDEN_LAYERS_SIZES = (1000, 1000, 1000)  # test_DBN's network


class DBN:
    """A deep belief network: sigmoid ``HiddenLayer``\\ s, each sharing its ``W`` and ``b`` (the
    RBM's ``hbias``) with an ``RBM`` (``rbm_layers``), under a ``LogisticRegression``.

    .. math::
        h^{(0)} = x, \\quad h^{(i+1)} = sigm(h^{(i)} W^{(i)} + b^{(i)}), \\quad
        P(Y | x) = softmax(h^{(L)} W^{(L)} + b^{(L)})

    Draw order, as in the tutorial: the seed of ``theano_rng`` (if None), then each layer's
    ``W``; the RBMs draw nothing (they are given ``W``, ``hbias`` and the one ``theano_rng``
    they all share). ``params`` are the sigmoid and logistic layers' (what fine-tuning trains);
    each RBM also has its own visible bias ``vbias``, trained in pretraining only. ``input`` (a
    new matrix if None) is the symbolic minibatch, as a model rebuilt from its file is given it
    (``dltut.registry``); the logistic layer's ``p_y_given_x``, ``y_pred`` and
    ``negative_log_likelihood`` are the network's, for its predictions.
    """

    def __init__(self, numpy_rng, theano_rng=None, input=None, n_ins=784,
                 hidden_layers_sizes=(500, 500), n_outs=10):
        self.sigmoid_layers = []
        self.rbm_layers = []
        self.params = []
        self.n_layers = len(hidden_layers_sizes)

        if self.n_layers < 1:
            raise ValueError(f"hidden_layers_sizes {hidden_layers_sizes!r}: give at least one "
                             "layer")

        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        self.theano_rng = theano_rng
        # allocate symbolic variables for the data
        self.x = self.input = input if input is not None else T.matrix("x")  # rasterized images
        self.y = T.ivector("y")  # the labels are presented as 1D vector of [int] labels

        # The DBN is an MLP whose hidden layers each share their weights with an RBM.
        # Pretraining trains the RBMs (and so the MLP's weights); fine-tuning then trains the
        # whole MLP by stochastic gradient descent.
        for i in range(self.n_layers):
            # the size of the input is either the number of hidden units of the layer below or
            # the input size if we are on the first layer
            input_size = n_ins if i == 0 else hidden_layers_sizes[i - 1]
            # the input to this layer is either the activation of the hidden layer below or the
            # input of the DBN if we are on the first layer
            layer_input = self.x if i == 0 else self.sigmoid_layers[-1].output

            sigmoid_layer = HiddenLayer(rng=numpy_rng, input=layer_input, n_in=input_size,
                                        n_out=hidden_layers_sizes[i], activation=sigmoid,
                                        name=f"sigmoid{i}")
            self.sigmoid_layers.append(sigmoid_layer)
            # only the sigmoid layers' parameters are the DBN's: the visible biases of the RBMs
            # are those RBMs' own
            self.params.extend(sigmoid_layer.params)

            # an RBM that shares its weights with this layer
            rbm_layer = RBM(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                            n_visible=input_size, n_hidden=hidden_layers_sizes[i],
                            W=sigmoid_layer.W, hbias=sigmoid_layer.b, name=f"rbm{i}")
            self.rbm_layers.append(rbm_layer)

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

    def pretraining_functions(self, train_set_x, batch_size, k):
        """One function per RBM, in layer order, over the shared ``train_set_x``:
        ``fn(index, lr=0.1)`` is one CD-``k`` update of the RBM on minibatch ``index`` and
        returns its cost (the reconstruction cross-entropy)."""
        index = T.lscalar("index")  # index to a minibatch
        learning_rate = T.scalar("lr")  # learning rate to use
        # beginning of a batch, given `index`
        batch_begin = index * batch_size
        # ending of a batch given `index`
        batch_end = batch_begin + batch_size

        pretrain_fns = []
        for i, rbm in enumerate(self.rbm_layers):
            # get the cost and the updates list, using CD-k (persistent=None) for each RBM
            cost, updates = rbm.get_cost_updates(learning_rate, persistent=None, k=k)
            fn = engine.function(
                inputs=[index, engine.In(learning_rate, value=0.1)],
                outputs=cost,
                updates=updates,
                givens={self.x: train_set_x[batch_begin:batch_end]},
                name=f"pretrain_rbm{i}",
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


PHASES = Phases(kind="DBN", file="DBN.py",
                pretraining_line="Pre-training layer %i, epoch %d, cost  %r",
                finetuning_message="... finetuning the model", patience_epochs=4,
                optimization_line="Optimization complete with best validation score of %f %%, "
                                  "obtained at iteration %i, with test performance %f %%",
                finetuning_time_line="The fine tuning code for file %s ran for %.2fm")


def test_DBN(finetune_lr=0.1, pretraining_epochs=100, pretrain_lr=0.01, k=1, training_epochs=1000,
             dataset=None, batch_size=10, *, hidden_layers_sizes=HIDDEN_LAYERS_SIZES, seed=123,
             **options):
    """Pretrain and fine-tune the tutorial's deep belief network on MNIST (DBN.py).

    ``numpy.random.RandomState(seed)`` seeds the network (the tutorial's 123 by default); each of
    the three 1000-unit layers is pretrained for ``pretraining_epochs`` epochs as an RBM by CD-``k``
    with learning rate ``pretrain_lr``, logging ``Pre-training layer %i, epoch %d, cost`` and the
    epoch's mean reconstruction cost; then the network is fine-tuned with learning rate
    ``finetune_lr`` for at most ``training_epochs`` epochs, with patience ``4 * n_train_batches``
    (the tutorial's). ``hidden_layers_sizes`` changes the network, for quicker experiments.
    ``options`` are the fields of ``fitting.Options``: ``checkpoint``/``resume`` cover pretraining
    too. Returns the fine-tuning's ``TrainResult`` with ``pretraining_costs`` (one list per layer)
    and ``pretraining_time`` (``dltut.stacked.pretrain`` and ``finetune``).
    """
    check_seed(seed)
    options = prepare(options)
    check_sgd_settings(finetune_lr, batch_size)
    check_sgd_settings(pretrain_lr, batch_size)
    check_epochs(pretraining_epochs, training_epochs)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer (the Gibbs steps of CD-k), got {k!r}")
    datasets, arch = load("dbn", dataset, batch_size, hidden_layers_sizes)
    train_set_x = datasets[0][0]

    # numpy random generator
    numpy_rng = numpy.random.RandomState(seed)
    log.info("... building the model")
    # construct the Deep Belief Network
    dbn = DBN(numpy_rng=numpy_rng, n_ins=arch["n_ins"],
              hidden_layers_sizes=arch["hidden_layers_sizes"], n_outs=arch["n_outs"])

    log.info("... getting the pretraining functions")
    pretraining_fns = dbn.pretraining_functions(train_set_x=train_set_x, batch_size=batch_size,
                                                k=k)

    # pre-train layer-wise (dltut.stacked's epochs)
    settings = {"pretraining_epochs": pretraining_epochs, "pretrain_lr": pretrain_lr, "k": k,
                "batch_size": batch_size, "seed": seed}
    pretraining = pretrain(dbn, dbn.rbm_layers, pretraining_fns,
                           [{"lr": pretrain_lr}] * dbn.n_layers, datasets, settings, options,
                           PHASES)
    if pretraining.interrupted is not None:  # by SIGINT/SIGTERM: no fine-tuning
        return pretraining.interrupted

    # get the training, validation and testing function for the model
    log.info("... getting the finetuning functions")
    train_fn, validate_model, test_model = dbn.build_finetune_functions(
        datasets=datasets, batch_size=batch_size, learning_rate=finetune_lr)

    # fine-tune with early stopping (dltut's one trainer)
    return finetune(dbn, arch, datasets, train_fn, validate_model, test_model, pretraining,
                    finetune_lr, training_epochs, options, PHASES)


test_DBN.__test__ = False  # the tutorial's name, not a pytest test
