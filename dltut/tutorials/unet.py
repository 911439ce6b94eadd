"""U-Net segments the ISBI 2012 electron-microscopy stacks into cells and membranes (the
tutorial's unet: Unet_lasagne_recipes.py and train_unet.py).

U-Net (Ronneberger, Fischer and Brox, 2015) is a fully convolutional network in three parts. The
contracting path is four blocks of two 3x3 convolutions (each batch-normalised, then an ELU) and a
2x2 max-pooling; the number of feature maps doubles at each block, from ``base_n_filters``. The
bottleneck is two more such convolutions at ``16 * base_n_filters`` maps. The expanding path is
four blocks of a 2x2 transposed convolution of stride 2 (doubling the rows and columns), a
concatenation with the contracting block's maps of the same size (center-cropped to it: the skip
connections), and two 3x3 convolutions. A 1x1 convolution gives one map per class, and a softmax
over the classes at each pixel the probabilities, one row per pixel. ``build_UNet`` builds it
with the recipe's layers and names, its weights drawn from ``rng`` in Lasagne's order.

``train_unet`` trains it with Adam on the per-pixel cross-entropy (void pixels left out), on
augmented crops of the training slices (rotation, shear, flips, an elastic B-spline warp, a random
crop: ``dataset_loaders``), validates on whole slices after each epoch, and keeps the model of the
best mean Jaccard index (``dltut.trainer.EpochPatience``). Its metrics, per-pixel accuracy and
the Jaccard index, are the 1-D FCN's (``dltut.tutorials.fcn1D``), as the three segmentation
scripts compute them alike.
"""

import dataclasses
import logging

import numpy

from dltut import engine
from dltut.engine import T
from dltut.fitting import (check_positive_integers, check_seed, check_segmentation_settings,
                           prepare, train_functions)
from dltut.layers import (ConcatLayer, Conv2DLayer, Deconv2DLayer, DimshuffleLayer, DropoutLayer,
                          HeNormal, InputLayer, NonlinearityLayer, Pool2DLayer, ReshapeLayer,
                          batch_norm, elu, get_all_params, get_output, get_output_shape, l2,
                          regularize_network_params, softmax)
from dltut.trainer import Batches, EpochPatience
from dltut.tutorials.fcn1D import accuracy_metric
from dltut.tutorials.fcn1D import jaccard as jaccard_metric
from dltut.tutorials.fcn8 import crossentropy_metric
from dltut.tutorials.isbi_em_stacks import IsbiEmStacksDataset
from dltut.updates import adam

log = logging.getLogger(__name__)

__all__ = ["build_UNet", "train_unet", "UNet", "crossentropy_metric", "accuracy_metric",
           "jaccard_metric", "DATA_AUGMENTATION", "TOY_AUGMENTATION"]

# train_unet.py's command line (main()): the augmentation of the training slices
DATA_AUGMENTATION = {"rotation_range": 25,  # degrees
                     "shear_range": 0.41,  # radians
                     "horizontal_flip": True,  # every slice flipped (a probability of True)
                     "vertical_flip": True,
                     "fill_mode": "reflect",
                     "spline_warp": True,  # an elastic deformation: a B-spline of 3x3 cells
                     "warp_sigma": 10,  # pixels: the control points' displacements
                     "warp_grid_size": 3,
                     "crop_size": (224, 224)}
# the same on the made 64x64 stacks shipped with dltut (toy): the crop and the warp scaled to them
TOY_AUGMENTATION = dict(DATA_AUGMENTATION, warp_sigma=1.25, crop_size=(32, 32))
# the fitting.Options train_unet takes (the run is on batches from iterators: no fused spans)
RUN_OPTIONS = ("out", "floatX", "mode", "device", "checkpoint", "checkpoint_every", "resume",
               "overwrite", "callbacks")


def conv_block(net, name, incoming, num_filters, nonlinearity, pad, rng):
    """A 3x3 convolution with He's normal weights, batch-normalised before its nonlinearity (the
    recipe's ``batch_norm(ConvLayer(...))``), as ``net[name]``."""
    net[name] = batch_norm(Conv2DLayer(incoming, num_filters, 3, nonlinearity=nonlinearity,
                                       pad=pad, W=HeNormal(gain="relu"), rng=rng, name=name))
    return net[name]


