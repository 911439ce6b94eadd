"""Deep networks pretrained greedily, layer by layer, then fine-tuned: the two phases of the SdA
and the DBN, shared by both tutorials.

A tutorial builds its network (sigmoid layers each sharing ``W`` and ``b`` with a ``dA`` or an
``RBM``, under a logistic layer), its pretraining functions (one per layer, ``fn(index, lr=...)``)
and its fine-tuning functions, as the originals do; here is what runs them. ``pretrain`` runs
each layer's pretraining epochs in turn (with ``dltut.epochs``' checkpoints); ``finetune`` trains
the whole network on dltut's one early-stopping trainer (``fitting.train_functions``), with
patience a multiple of ``n_train_batches``.

Pretraining a layer changes that layer alone, so the layers below compute the same codes of a
training example at every update of the layer above: ``pretrain`` has each layer's function
compute its input once, for the whole training set, and train on those codes
(``with_precomputed``, by the engine's back end) instead of passing every minibatch through the
frozen layers again, as the tutorials' ``fn(index)`` does: the same arithmetic, less of it.
"""

import dataclasses
import functools
import logging
import math

import numpy

from dltut import data, registry, saving
from dltut.compiled import batch_counts, n_batches
from dltut.epochs import Epochs, Interrupted
from dltut.fitting import N_OUT, RUN, check_batch_size, input_size, train_functions
from dltut.trainer import EarlyStopping, Minibatches, TrainResult

log = logging.getLogger(__name__)


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


def load(model, dataset, batch_size, hidden_layers_sizes):
    """``(datasets, arch)``: MNIST in shared variables and the architecture of the network, as a
    model file records it (``model`` names it), checked before anything is drawn: a batch larger
    than a split, or a network too large, fails here."""
    datasets = data.load_shared(dataset)
    check_batch_size(datasets, batch_size)
    arch = {"model": model, "n_ins": input_size(datasets),
            "hidden_layers_sizes": list(hidden_layers_sizes), "n_outs": N_OUT}
    registry.param_shapes(arch)
    return datasets, arch


