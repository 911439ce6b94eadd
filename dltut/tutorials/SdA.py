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
import math
import os

import numpy

from dltut import data, engine, saving
from dltut.compiled import CompiledCost, n_batches
from dltut.engine import T
from dltut.epochs import Epochs, Interrupted
from dltut.fitting import N_OUT, check_sgd_settings, fit, input_size, prepare
from dltut.random import RandomStreams
from dltut.trainer import EarlyStopping, TrainResult
from dltut.tutorials.dA import dA
from dltut.tutorials.logistic_sgd import LogisticRegression
from dltut.tutorials.mlp import HiddenLayer, sigmoid

log = logging.getLogger(__name__)

HIDDEN_LAYERS_SIZES = (1000, 1000, 1000)  # test_SdA's network
CORRUPTION_LEVELS = (0.1, 0.2, 0.3)  # test_SdA's corruption of each layer's input in pretraining


class SdA:
    """Stacked denoising autoencoders: sigmoid layers, each sharing its ``W`` and ``b`` with a
    ``dA``, under a ``LogisticRegression``.

    .. math::
        h^{(0)} = x, \\quad h^{(i+1)} = s(h^{(i)} W^{(i)} + b^{(i)}), \\quad
        P(Y | x) = softmax(h^{(L)} W^{(L)} + b^{(L)})

    Draw order, as in the tutorial: the seed of ``theano_rng`` (if None) by
    ``numpy_rng.randint(2 ** 30)``, then each layer's ``W`` by one ``numpy_rng.uniform`` call
    (the sigmoid bound, 4 times the tanh one); the dAs draw nothing (they are given ``W``, ``b``
    and the one ``theano_rng`` they all share), the logistic layer starts at zero. ``params``
    are the sigmoid and logistic layers' (what fine-tuning trains); each dA also has its own
    visible bias ``b_prime``, trained in pretraining only. ``corruption_levels`` is kept, as the
    tutorial's constructor has it, but unused: the pretraining functions take the level per call.
    """

    def __init__(self, numpy_rng, theano_rng=None, input=None, n_ins=784,
                 hidden_layers_sizes=(500, 500), n_outs=10, corruption_levels=(0.1, 0.1)):
        if len(hidden_layers_sizes) < 1:
            raise ValueError(f"hidden_layers_sizes {hidden_layers_sizes!r}: give at least one layer")
        self.n_layers = len(hidden_layers_sizes)
        self.corruption_levels = tuple(corruption_levels)
        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        self.theano_rng = theano_rng
        self.x = self.input = input if input is not None else T.matrix("x")  # rasterized images
        self.y = T.ivector("y")  # the labels of the tutorial's finetune_cost and errors
        self.sigmoid_layers, self.dA_layers, self.params = [], [], []
        layer_input, n_in = self.x, n_ins
        for i, n_hidden in enumerate(hidden_layers_sizes):
            layer = HiddenLayer(rng=numpy_rng, input=layer_input, n_in=n_in, n_out=n_hidden,
                                activation=sigmoid, name=f"sigmoid{i}")
            self.sigmoid_layers.append(layer)
            self.params.extend(layer.params)
            self.dA_layers.append(dA(numpy_rng=numpy_rng, theano_rng=theano_rng,
                                     input=layer_input, n_visible=n_in, n_hidden=n_hidden,
                                     W=layer.W, bhid=layer.b, name=f"dA{i}"))
            layer_input, n_in = layer.output, n_hidden
            if engine.name() == "pytensor":
                # the codes' width, known to the graph: in JAX mode the next dA's corruption
                # draws a mask of this shape, and JAX needs it when it compiles
                layer_input = T.specify_shape(layer_input, (None, n_hidden))
        self.logLayer = LogisticRegression(input=layer_input, n_in=n_in, n_out=n_outs,
                                           name="logreg")
        self.params.extend(self.logLayer.params)
        self.negative_log_likelihood = self.logLayer.negative_log_likelihood
        self.errors = self.logLayer.errors
        self.p_y_given_x = self.logLayer.p_y_given_x
        self.y_pred = self.logLayer.y_pred
        self.finetune_cost = self.negative_log_likelihood(self.y)

    def pretraining_functions(self, train_set_x, batch_size, fused=None):
        """One ``PretrainingFunction`` per dA, in layer order, over the shared ``train_set_x``.

        Each is called as the tutorial's were, ``fn(index, corruption=0.2, lr=0.1)``: one
        update of its dA on minibatch ``index``; ``fn.epoch(corruption, lr)``-like use goes
        through ``fn.compiled`` (a ``CompiledCost``, fused in JAX mode). The corruption level
        and learning rate are shared scalars, so one compiled function serves every value.
        """
        corruption_level = engine.shared(numpy.asarray(0.2, dtype=engine.floatX()), "corruption")
        learning_rate = engine.shared(numpy.asarray(0.1, dtype=engine.floatX()), "lr")
        functions = []
        for da in self.dA_layers:
            cost, updates = da.get_cost_updates(corruption_level, learning_rate)
            compiled = CompiledCost(self.x, cost, updates, train_set_x, batch_size, fused=fused)
            functions.append(PretrainingFunction(compiled, corruption_level, learning_rate))
        return functions