def up_block(net, index, incoming, skip, num_filters, nonlinearity, pad, rng):
    """The expanding path's block ``index``: a transposed convolution that doubles the rows and
    columns (``upscale``), the contracting path's maps ``skip`` concatenated to its maps (both
    cut to the smaller size, about their centres), then two 3x3 convolutions."""
    net[f"upscale{index}"] = batch_norm(Deconv2DLayer(
        incoming, num_filters * 2, 2, 2, crop="valid", nonlinearity=nonlinearity,
        W=HeNormal(gain="relu"), rng=rng, name=f"upscale{index}"))
    net[f"concat{index}"] = ConcatLayer([net[f"upscale{index}"], skip],
                                        cropping=(None, None, "center", "center"))
    conv_block(net, f"expand_{index}_1", net[f"concat{index}"], num_filters, nonlinearity, pad,
               rng)
    return conv_block(net, f"expand_{index}_2", net[f"expand_{index}_1"], num_filters,
                      nonlinearity, pad, rng)


def build_UNet(n_input_channels=1, BATCH_SIZE=None, num_output_classes=2, pad="same",
               nonlinearity=elu, input_dim=(None, None), base_n_filters=64, do_dropout=False,
               *, rng, input_var=None):
    """The U-Net of the recipe on images of ``n_input_channels`` channels and ``input_dim`` rows
    and columns (None: given by the input at ``get_output``, ``T.specify_shape``), its weights
    drawn from ``rng`` (a numpy ``RandomState``) layer by layer as Lasagne draws them from its
    generator. Returns ``net``, every layer by name, in order; ``net["output_flattened"]`` is
    the class probabilities, one row per pixel: (batch * rows * cols, num_output_classes), in
    the order of ``labels.reshape(-1)`` for labels (batch, rows, cols).

    With ``pad="same"`` every pooling halves the rows and columns and every transposed
    convolution doubles them: images of sizes divisible by 16 come out whole.
    """
    check_positive_integers(n_input_channels=n_input_channels,
                            num_output_classes=num_output_classes, base_n_filters=base_n_filters)
    net = {}
    net["input"] = InputLayer((BATCH_SIZE, n_input_channels, *input_dim), input_var)
    n = base_n_filters

    # the contracting path: at each block twice the maps, and half the rows and columns
    incoming = net["input"]
    for block in range(1, 5):
        conv_block(net, f"contr_{block}_1", incoming, n * 2 ** (block - 1), nonlinearity, pad,
                   rng)
        conv_block(net, f"contr_{block}_2", net[f"contr_{block}_1"], n * 2 ** (block - 1),
                   nonlinearity, pad, rng)
        incoming = net[f"pool{block}"] = Pool2DLayer(net[f"contr_{block}_2"], 2)

    # the bottleneck (the paper does not say where its dropout goes: the recipe's is optional)
    if do_dropout:
        incoming = DropoutLayer(incoming, p=0.4, rng=rng)
    conv_block(net, "encode_1", incoming, n * 16, nonlinearity, pad, rng)
    incoming = conv_block(net, "encode_2", net["encode_1"], n * 16, nonlinearity, pad, rng)

    # the expanding path: upscale, concatenate the contracting path's maps, two convolutions
    for index, block in enumerate(range(4, 0, -1), start=1):
        incoming = up_block(net, index, incoming, net[f"contr_{block}_2"],
                            n * 2 ** (block - 1), nonlinearity, pad, rng)

    # one map per class, then a softmax over the classes at each pixel, which needs a matrix:
    # (batch, classes, rows, cols) -> (classes, batch, rows, cols) -> (classes, pixels)
    # -> (pixels, classes)
    net["output_segmentation"] = Conv2DLayer(incoming, num_output_classes, 1, nonlinearity=None,
                                             rng=rng, name="output_segmentation")
    net["dimshuffle"] = DimshuffleLayer(net["output_segmentation"], (1, 0, 2, 3))
    net["reshapeSeg"] = ReshapeLayer(net["dimshuffle"], (num_output_classes, -1))
    net["dimshuffle2"] = DimshuffleLayer(net["reshapeSeg"], (1, 0))
    net["output_flattened"] = NonlinearityLayer(net["dimshuffle2"], nonlinearity=softmax)
    return net


def sized(input_var, batch, channels, rows, cols):
    """``input_var`` (a batch of images) with its sizes known to the layers
    (``T.specify_shape``): the graph is built for images of that size. ``batch`` None leaves the
    batch free (any batch; on PyTensor its graphs then take minutes to compile, not seconds)."""
    batch = input_var.shape[0] if batch is None else batch
    return T.specify_shape(input_var, (batch, channels, rows, cols))


def batch_of(iterator):
    """The size every batch of ``iterator`` has, or None where its last one is shorter."""
    return iterator.batch_size if iterator.nsamples % iterator.batch_size == 0 else None


