"""FCN-8 segments the polyps in colonoscopy frames (the tutorial's fcn_2D_segm: fcn8.py and
train_fcn8.py).

Each pixel of a frame is background (0) or polyp (1); the border outside the endoscope's view is
void (2) and counts nowhere. ``buildFCN8`` is Long, Shelhamer and Darrell's fully convolutional
network: VGG-16's thirteen 3x3 convolutions in five blocks, each closed by a 2x2 max-pooling (the
contracting path, ``pool1`` to ``pool5``: 1/32 of the padded frame), its two fully connected
layers as convolutions (``fc6``: 7x7, ``fc7``: 1x1, each with dropout) and a score per class
(``score_fr``); then the upsampling path: a transposed convolution doubles the scores, which are
added to scores read off ``pool4``; doubled again, added to scores of ``pool3``; a transposed
convolution of stride 8 brings them to the padded frame's size, and the centre is cut out, the
frame's own size. A softmax over the classes at each pixel gives the probabilities, one row per
pixel. ``train_fcn8`` trains it with Adam on the cross-entropy of the labelled pixels, and keeps
the model of the best mean Jaccard index on the validation frames
(``dltut.trainer.EpochPatience``); the best model is then tested.

Where dltut differs from the tutorial's code, and why:

* **Sizes.** dltut's layers need the frames' rows and columns as ints when the graph is built
  (the convolutions and crops are built for them; JAX compiles for static shapes), where
  Lasagne's read them from the symbolic input. ``get_fcn8_output`` builds the network's output
  for one size; the training function is built for the crop's size (``crop_size``: every
  training batch has it, so training needs a crop), and the validation function once for each
  shape of batch it meets (``PerImageSize``: the frames differ in size).
* **The build-time output.** The tutorial's builder took the sizes of its ``final_reshape`` from
  a training-mode output of the network built for that purpose alone. dltut reshapes to ``(-1,
  n_classes)``, which needs none. That output's dropout draws were each MRG stream's first call
  site (no compiled function ever ran it), so the script's masks came from the second: dltut
  skips each stream's first call site instead, and draws the tutorial's masks.
* **Randomness.** The tutorial drew the weights, the dropout streams' seeds and then every
  augmentation (two draws per validation frame too: the flips' numbers are drawn even when off) from
  numpy's global generator, unseeded. dltut draws them from ``RandomState(seed)`` in that order.
"""

import dataclasses
import logging
import os
import zipfile

import numpy

from dltut import engine, random, saving
from dltut.data import DataError
from dltut.engine import T
from dltut.fitting import (check_memory, check_positive_integers, check_seed,
                           check_segmentation_settings, prepare, train_functions)
from dltut.layers import (Conv2DLayer, Deconv2DLayer, DimshuffleLayer, DropoutLayer,
                          ElemwiseMergeLayer, ElemwiseSumLayer, InputLayer, NonlinearityLayer,
                          Pool2DLayer, ReshapeLayer, categorical_crossentropy, get_all_layers,
                          get_all_params, get_output, l2, linear, regularize_network_params,
                          softmax)
from dltut.trainer import Batches, EpochPatience, batch_scores
from dltut.tutorials.dataset_loaders import augmentation_settings
from dltut.tutorials.fcn1D import accuracy_metric
from dltut.tutorials.fcn1D import jaccard as jaccard_metric
from dltut.tutorials.polyps912 import Polyps912Dataset
from dltut.updates import adam

log = logging.getLogger(__name__)

# VGG-16's convolutions, block by block (each block closed by a 2x2 max-pooling), then its two
# fully connected layers (fc6, fc7) as convolutions: the number of filters of each
VGG16_WIDTHS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512),
                (4096, 4096))
FIRST_PAD = 100  # zeros around the frame before the first convolution (Long et al.'s)
FC6_SIZE = 7  # fc6's filters: 7x7 over pool5, 1/32 of the padded frame
# the least rows and columns of a frame: padded by 100, less 2 by the first 3x3 convolution,
# then pooled 5 times, at least fc6's 7
SMALLEST = FC6_SIZE * 32 - (2 * FIRST_PAD - 2)  # 26
_EPSILON = 10e-7  # the probabilities' clipping in the cross-entropy (the tutorial's 1e-6)
# train_fcn8.py's default augmentation beside its crop: every training frame flipped left to
# right (a flip "probability" of True flips always), a crop larger than the frame padded
DATA_AUGMENTATION = {"horizontal_flip": True, "fill_mode": "constant"}
# the fitting.Options train_fcn8 takes (the run is on batches from iterators: no fused spans)
RUN_OPTIONS = ("out", "floatX", "mode", "device", "checkpoint", "checkpoint_every", "resume",
               "overwrite", "callbacks")


