"""Make the pictures of docs/early_stopping.md: the patience plots of two logistic-regression runs.

    python docs/make_pictures.py        # from the repository root; about a minute on 2 cores

It runs ``dltut.sgd_optimization_mnist`` with the tutorial's defaults (batch size 600: the
published run) and with ``batch_size=300``, on the shipped MNIST, in dltut's defaults (float32,
JAX mode), and writes ``docs/_static/pictures/patience_logreg_600.png`` and ``..._300.png`` with
``dltut.plots.save_patience_plot`` and ``patience_logreg.json``: each run's counters and the
validations that raised patience, which the page quotes. Both runs stop by patience after 74
epochs. The PNGs are committed (training them at every build would add half a minute of CPU);
rerun this script after a change to the trainer or the plot and commit what it writes.
"""

import json
import logging
from pathlib import Path

import dltut
from dltut.plots import save_patience_plot

OUT = Path(__file__).resolve().parent / "_static" / "pictures"


def main():
    logging.basicConfig(level=logging.WARNING)
    OUT.mkdir(parents=True, exist_ok=True)
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
        print(f"batch_size={batch_size}: {runs[batch_size]}")
    (OUT / "patience_logreg.json").write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