class PretrainingFunction:
    """A dA's training on minibatches, with its corruption level and learning rate as settings."""

    def __init__(self, compiled, corruption_level, learning_rate):
        self.compiled, self._corruption, self._lr = compiled, corruption_level, learning_rate

    def set(self, corruption, lr):
        """Use this corruption level and learning rate from the next update on."""
        for shared, value in ((self._corruption, corruption), (self._lr, lr)):
            shared.set_value(numpy.asarray(value, dtype=engine.floatX()))

    def __call__(self, index, corruption=0.2, lr=0.1):
        """One update on minibatch ``index``; its cost."""
        self.set(corruption, lr)
        return self.compiled.train_minibatches(index, 1)[0]


def test_SdA(finetune_lr=0.1, pretraining_epochs=15, pretrain_lr=0.001, training_epochs=1000,
             dataset=None, batch_size=1, *, hidden_layers_sizes=HIDDEN_LAYERS_SIZES,
             corruption_levels=CORRUPTION_LEVELS, **options):
    """Pretrain and fine-tune the tutorial's stacked denoising autoencoder on MNIST (SdA.py).

    ``numpy.random.RandomState(89677)`` seeds the network; each of the three 1000-unit layers is
    pretrained for ``pretraining_epochs`` epochs as a dA (corruption 0.1, 0.2, 0.3; learning
    rate ``pretrain_lr``), logging ``Pre-training layer %i, epoch %d, cost %f``; then the
    network is fine-tuned with learning rate ``finetune_lr`` for at most ``training_epochs``
    epochs, with patience ``10 * n_train_batches`` (the tutorial's). ``hidden_layers_sizes``
    and ``corruption_levels`` (one per layer) change the network, for quicker experiments; the
    defaults are the tutorial's. ``options`` are the fields
    of ``fitting.Options``: ``checkpoint``/``resume`` cover pretraining too (a checkpoint
    written during pretraining goes on with pretraining, one written during fine-tuning goes on
    with fine-tuning). Returns the fine-tuning's ``TrainResult`` with ``pretraining_costs``
    (one list per layer) and ``pretraining_time``; a run stopped by SIGINT/SIGTERM in
    pretraining returns one with ``stop_reason == "interrupted"`` and no fine-tuning.
    """
    options = prepare(options)
    check_sgd_settings(finetune_lr, batch_size)
    check_sgd_settings(pretrain_lr, batch_size)
    for name, value in (("pretraining_epochs", pretraining_epochs),
                        ("training_epochs", training_epochs)):
        minimum = 0 if name == "pretraining_epochs" else 1  # 0: fine-tuning from the draw
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    hidden_layers_sizes, corruption_levels = list(hidden_layers_sizes), list(corruption_levels)
    if len(corruption_levels) != len(hidden_layers_sizes):
        raise ValueError(f"corruption_levels {corruption_levels} and hidden_layers_sizes "
                         f"{hidden_layers_sizes}: give one corruption level per hidden layer")
    for level in corruption_levels:
        if not 0 <= level < 1:
            raise ValueError(f"corruption level {level!r} must be in [0, 1): the fraction of "
                             "inputs zeroed")
    resume_finetuning = options.resume is not None and _is_finetuning_checkpoint(options.resume)
    datasets = data.load_shared(dataset)
    train_set_x = datasets[0][0]
    n_train_batches = n_batches(train_set_x, batch_size, "training")
    numpy_rng = numpy.random.RandomState(89677)
    log.info("... building the model")
    x = T.matrix("x")
    arch = {"model": "sda", "n_ins": input_size(datasets),
            "hidden_layers_sizes": hidden_layers_sizes, "n_outs": N_OUT}
    sda = SdA(numpy_rng=numpy_rng, input=x, n_ins=arch["n_ins"],
              hidden_layers_sizes=hidden_layers_sizes, n_outs=N_OUT)
    settings = {"pretraining_epochs": pretraining_epochs, "pretrain_lr": pretrain_lr,
                "batch_size": batch_size, "corruption_levels": corruption_levels}
    pretraining_costs, pretraining_time = [], 0.0
    if not resume_finetuning:
        try:
            pretraining_costs, pretraining_time = _pretrain(
                sda, train_set_x, batch_size, settings, options)
        except Interrupted as stopped:
            log.warning("%s", stopped)
            return _interrupted(sda, n_train_batches)
    log.info("... getting the finetuning functions")
    hyperparameters = {"learning_rate": finetune_lr, "batch_size": batch_size, **settings}
    stopping = EarlyStopping(n_epochs=training_epochs, patience=10 * n_train_batches)
    if not resume_finetuning:  # the fine-tuning's own checkpoints replace the pretraining's
        options.resume = None
    result = fit(arch, None, datasets, hyperparameters, stopping, options, model=sda,
                 training_message="... finetunning the model")
    log.info("Optimization complete with best validation score of %f %%, on iteration %i, "
             "with test performance %f %%", result.best_validation_loss * 100.0,
             result.best_iter + 1, result.test_score * 100.0)
    log.info("The training code for file %s ran for %.2fm", os.path.basename(__file__),
             result.elapsed / 60.0)
    result.pretraining_costs, result.pretraining_time = pretraining_costs, pretraining_time
    return result