def crossentropy_metric(y_pred, y_true, void_labels):
    """The mean cross-entropy of the labelled pixels: ``y_pred`` holds class probabilities (one
    row per pixel), clipped to :math:`[\\epsilon, 1 - \\epsilon]`, ``y_true`` the classes; the
    pixels labelled with one of ``void_labels`` are left out.

    .. math::
        \\ell = -\\frac{\\sum_i m_i \\log \\tilde p_{i, y_i}}{\\sum_i m_i}, \\quad
        \\tilde p = \\min(\\max(p, \\epsilon), 1 - \\epsilon), \\quad
        m_i = [y_i \\notin void], \\quad \\epsilon = 10^{-6}

    (A void pixel's term is computed for class 0, then multiplied by 0.)
    """
    y_pred = T.clip(y_pred, _EPSILON, 1.0 - _EPSILON)
    mask = T.ones_like(y_true, dtype=engine.floatX())
    for label in void_labels:
        mask = mask * T.neq(y_true, label)
    y_true_tmp = (y_true * mask).astype("int32")  # void pixels read as class 0
    loss = categorical_crossentropy(y_pred, y_true_tmp) * mask
    return T.sum(loss) / T.sum(mask)


def freezeParameters(net, single=True):
    """Take the parameters of ``net`` (a layer) off the trainable ones; those of every layer
    under it too, unless ``single``."""
    all_layers = get_all_layers(net)
    if single:
        all_layers = [all_layers[-1]]
    for layer in all_layers:
        for param in layer.get_params():
            layer.params[param].discard("trainable")


