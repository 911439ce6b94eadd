"""Deep networks pretrained greedily, layer by layer, then fine-tuned: the SdA's and the DBN's
shared machinery.

``StackedNetwork`` is an MLP of sigmoid ``HiddenLayer``\\ s under a ``LogisticRegression``, each
hidden layer sharing its ``W`` and ``b`` with an unsupervised model (a ``dA`` in the SdA, an
``RBM`` in the DBN) that pretrains it on the codes of the layer below. ``pretrain_and_finetune``
runs the two phases as both tutorials do: each layer's pretraining epochs in turn (with
``dltut.epochs``' checkpoints), then fine-tuning of the whole network on dltut's one
early-stopping trainer (``build_finetune_functions``, then ``fitting.train_functions``), with
patience a multiple of ``n_train_batches``.
"""

import dataclasses
import logging
import math

import numpy

from dltut import data, engine, registry, saving
from dltut.compiled import CompiledCost, n_batches
from dltut.engine import T
from dltut.epochs import Epochs, Interrupted
from dltut.fitting import (N_OUT, check_batch_size, check_sgd_settings, input_size,
                           train_functions)
from dltut.random import RandomStreams
from dltut.trainer import EarlyStopping, Minibatches, TrainResult
from dltut.tutorials.logistic_sgd import LogisticRegression
from dltut.tutorials.mlp import HiddenLayer, sigmoid

log = logging.getLogger(__name__)


class StackedNetwork:
    """Sigmoid layers, each sharing ``W`` and ``b`` with a model that pretrains it, under a
    logistic layer.

    ``make_layer(numpy_rng, theano_rng, layer_input, n_in, n_hidden, sigmoid_layer, i)`` builds
    layer ``i``'s unsupervised model (it draws nothing: it is given ``W``, ``b`` and the one
    ``theano_rng`` all share). Draw order, as in the tutorials: the seed of ``theano_rng`` (if
    None) by ``numpy_rng.randint(2 ** 30)``, then each layer's ``W`` by one ``numpy_rng.uniform``
    call (the sigmoid bound, 4 times the tanh one); the logistic layer starts at zero. ``params``
    are the sigmoid and logistic layers' (what fine-tuning trains); ``pretrained_layers`` the
    unsupervised models, in layer order.
    """

    def __init__(self, numpy_rng, theano_rng, input, n_ins, hidden_layers_sizes, n_outs,
                 make_layer):
        if len(hidden_layers_sizes) < 1:
            raise ValueError(f"hidden_layers_sizes {hidden_layers_sizes!r}: give at least one layer")
        self.n_layers = len(hidden_layers_sizes)
        if theano_rng is None:
            theano_rng = RandomStreams(numpy_rng.randint(2 ** 30))
        self.theano_rng = theano_rng
        self.x = self.input = input if input is not None else T.matrix("x")  # rasterized images
        self.y = T.ivector("y")  # the labels of the tutorials' finetune_cost and errors
        self.sigmoid_layers, self.pretrained_layers, self.params = [], [], []
        layer_input, n_in = self.x, n_ins
        for i, n_hidden in enumerate(hidden_layers_sizes):
            layer = HiddenLayer(rng=numpy_rng, input=layer_input, n_in=n_in, n_out=n_hidden,
                                activation=sigmoid, name=f"sigmoid{i}")
            self.sigmoid_layers.append(layer)
            self.params.extend(layer.params)
            self.pretrained_layers.append(
                make_layer(numpy_rng, theano_rng, layer_input, n_in, n_hidden, layer, i))
            layer_input, n_in = layer.output, n_hidden  # of static width: W's shape is
        self.logLayer = LogisticRegression(input=layer_input, n_in=n_in, n_out=n_outs,
                                           name="logreg")
        self.params.extend(self.logLayer.params)
        self.negative_log_likelihood = self.logLayer.negative_log_likelihood
        self.errors = self.logLayer.errors
        self.p_y_given_x = self.logLayer.p_y_given_x
        self.y_pred = self.logLayer.y_pred
        self.finetune_cost = self.negative_log_likelihood(self.y)

    def build_finetune_functions(self, datasets, batch_size, learning_rate, fused=None):
        """The fine-tuning's ``train_fn``, ``validate_model`` and ``test_model`` over the shared
        ``datasets``, built as the tutorials' ``build_finetune_functions``, handed to the trainer
        as a ``trainer.Minibatches`` (the tutorials' ``valid_score`` and ``test_score`` are its
        validation and test means)."""
        (train_set_x, train_set_y), (valid_set_x, valid_set_y), (test_set_x, test_set_y) = datasets

        # compute number of minibatches for training, validation and testing
        n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
        n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
        n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size

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
            self.errors(self.y),
            givens={
                self.x: test_set_x[index * batch_size: (index + 1) * batch_size],
                self.y: test_set_y[index * batch_size: (index + 1) * batch_size],
            },
            name="test",
        )
        valid_score_i = engine.function(
            [index],
            self.errors(self.y),
            givens={
                self.x: valid_set_x[index * batch_size: (index + 1) * batch_size],
                self.y: valid_set_y[index * batch_size: (index + 1) * batch_size],
            },
            name="valid",
        )
        return Minibatches(train_fn, valid_score_i, test_score_i, n_train_batches,
                           n_valid_batches, n_test_batches, self.params, fused=fused)

    def _pretraining_functions(self, train_set_x, batch_size, cost_updates, defaults, fused):
        """One ``PretrainingFunction`` per layer: ``cost_updates(layer, inputs)`` gives the
        layer's ``(cost, updates)`` with its settings ``inputs`` (shared scalars named as
        ``defaults``' keys, set per call)."""
        inputs = {name: engine.shared(numpy.asarray(value, dtype=engine.floatX()), name)
                  for name, value in defaults.items()}
        return [PretrainingFunction(self.x, sigmoid_layer.input, *cost_updates(layer, inputs),
                                    train_set_x, batch_size, inputs, defaults, fused,
                                    name=f"codes{i}")
                for i, (layer, sigmoid_layer)
                in enumerate(zip(self.pretrained_layers, self.sigmoid_layers))]


