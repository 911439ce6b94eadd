"""A 1-D fully convolutional network labels the cortical layers along rays of BigBrain (the
tutorial's cnn_1D_segm: fcn1D.py and train_fcn1D.py).

Each example is a ray of 200 samples through the cortex, with two channels (the raw and the
smoothed intensities); each sample has a label, 0 (outside the cortex) to 6 (the six layers).
``build_model`` stacks ``depth`` blocks of batch normalisation, ReLU and a 1-D convolution of
``n_filters`` filters of ``filter_size`` samples ("same" padding, so every block keeps the 200
samples), then a convolution to one map per class and a softmax over the classes at each sample.
``train_fcn1D`` trains it with Adam on the per-sample cross-entropy plus an L2 weight decay,
decays the learning rate by 0.99 each epoch, and keeps the model of the best mean Jaccard index
on the validation rays (``dltut.trainer.EpochPatience``). ``accuracy_metric`` and ``jaccard`` are
the tutorial's metrics, which the 2-D segmentation tutorials use too.
"""

import dataclasses
import logging

import numpy

from dltut import engine
from dltut.engine import T
from dltut.fitting import (check_positive_integers, check_segmentation_settings, prepare,
                           train_functions)
from dltut.layers import (BatchNormLayer, Conv1DLayer, DimshuffleLayer, InputLayer,
                          NonlinearityLayer, ReshapeLayer, categorical_crossentropy,
                          get_all_params, get_output, l2, rectify, regularize_network_params,
                          softmax)
from dltut.trainer import Batches, EpochPatience
from dltut.tutorials.cortical_layers import Cortical6LayersDataset
from dltut.updates import adam

log = logging.getLogger(__name__)

RAY_LENGTH = 200  # samples along a ray
# the fitting.Options train_fcn1D takes (the run is on batches from iterators: no fused spans)
RUN_OPTIONS = ("out", "floatX", "mode", "device", "checkpoint", "checkpoint_every", "resume",
               "overwrite", "callbacks")


def accuracy_metric(y_pred, y_true, void_labels):
    """The fraction of labelled samples predicted right: ``y_pred`` holds class probabilities
    (one row per sample) or classes, ``y_true`` the classes; samples labelled with one of
    ``void_labels`` are not counted.

    .. math::
        accuracy = \\frac{\\sum_i [\\hat y_i = y_i] \\, m_i}{\\sum_i m_i}, \\quad
        m_i = [y_i \\notin void]
    """
    if y_pred.ndim == 2:
        y_pred = T.argmax(y_pred, axis=1)
    mask = T.ones_like(y_true, dtype=engine.floatX())
    for label in void_labels:
        mask = mask * T.neq(y_true, label)
    correct = T.eq(y_pred, y_true).astype(engine.floatX())
    return T.sum(correct * mask) / T.sum(mask)


def jaccard(y_pred, y_true, n_classes):
    """The Jaccard index's numerator and denominator per class, a ``(2, n_classes)`` matrix:
    over the samples, the true positives TP, and TP + FP + FN.

    .. math::
        J_c = \\frac{TP_c}{TP_c + FP_c + FN_c}

    The confusion matrix ``cm[i, j]`` counts the samples predicted ``i`` and labelled ``j``
    (one product of one-hot matrices); its diagonal is TP, its rows' sums less TP are FP, its
    columns' less TP are FN. A sum over minibatches of these, divided, gives each class's index.
    Labels outside ``0 .. n_classes - 1`` (void) count in no class.
    """
    if y_pred.ndim == 2:
        y_pred = T.argmax(y_pred, axis=1)
    classes = T.arange(n_classes)
    predicted = T.eq(y_pred.dimshuffle(0, "x"), classes).astype(engine.floatX())
    labelled = T.eq(y_true.dimshuffle(0, "x"), classes).astype(engine.floatX())
    cm = T.dot(predicted.T, labelled)  # (n_classes, n_classes)
    tp = T.diagonal(cm)
    fp = cm.sum(axis=1) - tp
    fn = cm.sum(axis=0) - tp
    return T.stack([tp, tp + fp + fn], axis=0)


def bn_relu_conv(net, incoming_layer, depth, num_filters, filter_size, rng, pad="same"):
    """Batch normalisation, ReLU and a convolution, stacked on ``net[incoming_layer]``; the
    name of the convolution's layer, the next block's input."""
    net[f"bn{depth}"] = BatchNormLayer(net[incoming_layer], name=f"bn{depth}")
    net[f"relu{depth}"] = NonlinearityLayer(net[f"bn{depth}"], nonlinearity=rectify)
    net[f"conv{depth}"] = Conv1DLayer(net[f"relu{depth}"], num_filters=num_filters,
                                      filter_size=filter_size, pad=pad, nonlinearity=None,
                                      rng=rng, name=f"conv{depth}")
    return f"conv{depth}"