def check_epochs(pretraining_epochs, training_epochs):
    """At least 0 pretraining epochs (0: fine-tune the first draw) and 1 fine-tuning epoch."""
    for name, value, minimum in (("pretraining_epochs", pretraining_epochs, 0),
                                 ("training_epochs", training_epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclasses.dataclass
class Pretraining:
    """What ``pretrain`` did."""

    settings: dict  # the pretraining's hyperparameters, which a checkpoint must match
    costs: list  # each layer's mean cost of each epoch
    elapsed: float  # seconds of pretraining (compiling excluded)
    interrupted: TrainResult | None = None  # stopped by SIGINT/SIGTERM: the run's result


def pretrain(network, layers, functions, layer_settings, datasets, settings, options, phases):
    """Pretrain ``layers`` (the network's dAs or RBMs) in turn, layer ``i`` by ``functions[i]``
    (``fn(index, **layer_settings[i])``: one update on training minibatch ``index``) for
    ``settings["pretraining_epochs"]`` epochs, logging ``phases.pretraining_line`` after each.

    The caller has checked the settings. ``settings`` (the pretraining's hyperparameters,
    ``batch_size`` included) must match a checkpoint's to resume it: a checkpoint written in
    pretraining goes on with pretraining; one written in fine-tuning skips it (``finetune``
    resumes it). A run stopped by SIGINT/SIGTERM returns with ``interrupted``, a result with
    ``stop_reason == "interrupted"``, to return without fine-tuning.
    """
    n_train_batches = n_batches(datasets[0][0], settings["batch_size"], "training")
    if options.resume is not None and saving.load_model(options.resume).arch["model"] == RUN:
        return Pretraining(settings, costs=[], elapsed=0.0)  # a fine-tuning checkpoint
    visible_biases = [p for layer in layers for p in layer.params
                      if all(p is not q for q in network.params)]
    epochs = Epochs(phases.kind, settings, network.params + visible_biases,
                    [network.theano_rng], options.checkpoint, options.checkpoint_every,
                    options.resume)
    log.info("... pre-training the model")
    costs = []
    try:
        for i, (fn, values) in enumerate(zip(functions, layer_settings)):
            train = layer_training(network, i, fn, values, n_train_batches, layers[i].params,
                                   options.fused)
            costs.append(epochs.run(f"layer {i}", train, settings["pretraining_epochs"],
                                    phases.pretraining_line, i))
    except Interrupted as stopped:
        log.warning("%s", stopped)
        return Pretraining(settings, costs, epochs.elapsed,
                           interrupted=_interrupted(network, n_train_batches))
    log.info("The pretraining code for file %s ran for %.2fm", phases.file, epochs.elapsed / 60.0)
    options.resume = None  # the fine-tuning's own checkpoints replace the pretraining's
    return Pretraining(settings, costs, epochs.elapsed)


def layer_training(network, i, fn, settings, n_train_batches, params, fused=None):
    """What ``pretrain`` trains layer ``i`` of ``network`` with, a ``trainer.Minibatches``:
    its pretraining function ``fn`` called with ``settings`` at every minibatch, on the codes of
    the layers below computed now, for the whole training set, once (they do not change while
    this layer trains); ``params`` are the layer's."""
    fn = fn.with_precomputed(network.sigmoid_layers[i].input)
    return Minibatches(_WithSettings(fn, settings), None, None, n_train_batches, 0, 0, params,
                       fused=fused)


class _WithSettings:
    """A pretraining function called with ``settings`` at every minibatch, as the trainer calls
    a function of the index alone (``over`` a span likewise, where the function runs spans)."""

    def __init__(self, fn, settings):
        self.fn, self.settings = fn, settings
        if hasattr(fn, "over"):
            self.over = functools.partial(fn.over, **settings)
        if hasattr(fn, "compile_ahead"):
            self.compile_ahead = fn.compile_ahead

    def __call__(self, index):
        return self.fn(index, **self.settings)


def finetune(network, arch, datasets, train_fn, validate_model, test_model, pretraining,
             finetune_lr, training_epochs, options, phases):
    """Fine-tune ``network`` by its ``train_fn`` (one update on training minibatch ``index``) on
    dltut's one trainer, validating by the mean of ``validate_model`` (the zero-one loss of a
    validation minibatch) and testing each best by the mean of ``test_model``; patience is
    ``phases.patience_epochs * n_train_batches``. The ``TrainResult``, with the
    ``pretraining``'s ``pretraining_costs`` (one list per layer) and ``pretraining_time``. A
    checkpoint (``options``) resumes only the run of the same ``finetune_lr`` and pretraining
    settings."""
    counts = batch_counts(datasets, pretraining.settings["batch_size"])
    model = Minibatches(train_fn, validate_model, test_model, counts["training"],
                        counts["validation"], counts["test"], network.params,
                        fused=options.fused)
    stopping = EarlyStopping(n_epochs=training_epochs,
                             patience=phases.patience_epochs * counts["training"])
    hyperparameters = {"learning_rate": finetune_lr, **pretraining.settings}
    result = train_functions(model, network, arch, hyperparameters, stopping, options,
                             training_message=phases.finetuning_message)
    log.info(phases.optimization_line, result.best_validation_loss * 100.0, result.best_iter + 1,
             result.test_score * 100.0)
    log.info(phases.finetuning_time_line, phases.file, result.elapsed / 60.0)
    result.pretraining_costs, result.pretraining_time = pretraining.costs, pretraining.elapsed
    return result


def _interrupted(network, n_train_batches):
    """The result of a run stopped in pretraining: no fine-tuning, no best model."""
    result = TrainResult(best_validation_loss=math.inf, best_iter=0, test_score=0.0, epochs=0,
                         iterations=0, stop_reason="interrupted", patience=0,
                         validation_frequency=n_train_batches, n_train_batches=n_train_batches,
                         history=[], costs=numpy.zeros(0), elapsed=0.0)
    result.model = network
    return result