def train_unet(learning_rate=0.0001, weight_decay=0.0, num_epochs=750, max_patience=100,
               batch_size=(5, 5, 1), data_augmentation=None, early_stop_class=None,
               base_n_filters=64, seed=1234, *, data_path=None, toy=False, **options):
    """U-Net trained on the ISBI 2012 EM stacks (train_unet.py's ``train`` with its command
    line's settings, ``main()``: ``-learning_rate`` 0.0001 and ``-penal_cst`` 0.0 as the weight
    decay, where ``train``'s own defaults are 0.005 and 1e-4).

    ``batch_size`` is (training, validation, test), as the tutorial's; there is no test set (the
    challenge's test slices have no labels). ``data_augmentation`` is ``dataset_loaders``'
    ``data_augm_kwargs`` for the training slices (None: ``DATA_AUGMENTATION``, the command
    line's, or on the made stacks ``TOY_AUGMENTATION``; ``{}``: none). ``early_stop_class``
    picks the class whose Jaccard index selects the best epoch (None: their mean).
    ``base_n_filters`` is the first block's maps (the tutorial's 64). ``data_path`` is the
    folder of the three TIFF files (see ``dltut.tutorials.isbi_em_stacks``); ``toy`` trains on
    the made stacks shipped with dltut.

    The original drew its augmentation and Lasagne its weights from numpy's global generator,
    which it never seeded: here ``RandomState(seed)`` stands for it, drawn in the same order
    (the first training batch's augmentation, the weights, then every later batch's). ``options``
    are the fields of ``fitting.Options``. Returns the ``TrainResult``; each validation's
    numbers are in ``result.history[i].scores``, and ``result.model`` (a ``UNet``) is the network
    with the best epoch's weights (the last ones where no epoch was a best: see
    ``EpochPatience``).
    """
    check_segmentation_settings(learning_rate, weight_decay, batch_size, num_epochs=num_epochs,
                                max_patience=max_patience, base_n_filters=base_n_filters)
    check_seed(seed)
    if data_augmentation is None:
        data_augmentation = TOY_AUGMENTATION if toy else DATA_AUGMENTATION
    options = prepare(options, only=RUN_OPTIONS)

    # the symbolic variables
    input_var = T.tensor4("input_var")  # (n_images, channels, rows, cols)
    target_var = T.ivector("target_var")  # (n_images * rows * cols,)
    # what the original drew from numpy's global generator: augmentations and weights
    rng = numpy.random.RandomState(seed)

    # the data: the training slices shuffled and augmented at each epoch, the validation
    # slices whole (each of their batches still draws its two flips' numbers)
    train_iter = IsbiEmStacksDataset(which_set="train", batch_size=batch_size[0],
                                     seq_per_subset=0, seq_length=0,
                                     data_augm_kwargs=data_augmentation, return_one_hot=False,
                                     return_01c=False, overlap=0, use_threads=True,
                                     shuffle_at_each_epoch=True, return_0_255=False,
                                     path=data_path, toy=toy, augm_rng=rng)
    val_iter = IsbiEmStacksDataset(which_set="val", batch_size=batch_size[1], seq_per_subset=0,
                                   seq_length=0, return_one_hot=False, return_01c=False,
                                   use_threads=True, shuffle_at_each_epoch=False,
                                   return_0_255=False, path=data_path, toy=toy, augm_rng=rng)
    # the tutorial takes a batch to read the images' size: its first epoch starts at the
    # second batch
    batch = train_iter.next()
    input_dim = numpy.shape(batch["data"])[2:]
    n_classes = train_iter.non_void_nclasses
    void_labels = train_iter.void_labels
    nb_in_channels = train_iter.batch_shape[0]
    if early_stop_class is not None and not 0 <= early_stop_class < n_classes:
        raise ValueError(f"early_stop_class {early_stop_class!r}: a class, 0 to {n_classes - 1}")
    log.info("Batch. train: %d, val %d, test %d", train_iter.nbatches, val_iter.nbatches, 0)
    log.info("Nb of classes: %d", n_classes)
    log.info("Nb. of input channels: %d", nb_in_channels)

    # the network, for images of any size (each function below fixes its own: crops to train,
    # whole slices to validate)
    net = build_UNet(n_input_channels=nb_in_channels, num_output_classes=n_classes,
                     base_n_filters=base_n_filters, do_dropout=False, input_dim=(None, None),
                     rng=rng)
    output_layer = net["output_flattened"]

    log.info("Defining and compiling training functions")
    # the training crops: the size of the first batch's (the same for all)
    prediction = get_output(output_layer, sized(input_var, batch_of(train_iter), nb_in_channels,
                                                *input_dim))
    loss = crossentropy_metric(prediction, target_var, void_labels)
    if weight_decay > 0:
        weightsl2 = regularize_network_params(output_layer, l2)
        loss += weight_decay * weightsl2
    params = get_all_params(output_layer, trainable=True)
    updates = adam(loss, params, learning_rate=learning_rate)
    # (where the last batch of an epoch is shorter, JAX mode compiles each size)
    train_fn = engine.function([input_var, target_var], [loss], updates=updates,
                               name="train_fn", shapes_at_run_time=True)

    log.info("Defining and compiling test functions")
    # the whole validation slices: the size of the stack's
    test_prediction = get_output(output_layer, sized(input_var, batch_of(val_iter),
                                                     *val_iter.batch_shape), deterministic=True)
    test_loss = crossentropy_metric(test_prediction, target_var, void_labels)
    test_acc = accuracy_metric(test_prediction, target_var, void_labels)
    test_jacc = jaccard_metric(test_prediction, target_var, n_classes)
    val_fn = engine.function([input_var, target_var], [test_loss, test_acc, test_jacc],
                             name="val_fn", shapes_at_run_time=True)

    log.info("Start training")
    # the network, and what a checkpoint holds and a best model keeps: its values (batch
    # normalisation's averages too), Adam's moments and step count
    model = UNet(net, get_all_params(output_layer)
                 + [var for var, _ in updates if var not in params])
    batches = Batches(train_fn, val_fn, train_iter, val_iter, model.params)
    arch = {"model": "unet", "n_classes": n_classes, "nb_in_channels": nb_in_channels,
            "base_n_filters": base_n_filters}
    settings = {"learning_rate": learning_rate, "weight_decay": weight_decay,
                "batch_size": list(batch_size), "data_augmentation": _jsonable(data_augmentation),
                "seed": seed, "data": "toy" if toy else "isbi_em_stacks"}
    options = dataclasses.replace(options, callbacks=(print_epoch, *options.callbacks))
    return train_functions(batches, model, arch, settings,
                           EpochPatience(n_epochs=num_epochs, max_patience=max_patience,
                                         early_stop_class=early_stop_class),
                           options)