class PretrainingFunction:
    """One layer's pretraining on minibatches, called as the tutorials' were:
    ``fn(index, lr=0.1)`` (and ``corruption=0.2`` in the SdA) makes one update on minibatch
    ``index`` and returns its cost. The settings are shared scalars, so one compiled function
    serves every value.

    ``training()`` is what a run of the layer's epochs uses instead: a ``CompiledCost`` (fused
    spans in JAX mode) over the layer's input for every training example, its *codes*, computed
    by the layers below when it is called. Those layers do not change while this one trains, so
    an update no longer passes its minibatch through them, as ``fn(index)`` does (and the
    tutorials did): the same arithmetic, less of it. The codes, computed a whole split per
    product, may differ from a minibatch's in the last bit.
    """

    def __init__(self, x, layer_input, cost, updates, train_set_x, batch_size, inputs, defaults,
                 fused, name):
        self._x, self._layer_input, self._train_set_x = x, layer_input, train_set_x
        self._cost, self._updates, self._batch_size, self._fused = cost, updates, batch_size, fused
        self._inputs, self._defaults, self._name = inputs, defaults, name
        self._per_call = None  # the tutorial's train function, compiled at the first call

    def set(self, **values):
        """Use these settings from the next update on."""
        for name, value in values.items():
            self._inputs[name].set_value(numpy.asarray(value, dtype=engine.floatX()))

    def __call__(self, index, **values):
        self.set(**{**self._defaults, **values})
        if self._per_call is None:
            self._per_call = CompiledCost(self._x, self._cost, self._updates, self._train_set_x,
                                          self._batch_size, fused=False)
        return self._per_call.train_minibatches(index, 1)[0]

    def training(self):
        """A ``CompiledCost`` of this layer on the codes of the training set, as the layers below
        compute them now."""
        codes = self._train_set_x
        if self._layer_input is not self._x:
            encode = engine.function([], self._layer_input, givens={self._x: self._train_set_x},
                                     name=f"encode_{self._name}")
            codes = engine.shared(numpy.asarray(encode()), self._name)
        return CompiledCost(self._layer_input, self._cost, self._updates, codes,
                            self._batch_size, fused=self._fused)


@dataclasses.dataclass
class Phases:
    """What a stacked network's tutorial logs and how it fine-tunes."""

    kind: str  # "SdA", "DBN": the run its pretraining checkpoints record
    file: str  # the tutorial's file, as its "ran for" lines name it
    pretraining_line: str  # logged with (layer, epoch, mean cost) after each epoch
    finetuning_message: str  # logged when fine-tuning starts
    patience_epochs: int  # fine-tuning's patience, in epochs (patience = this * n_train_batches)
    optimization_line: str  # logged with (best validation %, best iter + 1, its test %) at the end
    finetuning_time_line: str  # logged with (file, minutes of fine-tuning) at the end


