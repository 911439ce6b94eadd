"""Make the pictures of the site that need runs on the whole of MNIST (about 3 minutes on 2 cores),
or longer runs on made data than the notebooks' (U-Net's, about 2 minutes).

    python docs/make_pictures.py                  # from the repository root: all of them
    python docs/make_pictures.py early_stopping   # or some: early_stopping, mlp, lenet, dA, unet,
                                                  # fcn8

Every run uses the shipped MNIST and dltut's defaults (float32, JAX mode), and every picture is
drawn by ``dltut.plots``; they are written to docs/_static/pictures/ and committed (training them
at every build would add minutes to it). Rerun this script after a change to the trainer, a
model or the plots, and commit what it writes.

* ``early_stopping``: ``dltut.sgd_optimization_mnist()`` (batch size 600: the published run) and
  ``dltut.sgd_optimization_mnist(batch_size=300)``, both stopped by patience after 74 epochs:
  their patience plots for docs/early_stopping.md, ``patience_logreg.json`` (each run's counters
  and the validations that raised patience, which that page quotes) and the published run's ten
  weight images for the logistic regression's page.
* ``mlp``: ``dltut.test_mlp(n_epochs=1)``: the weights of 100 hidden units after one epoch.
* ``lenet``: ``dltut.evaluate_lenet5(n_epochs=1)``: the first layer's 20 filters after one
  epoch, and the feature maps of the first test digit.
* ``dA``: ``dltut.test_dA(training_epochs=1)``: the filters of 100 hidden units after one epoch,
  without and with 30 % corruption.
* ``unet``: ``dltut.train_unet(toy=True, base_n_filters=8, learning_rate=0.001, num_epochs=40)``
  on the made EM stacks shipped with dltut (its notebook's run, for its own 40 epochs): the
  predicted masks of three validation slices beside their labels.
* ``fcn8``: ``dltut.train_fcn8(toy=True)`` with the quick settings (4 epochs, batches of one
  frame, a 32x48 crop: the original's reference run) on the made polyps, at VGG-16's width
  (about 4 minutes and 14 GB of memory): three validation frames, their masks, the kept
  network's probability of a polyp at each pixel and its predicted masks.

``pictures.json`` lists, per tutorial, each picture with its caption (what run made it, and its
numbers); docs/_ext/dltut_pages.py shows them on the tutorial's page.
"""

import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy

import dltut
from dltut import catalogue, engine
from dltut.engine import T
from dltut.plots import plot_feature_maps, save_figure, save_filters, save_patience_plot

OUT = Path(__file__).resolve().parent / "_static" / "pictures"
INDEX = OUT / "pictures.json"


def _errors(result):
    return (f"best validation error {result.best_validation_loss * 100:.6f} %, test error "
            f"{result.test_score * 100:.6f} %")


def early_stopping(pictures):
    runs = {}
    for batch_size in (600, 300):
        result = dltut.sgd_optimization_mnist(batch_size=batch_size)
        save_patience_plot(result, OUT / f"patience_logreg_{batch_size}.png")
        runs[batch_size] = {
            "best_validation_loss": result.best_validation_loss,
            "test_score": result.test_score,
            "best_iter": result.best_iter,
            "epochs": result.epochs,
            "iterations": result.iterations,
            "patience": result.patience,
            "stop_reason": result.stop_reason,
            "extended": [(v.iter, v.validation_loss, v.patience)
                         for v in result.history if v.extended],
        }
        print(f"batch_size={batch_size}: {runs[batch_size]}", flush=True)
        if batch_size == 600:
            save_filters(result.model, OUT / "filters_logreg.png")
            pictures["logreg"] = [
                ["patience_logreg_600.png", "The published run's patience, "
                 "`dltut.sgd_optimization_mnist()`: " + _errors(result) + f", stopped by "
                 f"{result.stop_reason} after {result.epochs} epochs (see "
                 "{doc}`../early_stopping`)."],
                ["filters_logreg.png", "The ten columns of `W` after that run, one 28x28 image "
                 "per digit: white pixels raise the digit's score, black pixels lower it."]]
    (OUT / "patience_logreg.json").write_text(json.dumps(runs, indent=1) + "\n")


def mlp(pictures):
    result = dltut.test_mlp(n_epochs=1)
    save_filters(result.model, OUT / "filters_mlp.png")
    pictures["mlp"] = [["filters_mlp.png", "The weights of 100 of the 500 hidden units after one "
                        "epoch, `dltut.test_mlp(n_epochs=1)` (" + _errors(result) + ")."]]


def lenet(pictures):
    nkerns = (20, 50)
    result = dltut.evaluate_lenet5(n_epochs=1, nkerns=nkerns)
    save_filters(result.model, OUT / "filters_lenet.png")
    _, _, (test_x, test_y) = dltut.load_data()
    digit = numpy.asarray(test_x[:1], dtype=engine.floatX())
    x = T.matrix("x")
    lenet = dltut.LeNet5(numpy.random.RandomState(0), x, batch_size=1, nkerns=nkerns)
    for param, trained in zip(lenet.params, result.model.params):  # same names, same order
        param.set_value(trained.get_value())
    maps = engine.function([x], [lenet.layer0.output, lenet.layer1.output, lenet.y_pred])
    layer0, layer1, predicted = maps(digit)
    save_figure(plot_feature_maps(digit[0], [layer0[0], layer1[0]]),
                OUT / "feature_maps_lenet.png")
    pictures["lenet"] = [
        ["filters_lenet.png", "The first layer's 20 filters (5x5) after one epoch, "
         "`dltut.evaluate_lenet5(n_epochs=1)` (" + _errors(result) + ")."],
        ["feature_maps_lenet.png", f"The first test image (a {int(test_y[0])}, predicted "
         f"{int(predicted[0])}) and the feature maps of that network's two convolution + "
         "pooling layers."]]