# start-snippet-1
def buildFCN8(nb_in_channels, input_var, path_weights=None, n_classes=21, load_weights=True,
              void_labels=(), trainable=False, layer=("probs_dimshuffle",), pascal=False,
              temperature=1.0, dropout=0.5, *, rng=None, widths=VGG16_WIDTHS):
    """FCN-8 on ``input_var``, a (batch, ``nb_in_channels``, rows, cols) tensor of frames; the
    layers named in ``layer``, in a list (the tutorial's keys of its ``net``: 'probs' gives
    the probabilities with one row per pixel, 'probs_dimshuffle' the same as (batch,
    ``n_classes``, rows, cols)).

    The weights are drawn from ``rng`` (a numpy ``RandomState``; None: ``dltut.layers.get_rng()``,
    numpy's global generator, as Lasagne) layer by layer as Lasagne draws them, each dropout
    layer's stream seed in its turn. ``dropout`` is the probability of dropping an input of
    ``fc6`` and ``fc7`` in training. ``load_weights``: read ``path_weights`` (when given: an
    ``.npz`` of ``arr_0``, ``arr_1``, ... as train_fcn8.py saves its models, read with
    ``read_weights``) into the network, then divide the last upsampling's weights and bias by
    ``temperature``, as the tutorial. ``trainable=False`` freezes the parameters of the layer
    'probs', which has none (as in the tutorial: nothing is frozen). ``void_labels`` and
    ``pascal`` do nothing (the tutorial's last version no longer used them). ``widths``: the
    filters of each convolution, VGG-16's (narrower ones make small networks for tests).

    Its output needs the frames' size: see ``get_fcn8_output``.
    """
    check_positive_integers(nb_in_channels=nb_in_channels, n_classes=n_classes)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    *blocks, (fc6_width, fc7_width) = widths
    if len(blocks) != 5:
        raise ValueError(f"widths {widths!r}: 5 blocks of convolutions (VGG-16's), then fc6 "
                         "and fc7")
    net = {}

    # the contracting path: VGG-16's blocks of 3x3 convolutions ("same" padding keeps the size),
    # each closed by a 2x2 max-pooling that halves it; the first convolution pads the frame by
    # 100 zeros on each side, so that the scores of even a small frame are at least 1x1
    net["input"] = InputLayer((None, nb_in_channels, None, None), input_var, name="input")
    incoming = net["input"]
    for block, block_widths in enumerate(blocks, start=1):
        for k, n_filters in enumerate(block_widths, start=1):
            name = f"conv{block}_{k}"
            pad = FIRST_PAD if (block, k) == (1, 1) else "same"
            net[name] = Conv2DLayer(incoming, n_filters, 3, pad=pad, flip_filters=False, rng=rng,
                                    name=name)
            incoming = net[name]
        net[f"pool{block}"] = Pool2DLayer(incoming, 2, name=f"pool{block}")
        incoming = net[f"pool{block}"]

    # fc6 and fc7: VGG-16's fully connected layers as convolutions over pool5 (7x7, then 1x1)
    net["fc6"] = Conv2DLayer(net["pool5"], fc6_width, FC6_SIZE, pad="valid", flip_filters=False,
                             rng=rng, name="fc6")
    net["fc6_dropout"] = DropoutLayer(net["fc6"], p=dropout, rng=rng, name="fc6_dropout")
    net["fc7"] = Conv2DLayer(net["fc6_dropout"], fc7_width, 1, pad="valid", flip_filters=False,
                             rng=rng, name="fc7")
    net["fc7_dropout"] = DropoutLayer(net["fc7"], p=dropout, rng=rng, name="fc7_dropout")
    # a score per class (Lasagne's default nonlinearity, a ReLU, kept as in the tutorial)
    net["score_fr"] = Conv2DLayer(net["fc7_dropout"], n_classes, 1, pad="valid",
                                  flip_filters=False, rng=rng, name="score_fr")

    # the upsampling path: the scores doubled (a transposed convolution of stride 2) and added
    # to scores read off pool4, their centres cut to the smaller one's size
    net["score2"] = Deconv2DLayer(net["score_fr"], n_classes, 4, stride=2, crop="valid",
                                  nonlinearity=linear, rng=rng, name="score2")
    net["score_pool4"] = Conv2DLayer(net["pool4"], n_classes, 1, pad="same", rng=rng,
                                     name="score_pool4")
    net["score_fused"] = ElemwiseSumLayer((net["score2"], net["score_pool4"]),
                                          cropping=[None, None, "center", "center"],
                                          name="score_fused")
    # doubled again, added to scores of pool3
    net["score4"] = Deconv2DLayer(net["score_fused"], n_classes, 4, stride=2, crop="valid",
                                  nonlinearity=linear, rng=rng, name="score4")
    net["score_pool3"] = Conv2DLayer(net["pool3"], n_classes, 1, pad="valid", rng=rng,
                                     name="score_pool3")
    net["score_final"] = ElemwiseSumLayer((net["score4"], net["score_pool3"]),
                                          cropping=[None, None, "center", "center"],
                                          name="score_final")
    # upsampled 8 times, to the padded frame's size; then its centre, the frame's size (an
    # input layer on the frames gives the size: its values are not read)
    net["upsample"] = Deconv2DLayer(net["score_final"], n_classes, 16, stride=8, crop="valid",
                                    nonlinearity=linear, rng=rng, name="upsample")
    upsample_shape = net["upsample"].output_shape[1]
    net["input_tmp"] = InputLayer((None, upsample_shape, None, None), input_var,
                                  name="input_tmp")
    net["score"] = ElemwiseMergeLayer((net["input_tmp"], net["upsample"]),
                                      merge_function=lambda input, deconv: deconv,
                                      cropping=[None, None, "center", "center"], name="score")

    # a softmax over the classes at each pixel, which needs a matrix: (batch, n_classes, rows,
    # cols) -> (batch, rows, cols, n_classes) -> (batch * rows * cols, n_classes)
    net["final_dimshuffle"] = DimshuffleLayer(net["score"], (0, 2, 3, 1))
    net["final_reshape"] = ReshapeLayer(net["final_dimshuffle"], (-1, n_classes))
    net["probs"] = NonlinearityLayer(net["final_reshape"], nonlinearity=softmax)
    # end-snippet-1
    # (the tutorial took final_reshape's sizes from a training-mode output of the network built
    # here, whose dropout draws were each stream's first call site: the training function's
    # masks came from the second. (-1, n_classes) needs no such output; the first call sites
    # are skipped, so that the masks are the tutorial's)
    for name in ("fc6_dropout", "fc7_dropout"):
        if net[name].p != 0:
            net[name]._srng.inc_rstate()

    if load_weights and path_weights is not None:
        values = read_weights(path_weights, [p.get_value(borrow=True).shape
                                             for p in get_all_params(net["probs"])])
        for param, value in zip(get_all_params(net["probs"]), values):
            param.set_value(value.astype(engine.floatX()))

    # do not train
    if not trainable:
        freezeParameters(net["probs"])

    # the probabilities as frames again, (batch, n_classes, rows, cols), to look at
    frames = input_var.shape
    net["probs_reshape"] = ReshapeLayer(net["probs"], (frames[0], frames[2], frames[3],
                                                       n_classes))
    net["probs_dimshuffle"] = DimshuffleLayer(net["probs_reshape"], (0, 3, 1, 2))

    # apply the temperature
    if load_weights:
        net["upsample"].W.set_value(net["upsample"].W.get_value() / temperature)
        net["upsample"].b.set_value(net["upsample"].b.get_value() / temperature)

    unknown = [el for el in layer if el not in net]
    if unknown:
        raise ValueError(f"layer {unknown[0]!r}: not a layer of FCN-8 ({', '.join(net)})")
    return [net[el] for el in layer]