class UNet:
    """A trained U-Net, as ``train_unet`` returns it in ``result.model``: its layers (``net``),
    the shared variables its checkpoints and best model hold (``params``: the network's, batch
    normalisation's running averages among them, then Adam's moments and step count) and
    ``predict``."""

    def __init__(self, net, params):
        self.net, self.params = net, params
        self._predict = {}  # a compiled function per shape of images

    def predict(self, images):
        """The most probable class of each pixel of ``images``, (n, channels, rows, cols) ->
        (n, rows, cols) ints (rows and columns divisible by 16 come out whole); batch
        normalisation uses its running averages (``deterministic``)."""
        images = numpy.asarray(images, dtype=engine.floatX())
        if images.shape not in self._predict:
            input_var = T.tensor4("images")
            probabilities = get_output(self.net["output_flattened"],
                                       sized(input_var, *images.shape), deterministic=True)
            n, _, rows, cols = get_output_shape(self.net["output_segmentation"], images.shape)
            classes = T.argmax(probabilities, axis=1).reshape((n, rows, cols))
            self._predict[images.shape] = engine.function([input_var], classes,
                                                          name="predict_fn",
                                                          shapes_at_run_time=True)
        return numpy.asarray(self._predict[images.shape](images))


def _jsonable(settings):
    """The augmentation settings as a checkpoint's JSON holds them (tuples as lists)."""
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in sorted(settings.items())}


def print_epoch(record):
    """The tutorial's line after each epoch (its epochs counted from 0; without its " took %f
    s"): the mean training cost, the validation cost, accuracy and Jaccard index per class, and
    the index that picks the best epoch (their mean, or ``early_stop_class``'s)."""
    s = record.scores
    classes = ", ".join(("jacc val class %d % f" if i == 0 else "jacc val class %d %f") % (i, j)
                        for i, j in enumerate(s["valid_jaccard_per_class"]))
    log.info("EPOCH %i: Avg epoch training cost train %f, cost val %f, acc val %f, %s, jacc val "
             "%f", record.epoch - 1, s["train_cost"], s["valid_cost"], s["valid_accuracy"],
             classes, s["valid_jaccard"])