def dA(pictures):
    with tempfile.TemporaryDirectory() as folder:
        clean, noisy = dltut.test_dA(training_epochs=1, output_folder=folder)
    pictures["dA"] = []
    for run in (clean, noisy):
        name = f"filters_dA_{round(run.corruption_level * 100)}.png"
        save_filters(run.da, OUT / name)
        pictures["dA"].append([name, f"The filters of 100 hidden units after one epoch with "
                               f"{run.corruption_level:.0%} corruption, "
                               f"`dltut.test_dA(training_epochs=1)` (cost {run.costs[-1]:.4f})."])


def unet(pictures):
    import matplotlib.pyplot as plt

    from dltut.tutorials.isbi_em_stacks import IsbiEmStacksDataset

    epochs = 40
    result = dltut.train_unet(toy=True, base_n_filters=8, learning_rate=0.001,
                              num_epochs=epochs)
    images, labels, _ = IsbiEmStacksDataset("val", toy=True).arrays()
    predicted = result.model.predict(images)
    fig, axes = plt.subplots(3, 3, figsize=(7.5, 7.7))
    for column, index in enumerate((0, 2, 4)):
        for row, (picture, title) in enumerate([(images[index, 0], "slice"),
                                                (labels[index], "labels"),
                                                (predicted[index], "predicted")]):
            axes[row, column].imshow(picture, cmap="gray", interpolation="nearest")
            axes[row, column].set_title(f"{title} {index}")
            axes[row, column].axis("off")
    fig.tight_layout()
    save_figure(fig, OUT / "masks_unet.png")
    kept = [record for record in result.history if record.new_best]
    scores = (kept[-1] if kept else result.history[-1]).scores  # the kept network's
    pictures["unet"] = [["masks_unet.png", (
        f"Three validation slices of the made stacks, their labels (white: cell) and the masks "
        f"predicted by the network kept after `dltut.train_unet(toy=True, base_n_filters=8, "
        f"learning_rate=0.001, num_epochs={epochs})` (float32, JAX mode): pixel accuracy "
        f"{scores['valid_accuracy']:.4f}, mean Jaccard index {scores['valid_jaccard']:.4f}. The "
        f"validation slices are training slices, as the tutorial's loader read them: this shows "
        f"what the network learned, not how it generalises.")]]


def fcn8(pictures):
    import matplotlib.pyplot as plt

    from dltut.tutorials.polyps912 import Polyps912Dataset

    settings = dict(catalogue.get("fcn8").quick.settings)
    result = dltut.train_fcn8(**settings)
    frames, masks, names = Polyps912Dataset("val", toy=True, order="sorted").arrays()
    probabilities = result.model.probabilities(frames)
    predicted = probabilities.argmax(axis=1)
    low, high = probabilities[:, 1].min(), probabilities[:, 1].max()
    fig, axes = plt.subplots(4, 3, figsize=(7.5, 7.4))
    for column, name in enumerate(names):
        for row, (picture, title, scale) in enumerate([
                (frames[column].transpose(1, 2, 0), f"frame {name}", None),
                (numpy.choose(masks[column], [0.0, 1.0, 0.5]), "mask", (0, 1)),
                (probabilities[column, 1], "P(polyp)", (low, high)),
                (predicted[column], "predicted", (0, 1))]):
            axes[row, column].imshow(picture, cmap=None if scale is None else "gray",
                                     vmin=None if scale is None else scale[0],
                                     vmax=None if scale is None else scale[1],
                                     interpolation="nearest")
            axes[row, column].set_title(title)
            axes[row, column].axis("off")
    fig.tight_layout()
    save_figure(fig, OUT / "masks_fcn8.png")
    kept = next((record for record in reversed(result.history) if record.new_best), None)
    scores = (kept or result.history[-1]).scores
    arguments = ", ".join(f"{key}={value!r}" for key, value in settings.items())
    pictures["fcn8"] = [["masks_fcn8.png", (
        f"The three validation frames of the made polyps, their masks (white: polyp, grey: the "
        f"void border) and, from the network kept after `dltut.train_fcn8({arguments})` "
        f"(float32, JAX mode; the original's reference run), each pixel's probability of a "
        f"polyp (black {low:.4f}, white {high:.4f}) and its predicted mask (white: polyp): pixel "
        f"accuracy {scores['valid_accuracy']:.4f}, mean Jaccard index "
        f"{scores['valid_jaccard']:.4f}. Four epochs on five frames have barely moved the "
        f"probabilities from 1/2, and the grid is the last transposed convolution's (stride 8, "
        f"16x16 filters still near their random start): the tutorial trained for hundreds of "
        f"epochs on 547 frames.")]]


MAKERS = {"early_stopping": early_stopping, "mlp": mlp, "lenet": lenet, "dA": dA, "unet": unet,
          "fcn8": fcn8}


def main(names):
    logging.basicConfig(level=logging.WARNING)
    OUT.mkdir(parents=True, exist_ok=True)
    pictures = json.loads(INDEX.read_text()) if INDEX.exists() else {}
    for name in names or MAKERS:
        MAKERS[name](pictures)
        INDEX.write_text(json.dumps(pictures, indent=1, sort_keys=True) + "\n")
        print(f"{name}: done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