def get_fcn8_output(layers, input_var, image_size, deterministic=False, batch=None):
    """``get_output(layers)`` of ``buildFCN8``'s ``layers`` on ``input_var`` holding frames of
    ``image_size`` (rows, cols), ``batch`` at a time (None: any number), for training or,
    ``deterministic``, evaluation (no dropout).

    The convolutions, poolings and crops are built for those sizes: call it once for each size
    of frame (``PerImageSize``). A known batch makes JAX mode's graphs compile in seconds, not
    tens of seconds. Both of the network's input layers (``input``, ``input_tmp``) read
    ``input_var``.
    """
    rows, cols = image_size
    check_positive_integers(rows=rows, cols=cols)
    if min(rows, cols) < SMALLEST:
        raise ValueError(f"frames of {rows}x{cols}: FCN-8 reads frames of {SMALLEST}x{SMALLEST} "
                         f"or more (padded by {FIRST_PAD} and pooled to 1/32, a smaller one "
                         f"leaves fc6's {FC6_SIZE}x{FC6_SIZE} filters nothing to read)")
    batch = input_var.shape[0] if batch is None else batch
    sized = T.specify_shape(input_var, (batch, input_var.shape[1], rows, cols))
    inputs = {each: sized for each in get_all_layers(layers)
              if isinstance(each, InputLayer) and each.input_var is input_var}
    return get_output(layers, inputs, deterministic=deterministic)


def batch_of(iterator):
    """The size every batch of ``iterator`` has, or None where its last one is shorter."""
    return iterator.batch_size if iterator.nsamples % iterator.batch_size == 0 else None


class PerImageSize:
    """A compiled function of ``(X, L)`` made for each shape of the frames ``X`` it is called
    with: ``make(batch, rows, cols)`` compiles one (the validation frames differ in size)."""

    def __init__(self, make):
        self.make, self.functions = make, {}

    def __call__(self, X, L):
        batch, _, rows, cols = numpy.shape(X)
        if (batch, rows, cols) not in self.functions:
            log.debug("compiling for %i frames of %ix%i", batch, rows, cols)
            self.functions[batch, rows, cols] = self.make(batch, rows, cols)
        return self.functions[batch, rows, cols](X, L)