test_SdA.__test__ = False  # the tutorial's name, not a pytest test


def _pretrain(sda, train_set_x, batch_size, settings, options):
    """Pretrain each layer in turn; ``(costs per layer, seconds)``."""
    log.info("... getting the pretraining functions")
    pretraining_fns = sda.pretraining_functions(train_set_x, batch_size, fused=options.fused)
    epochs = Epochs("SdA", settings, sda.params + [da.b_prime for da in sda.dA_layers],
                    [sda.theano_rng], options.checkpoint, options.checkpoint_every,
                    options.resume)
    log.info("... pre-training the model")
    costs = []
    for i, (fn, corruption) in enumerate(zip(pretraining_fns, settings["corruption_levels"])):
        fn.set(corruption, settings["pretrain_lr"])
        costs.append(epochs.run(f"layer {i}", fn.compiled, settings["pretraining_epochs"],
                                "Pre-training layer %i, epoch %d, cost %f", i))
    log.info("The pretraining code for file %s ran for %.2fm", os.path.basename(__file__),
             epochs.elapsed / 60.0)
    return costs, epochs.elapsed


def _is_finetuning_checkpoint(path):
    """Whether ``path`` was written in fine-tuning (by the trainer) rather than in pretraining."""
    return "checkpoint" in saving.load_model(path).meta


def _interrupted(sda, n_train_batches):
    """The result of a run stopped in pretraining: no fine-tuning, no best model."""
    result = TrainResult(best_validation_loss=math.inf, best_iter=0, test_score=0.0, epochs=0,
                         iterations=0, stop_reason="interrupted", patience=0,
                         validation_frequency=n_train_batches, n_train_batches=n_train_batches,
                         history=[], costs=numpy.zeros(0), elapsed=0.0)
    result.model = sda
    return result
