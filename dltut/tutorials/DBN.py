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

from dltut.fitting import check_seed, check_sgd_settings, prepare
from dltut.stacked import Phases, StackedNetwork, build, check_epochs, pretrain_and_finetune
from dltut.tutorials.rbm import RBM

HIDDEN_LAYERS_SIZES = (1000, 1000, 1000)  # test_DBN's network


class DBN(StackedNetwork):
    """A deep belief network: sigmoid layers, each sharing its ``W`` and ``b`` (the RBM's
    ``hbias``) with an ``RBM`` (``rbm_layers``), under a ``LogisticRegression``
    (``dltut.stacked.StackedNetwork``).

    .. math::
        h^{(0)} = x, \\quad h^{(i+1)} = sigm(h^{(i)} W^{(i)} + b^{(i)}), \\quad
        P(Y | x) = softmax(h^{(L)} W^{(L)} + b^{(L)})

    Draw order, as in the tutorial: the seed of ``theano_rng`` (if None), then each layer's
    ``W``; the RBMs draw nothing (they are given ``W``, ``hbias`` and the one ``theano_rng``
    they all share). ``params`` are the sigmoid and logistic layers' (what fine-tuning trains);
    each RBM also has its own visible bias ``vbias``, trained in pretraining only.
    """

    def __init__(self, numpy_rng, theano_rng=None, input=None, n_ins=784,
                 hidden_layers_sizes=(500, 500), n_outs=10):
        def make_rbm(numpy_rng, theano_rng, layer_input, n_in, n_hidden, layer, i):
            return RBM(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                       n_visible=n_in, n_hidden=n_hidden, W=layer.W, hbias=layer.b,
                       name=f"rbm{i}")

        super().__init__(numpy_rng, theano_rng, input, n_ins, hidden_layers_sizes, n_outs,
                         make_rbm)
        self.rbm_layers = self.pretrained_layers

    def pretraining_functions(self, train_set_x, batch_size, k, fused=None):
        """One ``PretrainingFunction`` per RBM, in layer order, over the shared ``train_set_x``:
        ``fn(index, lr=0.1)`` is one CD-``k`` update of the RBM on minibatch ``index`` (its
        cost the reconstruction cross-entropy), as in the tutorial."""
        return self._pretraining_functions(
            train_set_x, batch_size,
            lambda rbm, inputs: rbm.get_cost_updates(inputs["lr"], persistent=None, k=k),
            {"lr": 0.1}, fused)


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
    and ``pretraining_time`` (see ``dltut.stacked.pretrain_and_finetune``).
    """
    check_seed(seed)
    options = prepare(options)
    check_sgd_settings(finetune_lr, batch_size)
    check_sgd_settings(pretrain_lr, batch_size)
    check_epochs(pretraining_epochs, training_epochs)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer (the Gibbs steps of CD-k), got {k!r}")
    datasets, arch, dbn = build(DBN, "dbn", seed, dataset, batch_size, hidden_layers_sizes)
    functions = dbn.pretraining_functions(datasets[0][0], batch_size, k, fused=options.fused)
    settings = {"pretraining_epochs": pretraining_epochs, "pretrain_lr": pretrain_lr, "k": k,
                "batch_size": batch_size, "seed": seed}
    return pretrain_and_finetune(dbn, arch, datasets, functions,
                                 [{"lr": pretrain_lr}] * dbn.n_layers, settings,
                                 finetune_lr, training_epochs, options, PHASES)


test_DBN.__test__ = False  # the tutorial's name, not a pytest test