class FCN8:
    """A trained FCN-8, as ``train_fcn8`` returns it in ``result.model``: its layer of
    probabilities (``probs``), the shared variables its checkpoints and best model hold
    (``params``: the network's, Adam's moments and step count, the dropout streams' states),
    ``probabilities`` and ``predict``."""

    def __init__(self, probs, input_var, params):
        self.probs, self.input_var, self.params = probs, input_var, params
        self._probabilities = {}  # a compiled function per shape of frames

    def probabilities(self, frames):
        """Each class's probability at each pixel of ``frames``, (n, channels, rows, cols) ->
        (n, n_classes, rows, cols) (no dropout: ``deterministic``)."""
        frames = numpy.asarray(frames, dtype=engine.floatX())
        n, _, rows, cols = frames.shape
        if frames.shape not in self._probabilities:
            rows_of_pixels = get_fcn8_output([self.probs], self.input_var, (rows, cols),
                                             deterministic=True, batch=n)[0]
            as_frames = rows_of_pixels.reshape((n, rows, cols, -1)).dimshuffle(0, 3, 1, 2)
            self._probabilities[frames.shape] = engine.function(
                [self.input_var], as_frames, name="probabilities_fn", shapes_at_run_time=True)
        return numpy.asarray(self._probabilities[frames.shape](frames))

    def predict(self, frames):
        """The most probable class of each pixel of ``frames``, (n, channels, rows, cols) ->
        (n, rows, cols) ints."""
        return self.probabilities(frames).argmax(axis=1)


def read_weights(path, shapes):
    """The arrays ``arr_0``, ``arr_1``, ... of the ``.npz`` at ``path`` (what train_fcn8.py
    saves: ``numpy.savez(path, *get_all_param_values(convmodel))``), checked to be floats of
    ``shapes``, in that order, before any is read (no pickle); a ``DataError`` naming the file
    otherwise."""
    path = os.fspath(path)
    names = [f"arr_{i}" for i in range(len(shapes))]
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; path_weights is an .npz of the network's "
                        f"{len(shapes)} parameter arrays (arr_0 ... arr_{len(shapes) - 1})")
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(name[:-len(".npy")] for name in archive.namelist())
            if members != sorted(names):
                raise DataError(f"{path}: arrays {members!r:.80}, expected {len(shapes)}: "
                                f"arr_0 ... arr_{len(shapes) - 1} (the network's parameters in "
                                "get_all_params order)")
            for name, shape in zip(names, shapes):
                with archive.open(name + ".npy") as member:
                    _, found, dtype = saving.read_npy_header(member)
                if found != tuple(shape) or dtype is None or dtype.kind != "f":
                    raise DataError(f"{path}: {name} is {dtype} of shape {found}, the network's "
                                    f"parameter {name} is floats of shape {tuple(shape)} "
                                    "(weights of another network?)")
        with numpy.load(path, allow_pickle=False) as npz:
            return [npz[name] for name in names]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz of weights ({error})") from None