def conv_bn_relu(net, incoming_layer, depth, num_filters, filter_size, rng, pad="same"):
    """The other order: a convolution, batch normalisation and ReLU."""
    net[f"conv{depth}"] = Conv1DLayer(net[incoming_layer], num_filters=num_filters,
                                      filter_size=filter_size, pad=pad, nonlinearity=None,
                                      rng=rng, name=f"conv{depth}")
    net[f"bn{depth}"] = BatchNormLayer(net[f"conv{depth}"], name=f"bn{depth}")
    net[f"relu{depth}"] = NonlinearityLayer(net[f"bn{depth}"], nonlinearity=rectify)
    return f"relu{depth}"


BLOCKS = {"bn_relu_conv": bn_relu_conv, "conv_bn_relu": conv_bn_relu}


def build_model(input_var, rng, n_classes=6, nb_in_channels=2, filter_size=25, n_filters=64,
                depth=8, last_filter_size=1, block="bn_relu_conv", out_nonlin=softmax,
                batch_size=None):
    """The 1-D FCN on ``input_var``, a (batch, ``nb_in_channels``, 200) tensor of rays; its
    weights drawn from ``rng`` (a numpy ``RandomState``) layer by layer, as Lasagne draws them.

    ``filter_size`` is odd, so "same" padding keeps the 200 samples. Returns ``([last_layer],
    net)``: the layer of class probabilities, one row per sample of every ray (batch * 200,
    n_classes), and every layer by name.
    """
    if block not in BLOCKS:
        raise ValueError(f"block {block!r}: one of {', '.join(BLOCKS)}")
    check_positive_integers(n_classes=n_classes, nb_in_channels=nb_in_channels,
                            filter_size=filter_size, n_filters=n_filters, depth=depth,
                            last_filter_size=last_filter_size)
    net = {}
    net["input"] = InputLayer((batch_size, nb_in_channels, RAY_LENGTH), input_var)
    incoming_layer = "input"

    # the convolution blocks: each keeps the ray's 200 samples ("same" padding)
    for d in range(depth):
        incoming_layer = BLOCKS[block](net, incoming_layer, d, n_filters, filter_size, rng)

    # one map per class, then a softmax over the classes at each sample, which needs a matrix:
    # (batch, n_classes, 200) -> (batch, 200, n_classes) -> (batch * 200, n_classes)
    net["final_conv"] = Conv1DLayer(net[incoming_layer], num_filters=n_classes,
                                    filter_size=last_filter_size, pad="same", rng=rng,
                                    name="final_conv")
    net["final_dimshuffle"] = DimshuffleLayer(net["final_conv"], (0, 2, 1))
    # (the tutorial took these sizes from a training-mode output of the network, which made
    # every function update the running averages of the batch normalisations, twice per
    # training step on Theano and once per validation step: -1 gives one update per step)
    net["final_reshape"] = ReshapeLayer(net["final_dimshuffle"], (-1, n_classes))
    net["last_layer"] = NonlinearityLayer(net["final_reshape"], nonlinearity=out_nonlin)
    # the probabilities as rays again, (batch, n_classes, 200), to look at
    net["probs_reshape"] = ReshapeLayer(net["last_layer"], (-1, RAY_LENGTH, n_classes))
    net["probs_dimshuffle"] = DimshuffleLayer(net["probs_reshape"], (0, 2, 1))
    return [net["last_layer"]], net


class FCN1D:
    """A trained 1-D FCN, as ``train_fcn1D`` returns it in ``result.model``: its layers
    (``net``), the shared variables its checkpoints and best model hold (``params``: the
    network's, Adam's moments and step count, the learning rate) and ``predict``."""

    def __init__(self, net, input_var, params):
        self.net, self.input_var, self.params = net, input_var, params
        self._predict = None

    def predict(self, rays):
        """The most probable class of each sample of ``rays``, (n, channels, 200) -> (n, 200)
        ints; the batch normalisations use their running averages (``deterministic``)."""
        if self._predict is None:
            probabilities = get_output(self.net["probs_dimshuffle"], deterministic=True)
            self._predict = engine.function([self.input_var], T.argmax(probabilities, axis=1),
                                            name="predict_fn", shapes_at_run_time=True)
        return self._predict(numpy.asarray(rays, dtype=engine.floatX()))


