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

from dltut.fitting import check_seed, check_sgd_settings, prepare
from dltut.stacked import Phases, StackedNetwork, build, check_epochs, pretrain_and_finetune
from dltut.tutorials.dA import dA

HIDDEN_LAYERS_SIZES = (1000, 1000, 1000)  # test_SdA's network
CORRUPTION_LEVELS = (0.1, 0.2, 0.3)  # test_SdA's corruption of each layer's input in pretraining


class SdA(StackedNetwork):
    """Stacked denoising autoencoders: sigmoid layers, each sharing its ``W`` and ``b`` with a
    ``dA``, under a ``LogisticRegression`` (``dltut.stacked.StackedNetwork``).

    .. math::
        h^{(0)} = x, \\quad h^{(i+1)} = s(h^{(i)} W^{(i)} + b^{(i)}), \\quad
        P(Y | x) = softmax(h^{(L)} W^{(L)} + b^{(L)})

    Draw order, as in the tutorial: the seed of ``theano_rng`` (if None), then each layer's
    ``W``; the dAs draw nothing (they are given ``W``, ``b`` and the one ``theano_rng`` they all
    share). ``params`` are the sigmoid and logistic layers' (what fine-tuning trains); each dA
    (``dA_layers``) also has its own visible bias ``b_prime``, trained in pretraining only.
    ``corruption_levels`` is kept, as the tutorial's constructor has it, but unused: the
    pretraining functions take the level per call.
    """

    def __init__(self, numpy_rng, theano_rng=None, input=None, n_ins=784,
                 hidden_layers_sizes=(500, 500), n_outs=10, corruption_levels=(0.1, 0.1)):
        self.corruption_levels = tuple(corruption_levels)

        def make_dA(numpy_rng, theano_rng, layer_input, n_in, n_hidden, layer, i):
            return dA(numpy_rng=numpy_rng, theano_rng=theano_rng, input=layer_input,
                      n_visible=n_in, n_hidden=n_hidden, W=layer.W, bhid=layer.b, name=f"dA{i}")

        super().__init__(numpy_rng, theano_rng, input, n_ins, hidden_layers_sizes, n_outs,
                         make_dA)
        self.dA_layers = self.pretrained_layers

    def pretraining_functions(self, train_set_x, batch_size, fused=None):
        """One ``PretrainingFunction`` per dA, in layer order, over the shared ``train_set_x``:
        ``fn(index, corruption=0.2, lr=0.1)`` is one update of the dA on minibatch ``index``,
        as in the tutorial."""
        return self._pretraining_functions(
            train_set_x, batch_size,
            lambda da, inputs: da.get_cost_updates(inputs["corruption"], inputs["lr"]),
            {"corruption": 0.2, "lr": 0.1}, fused)


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
    ``dltut.stacked.pretrain_and_finetune``).
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
    datasets, arch, sda = build(SdA, "sda", seed, dataset, batch_size, hidden_layers_sizes)
    functions = sda.pretraining_functions(datasets[0][0], batch_size, fused=options.fused)
    settings = {"pretraining_epochs": pretraining_epochs, "pretrain_lr": pretrain_lr,
                "batch_size": batch_size, "corruption_levels": corruption_levels, "seed": seed}
    return pretrain_and_finetune(
        sda, arch, datasets, functions,
        [{"corruption": level, "lr": pretrain_lr} for level in corruption_levels], settings,
        finetune_lr, training_epochs, options, PHASES)


test_SdA.__test__ = False  # the tutorial's name, not a pytest test