def train_fcn8(learning_rate=0.0001, weight_decay=0.0, num_epochs=750, max_patience=100,
               batch_size=(10, 1, 1), crop_size=(224, 224), early_stop_class=None, seed=1234, *,
               data_augmentation=None, data_path=None, toy=False, widths=VGG16_WIDTHS,
               **options):
    """FCN-8 trained on the polyps (train_fcn8.py's ``train``, with its command line's settings).

    ``batch_size`` is (training, validation, test); the training frames are cut to ``crop_size``
    (rows, cols) at a random place and flipped (``DATA_AUGMENTATION``, which
    ``data_augmentation``, other settings of ``dataset_loaders.random_transform``, may change).
    ``early_stop_class`` picks the class whose Jaccard index selects the best epoch (None:
    their mean). ``seed`` seeds the ``RandomState`` that draws the weights, then the
    augmentation. ``data_path`` is the folder holding ``train``, ``valid`` and ``test`` (see
    ``dltut.tutorials.polyps912``); ``toy`` trains on the made polyps shipped with dltut (their
    frames taken in the order of their names; the real ones in their folder's order, as the
    tutorial). ``widths``: ``buildFCN8``'s (VGG-16's; narrower ones for tests). ``options`` are
    the fields of ``fitting.Options``.

    The tutorial's command line's settings are the defaults here (``main()``: learning rate
    1e-4, ``-penal_cst`` 0 as the weight decay, 750 epochs, batches of 10, 1, 1, a 224x224
    crop), where its ``train``'s own are 0.005, 1e-4 and 500 (and no batch size: it fails
    without one). As the tutorial, the best model is tested on the test frames once training
    stops by patience or epochs (its FINAL MODEL line); where no epoch from the third on was a
    best, the tutorial found no model file to load, and the last model is tested here.

    Returns the ``TrainResult``: each validation's numbers in ``result.history[i].scores``, the
    test's in ``result.test_scores`` (and ``result.test_score``, the pixel error), the network
    with the best epoch's values in ``result.model`` (an ``FCN8``).
    """
    if len(crop_size) != 2:
        raise ValueError(f"crop_size must be (rows, cols), got {crop_size!r}")
    check_segmentation_settings(learning_rate, weight_decay, batch_size, num_epochs=num_epochs,
                                max_patience=max_patience,
                                **dict(zip(("crop rows", "crop cols"), crop_size)))
    if min(crop_size) < SMALLEST:
        raise ValueError(f"crop_size {tuple(crop_size)!r}: FCN-8 reads frames of "
                         f"{SMALLEST}x{SMALLEST} or more")
    check_seed(seed)
    if data_augmentation is not None and "crop_size" in data_augmentation:
        raise ValueError("give the crop as crop_size, not in data_augmentation")
    data_augmentation = {**DATA_AUGMENTATION, **(data_augmentation or {}),
                         "crop_size": list(crop_size)}
    augmentation_settings(data_augmentation)  # checked before anything is read
    options = prepare(options, only=RUN_OPTIONS)

    # the symbolic variables
    input_var = T.tensor4("input_var")  # (n_frames, channels, rows, cols)
    target_var = T.ivector("target_var")  # (n_frames * rows * cols,)

    # the weights, the dropout streams' seeds, then the augmentation, from one generator (the
    # tutorial's numpy global one, which it did not seed)
    rng = numpy.random.RandomState(seed)

    # the data: training frames cropped and flipped, shuffled at each epoch
    train_iter, val_iter, test_iter = polyps_iterators(
        batch_size, data_augmentation, rng, order="sorted" if toy else "listing",
        path=data_path, toy=toy)
    n_classes = train_iter.non_void_nclasses
    void_labels = train_iter.void_labels
    nb_in_channels = train_iter.batch_shape[0]
    if early_stop_class is not None and not 0 <= early_stop_class < n_classes:
        raise ValueError(f"early_stop_class {early_stop_class!r}: a class, 0 to {n_classes - 1}")
    log.info("Batch. train: %d, val %d, test %d", train_iter.nbatches, val_iter.nbatches,
             test_iter.nbatches)
    log.info("Nb of classes: %d", n_classes)
    log.info("Nb. of input channels: %d", nb_in_channels)

    # the network
    convmodel = buildFCN8(nb_in_channels, input_var, n_classes=n_classes,
                          void_labels=void_labels, trainable=True, load_weights=False,
                          pascal=True, layer=["probs"], rng=rng, widths=widths)

    log.info("Defining and compiling training functions")
    # every training batch has the crop's size (and its batch_size, but for a shorter last one)
    prediction = get_fcn8_output(convmodel, input_var, crop_size, batch=batch_of(train_iter))[0]
    loss = crossentropy_metric(prediction, target_var, void_labels)
    if weight_decay > 0:
        weightsl2 = regularize_network_params(convmodel, l2)
        loss += weight_decay * weightsl2
    params = get_all_params(convmodel, trainable=True)
    check_memory(params, "FCN-8")  # (VGG-16's widths: 134 M parameters)
    updates = adam(loss, params, learning_rate=learning_rate)
    # (the last batch of an epoch may be shorter: JAX mode compiles each batch size)
    train_fn = engine.function([input_var, target_var], [loss], updates=updates,
                               name="train_fn", shapes_at_run_time=True)

    log.info("Defining and compiling test functions")

    def val_fn_for(batch, rows, cols):  # the validation and test frames differ in size
        test_prediction = get_fcn8_output(convmodel, input_var, (rows, cols),
                                          deterministic=True, batch=batch)[0]
        test_loss = crossentropy_metric(test_prediction, target_var, void_labels)
        test_acc = accuracy_metric(test_prediction, target_var, void_labels)
        test_jacc = jaccard_metric(test_prediction, target_var, n_classes)
        return engine.function([input_var, target_var], [test_loss, test_acc, test_jacc],
                               name="val_fn", shapes_at_run_time=True)

    val_fn = PerImageSize(val_fn_for)

    log.info("Start training")
    # the network's values, Adam's moments and step count, and the dropout masks' streams
    # (they advance at each step): what a checkpoint holds and a best model keeps
    streams = [state for state, _ in random.default_updates([prediction])]
    fcn = FCN8(convmodel[0], input_var, get_all_params(convmodel)
               + [var for var, _ in updates if var not in params] + streams)
    model = Batches(train_fn, val_fn, train_iter, val_iter, fcn.params)
    arch = {"model": "fcn8", "n_classes": n_classes, "nb_in_channels": nb_in_channels,
            "widths": [list(block) for block in widths]}
    settings = {"learning_rate": learning_rate, "weight_decay": weight_decay,
                "batch_size": list(batch_size), "data_augmentation": data_augmentation,
                "seed": seed, "data": "toy" if toy else "polyps912"}
    options = dataclasses.replace(options, callbacks=(print_epoch, *options.callbacks))
    result = train_functions(model, fcn, arch, settings,
                             EpochPatience(n_epochs=num_epochs, max_patience=max_patience,
                                           early_stop_class=early_stop_class),
                             options)
    result.test_scores = None
    if result.stop_reason in ("max_patience", "n_epochs"):
        # the best model (result.model holds it), tested
        if result.best_params is None:  # (the tutorial would have found no best model to load)
            log.warning("the last model is tested")
        result.test_scores = final_scores(val_fn, test_iter)
        result.test_score = 1.0 - result.test_scores["accuracy"]
    return result