def train_fcn1D(learning_rate=0.0005, weight_decay=0.001, num_epochs=500, max_patience=25,
                batch_size=(1024, 1024, 1), *, data_path=None, toy=False, **options):
    """The 1-D FCN trained on the cortical-layer rays (train_fcn1D.py's ``train``).

    ``batch_size`` is (training, validation, test), as the tutorial's; there is no test set.
    ``data_path`` is the folder holding ``6layers_segmentation/`` (see
    ``dltut.tutorials.cortical_layers``); ``toy`` trains on the made rays shipped with dltut.
    The weights are drawn from numpy's ``RandomState(1609)`` after the shuffle of the rays that
    each of the tutorial's data loaders does with it (seeding it first), as the tutorial's
    Lasagne drew them from numpy's global generator. ``options`` are the fields of
    ``fitting.Options``. Returns the ``TrainResult``: each validation's numbers are in ``result.history[i].scores``, the
    network with its best values in ``result.model`` (an ``FCN1D``).
    """
    check_segmentation_settings(learning_rate, weight_decay, batch_size, num_epochs=num_epochs,
                                max_patience=max_patience)
    options = prepare(options, only=RUN_OPTIONS)

    # the model's hyperparameters
    n_filters = 64
    filter_size = 25
    depth = 8
    block = "bn_relu_conv"
    smooth_or_raw = "both"  # both input channels, the raw and the smoothed intensities

    # the symbolic variables
    input_var = T.tensor3("input_var")  # (n_examples, nb_in_channels, ray length)
    target_var = T.ivector("target_var")  # (n_examples * ray length,)
    # the learning rate is a shared variable: it decays each epoch
    learn_step = engine.shared(numpy.array(learning_rate, dtype=engine.floatX()), "learn_step")

    # the data, shuffled at each epoch; both channels
    nb_in_channels = 2 if smooth_or_raw == "both" else 1
    train_iter = Cortical6LayersDataset(which_set="train", smooth_or_raw=smooth_or_raw,
                                        batch_size=batch_size[0], shuffle_at_each_epoch=True,
                                        path=data_path, toy=toy)
    val_iter = Cortical6LayersDataset(which_set="valid", smooth_or_raw=smooth_or_raw,
                                      batch_size=batch_size[1], shuffle_at_each_epoch=True,
                                      path=data_path, toy=toy)
    n_classes = train_iter.non_void_nclasses
    void_labels = train_iter.void_labels
    # the tutorial's Lasagne drew the weights from numpy's global generator, which the loaders
    # had just seeded (1609) and used to shuffle the rays: the same generator, in the same state
    rng = val_iter.split_rng

    # the network
    simple_net_output, net = build_model(input_var, rng, filter_size=filter_size,
                                         n_filters=n_filters, depth=depth, block=block,
                                         nb_in_channels=nb_in_channels, n_classes=n_classes)

    log.info("Defining and compiling training functions")
    prediction = get_output(simple_net_output[0])
    loss = categorical_crossentropy(prediction, target_var).mean()
    if weight_decay > 0:
        weightsl2 = regularize_network_params(simple_net_output, l2)
        loss += weight_decay * weightsl2
    train_acc = accuracy_metric(prediction, target_var, void_labels)
    params = get_all_params(simple_net_output, trainable=True)
    updates = adam(loss, params, learning_rate=learn_step)
    # (the batches' sizes vary, the last of an epoch shorter: JAX mode compiles each size)
    train_fn = engine.function([input_var, target_var], [loss, train_acc], updates=updates,
                               name="train_fn", shapes_at_run_time=True)
    log.info("Done")

    log.info("Defining and compiling valid functions")
    valid_prediction = get_output(simple_net_output[0], deterministic=True)
    valid_loss = categorical_crossentropy(valid_prediction, target_var).mean()
    valid_acc = accuracy_metric(valid_prediction, target_var, void_labels)
    valid_jacc = jaccard(valid_prediction, target_var, n_classes)
    valid_fn = engine.function([input_var, target_var], [valid_loss, valid_acc, valid_jacc],
                               name="valid_fn", shapes_at_run_time=True)
    log.info("Done")

    def decay_learning_rate():  # at the start of every epoch, the first too
        learn_step.set_value(numpy.asarray(learn_step.get_value() * 0.99,
                                           dtype=engine.floatX()))

    log.info("Start training")
    # the network's values, Adam's moments and step count, and the learning rate: what a
    # checkpoint holds and a best model keeps
    fcn = FCN1D(net, input_var, get_all_params(simple_net_output)
                + [var for var, _ in updates if var not in params] + [learn_step])
    model = Batches(train_fn, valid_fn, train_iter, val_iter, fcn.params,
                    at_epoch_start=decay_learning_rate)
    arch = {"model": "fcn1D", "n_classes": n_classes, "nb_in_channels": nb_in_channels,
            "filter_size": filter_size, "n_filters": n_filters, "depth": depth, "block": block}
    settings = {"learning_rate": learning_rate, "weight_decay": weight_decay,
                "batch_size": list(batch_size), "data": "toy" if toy else "cortical_layers"}
    options = dataclasses.replace(options, callbacks=(print_epoch, *options.callbacks))
    return train_functions(model, fcn, arch, settings,
                           EpochPatience(n_epochs=num_epochs, max_patience=max_patience),
                           options)


def print_epoch(record):
    """The tutorial's line after each epoch (its epochs counted from 0), and what it saves."""
    s = record.scores
    per_class = ["%d: %f" % (i, j) for i, j in enumerate(s["valid_jaccard_per_class"])]
    log.info("EPOCH %i: Avg cost train %f, acc train %f, cost val %f, acc val %f, jacc val per "
             "class %s, jacc val %f", record.epoch - 1, s["train_cost"], s["train_accuracy"],
             s["valid_cost"], s["valid_accuracy"], per_class, s["valid_jaccard"])
    if record.new_best:
        log.info("saving best (and last) model")
    elif record.epoch > 1:
        log.info("saving last model")