def build(network_class, model, seed, dataset, batch_size, hidden_layers_sizes):
    """``(datasets, arch, network)``: MNIST in shared variables, the architecture a model file
    records (``model`` names it) and the network, drawn from ``RandomState(seed)``. A batch
    larger than the training set fails here, before any drawing."""
    datasets = data.load_shared(dataset)
    n_batches(datasets[0][0], batch_size, "training")
    log.info("... building the model")
    arch = {"model": model, "n_ins": input_size(datasets),
            "hidden_layers_sizes": list(hidden_layers_sizes), "n_outs": N_OUT}
    registry.param_shapes(arch)  # its sizes, before anything is drawn
    network = network_class(numpy_rng=numpy.random.RandomState(seed), input=T.matrix("x"),
                            n_ins=arch["n_ins"], hidden_layers_sizes=arch["hidden_layers_sizes"],
                            n_outs=N_OUT)
    log.info("... getting the pretraining functions")
    return datasets, arch, network


def check_epochs(pretraining_epochs, training_epochs):
    """At least 0 pretraining epochs (0: fine-tune the first draw) and 1 fine-tuning epoch."""
    for name, value, minimum in (("pretraining_epochs", pretraining_epochs, 0),
                                 ("training_epochs", training_epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def pretrain_and_finetune(network, arch, datasets, functions, layer_settings, settings,
                          finetune_lr, training_epochs, options, phases):
    """Pretrain each layer of ``network`` with ``functions`` (one ``PretrainingFunction`` each,
    set to ``layer_settings[i]``) for ``settings["pretraining_epochs"]`` epochs, then fine-tune
    it; the fine-tuning's ``TrainResult`` with ``pretraining_costs`` (one list per layer) and
    ``pretraining_time``.

    The caller has checked the settings. ``settings`` (the pretraining's hyperparameters,
    ``batch_size`` included) must match a checkpoint's to resume it. A
    checkpoint written in pretraining goes on with pretraining, one written in fine-tuning with
    fine-tuning. A run stopped by SIGINT/SIGTERM in pretraining returns a result with
    ``stop_reason == "interrupted"`` and no fine-tuning.
    """
    n_train_batches = n_batches(datasets[0][0], settings["batch_size"], "training")
    finetuning_checkpoint = (options.resume is not None
                             and "checkpoint" in saving.load_model(options.resume).meta)
    costs, elapsed = [], 0.0
    if not finetuning_checkpoint:
        try:
            costs, elapsed = _pretrain(network, functions, layer_settings, settings, options,
                                       phases)
        except Interrupted as stopped:
            log.warning("%s", stopped)
            return _interrupted(network, n_train_batches)
        options.resume = None  # the fine-tuning's own checkpoints replace the pretraining's
    log.info("... getting the finetuning functions")
    hyperparameters = {"learning_rate": finetune_lr, **settings}
    stopping = EarlyStopping(n_epochs=training_epochs,
                             patience=phases.patience_epochs * n_train_batches)
    check_sgd_settings(finetune_lr, settings["batch_size"])
    check_batch_size(datasets, settings["batch_size"])
    model = network.build_finetune_functions(datasets, settings["batch_size"], finetune_lr,
                                             fused=options.fused)
    result = train_functions(model, network, arch, hyperparameters, stopping, options,
                             training_message=phases.finetuning_message)
    log.info(phases.optimization_line, result.best_validation_loss * 100.0, result.best_iter + 1,
             result.test_score * 100.0)
    log.info(phases.finetuning_time_line, phases.file, result.elapsed / 60.0)
    result.pretraining_costs, result.pretraining_time = costs, elapsed
    return result


def _pretrain(network, functions, layer_settings, settings, options, phases):
    """Each layer's epochs in turn; ``(costs per layer, seconds)``."""
    extra = [p for layer in network.pretrained_layers for p in layer.params
             if all(p is not q for q in network.params)]  # the visible biases
    epochs = Epochs(phases.kind, settings, network.params + extra, [network.theano_rng],
                    options.checkpoint, options.checkpoint_every, options.resume)
    log.info("... pre-training the model")
    costs = []
    for i, (fn, values) in enumerate(zip(functions, layer_settings)):
        fn.set(**values)
        costs.append(epochs.run(f"layer {i}", fn.training(), settings["pretraining_epochs"],
                                phases.pretraining_line, i))
    log.info("The pretraining code for file %s ran for %.2fm", phases.file, epochs.elapsed / 60.0)
    return costs, epochs.elapsed


def _interrupted(network, n_train_batches):
    """The result of a run stopped in pretraining: no fine-tuning, no best model."""
    result = TrainResult(best_validation_loss=math.inf, best_iter=0, test_score=0.0, epochs=0,
                         iterations=0, stop_reason="interrupted", patience=0,
                         validation_frequency=n_train_batches, n_train_batches=n_train_batches,
                         history=[], costs=numpy.zeros(0), elapsed=0.0)
    result.model = network
    return result