def polyps_iterators(batch_size, data_augmentation, rng, order="listing", path=None,
                     toy=False):
    """train_fcn8.py's three iterators over the polyps: the training frames shuffled at each
    epoch and augmented by ``data_augmentation``, the validation and test frames as they are;
    all three draw their augmentation from ``rng`` (the validation and test frames too: the
    flips' draws are made even when off). ``order`` ('listing', 'sorted', or a dict of each
    set's names by 'train', 'val', 'test'), ``path``, ``toy``: ``Polyps912Dataset``'s."""
    orders = order if isinstance(order, dict) else dict.fromkeys(("train", "val", "test"), order)
    loader = {"seq_per_subset": 0, "seq_length": 0, "return_one_hot": False,
              "return_01c": False, "overlap": 0, "use_threads": False, "return_0_255": False,
              "path": path, "toy": toy, "augm_rng": rng}
    train_iter = Polyps912Dataset(which_set="train", batch_size=batch_size[0],
                                  data_augm_kwargs=data_augmentation, shuffle_at_each_epoch=True,
                                  order=orders["train"], **loader)
    val_iter = Polyps912Dataset(which_set="val", batch_size=batch_size[1],
                                shuffle_at_each_epoch=False, order=orders["val"], **loader)
    test_iter = Polyps912Dataset(which_set="test", batch_size=batch_size[2],
                                 shuffle_at_each_epoch=False, order=orders["test"], **loader)
    return train_iter, val_iter, test_iter


def final_scores(val_fn, test_iter):
    """The cost, pixel accuracy and Jaccard index (per class and mean) over ``test_iter``'s
    batches, added up in order then divided, as the tutorial; logs its FINAL MODEL line."""
    totals = batch_scores(val_fn, test_iter, test_iter.nbatches)
    per_class = totals["jaccard"]
    scores = {"cost": float(totals["cost"]), "accuracy": float(totals["accuracy"]),
              "jaccard_per_class": [float(j) for j in per_class],
              "jaccard": float(numpy.mean(per_class))}
    log.info("FINAL MODEL: err test % f, acc test %f, jacc test class 0 % f, jacc test class 1 "
             "%f, jacc test %f", scores["cost"], scores["accuracy"], per_class[0], per_class[1],
             scores["jaccard"])
    return scores


def print_epoch(record):
    """The tutorial's line after each epoch (its epochs counted from 0)."""
    s = record.scores
    per_class = s["valid_jaccard_per_class"]
    log.info("EPOCH %i: Avg epoch training cost train %f, cost val %f, acc val %f, jacc val "
             "class 0 %f, jacc val class 1 %f, jacc val %f", record.epoch - 1, s["train_cost"],
             s["valid_cost"], s["valid_accuracy"], per_class[0], per_class[1],
             s["valid_jaccard"])
