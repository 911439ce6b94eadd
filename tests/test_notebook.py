"""dltut/examples/*.ipynb, one per tutorial, run headless, end to end, and show their pictures.

The kernel is this Python (``sys.executable``), through a kernel spec written to a temporary
folder, so the test needs no ``ipykernel install`` and cannot pick up another environment's
``python3`` kernel. Each notebook trains 2 epochs (``DLTUT_EXAMPLE_EPOCHS``) on a small cut of the
shipped MNIST (``DLTUT_DATA``); the HMC notebook, which reads no data, draws 200 times for its
burn-in and 200 more (``DLTUT_EXAMPLE_DRAWS``).
"""

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the test extra")
pytest.importorskip("matplotlib", reason="the notebook draws with matplotlib")
from jupyter_client import KernelManager  # noqa: E402
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "dltut" / "examples"  # package data: `dltut notebooks DIR` copies them
KERNEL = "dltut-test"
STOPPED = "'n_epochs'"  # a supervised run of 2 epochs shows that it stopped on n_epochs
# notebook -> (the entry point its training cell calls, what that cell shows, the calls that
# each show one picture)
NOTEBOOKS = {
    "logistic_regression.ipynb": ("sgd_optimization_mnist", STOPPED,
                                  ("plot_patience(result)", "plot_filters(result.model)")),
    "mlp.ipynb": ("test_mlp", STOPPED, ("plot_patience(result)", "plot_filters(result.model)")),
    "convolutional_mlp.ipynb": ("evaluate_lenet5", STOPPED, ("plot_patience(result)",
                                                             "plot_filters(result.model)",
                                                             "plot_feature_maps(")),
    "DBN.ipynb": ("test_DBN", "'layer 2'", ("plot_filters(result.model)",
                                            "plot_patience(result)")),
    "SdA.ipynb": ("test_SdA", "'layer 2'", ("plot_filters(result.model)",
                                            "plot_patience(result)")),
    "dA.ipynb": ("test_dA", "'30% corruption'", ("plot_filters(clean.da)",
                                                 "plot_filters(noisy.da)")),
    "logistic_cg.ipynb": ("cg_optimization_mnist", "'conjugate gradients'",
                          ("plot_validation(cg, sgd)",)),
    "hmc.ipynb": ("test_hmc", "'final acceptance rate'", ("plot_samples(run)",
                                                          "plot_adaptation(run, burnin)")),
    "rbm.ipynb": ("test_rbm", "'epoch 1'", ("run.filters", "run.samples")),
    "rnnslu.ipynb": ("rnnslu.main", "'vf1'", ("plot_f1(run)",)),
    "rnnrbm.ipynb": ("model.train(", "'epoch 2'", ("a training tune", "model.generate(")),
    "lstm.ipynb": ("lstm.train_lstm", "'Train'", ("plot_errors(result)",)),
    "fcn1D.ipynb": ("train_fcn1D(", "'n_epochs'", ("Cortical6LayersDataset(", "jaccard = ",
                                                   "result.model.predict(")),
    "unet.ipynb": ("unet.train_unet", "'epoch 2'", ("random_transform(", "result.model.predict(")),
    "fcn8.ipynb": ("fcn8.train_fcn8", "'epoch 2'", ("random_transform(",
                                                    "result.model.probabilities(")),
}
# what a notebook reads to run small in the tests
SMALL_RUN = re.compile(r"DLTUT_EXAMPLE_(EPOCHS|DRAWS)")


@pytest.fixture
def small_mnist(tmp_path):
    """1,200 train, 600 valid, 600 test images: two minibatches of 600 per epoch."""
    from dltut import data

    (tx, ty), (vx, vy), (sx, sy) = data.load_data()
    path = tmp_path / "small.npz"
    data.save_npz(path, ((tx[:1200], ty[:1200]), (vx[:600], vy[:600]), (sx[:600], sy[:600])))
    return path


def kernel_manager(tmp_path):
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dltut test (this Python)",
        "language": "python",
    }))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def test_every_notebook_is_tested():
    assert sorted(path.name for path in EXAMPLES.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name):
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    assert any(SMALL_RUN.search(cell.source) for cell in code)


# the sequence tutorials' notebooks compile their scans cold (the RNN-RBM's 45 s, rnnslu's 15 s,
# the LSTM's 25 s from an empty home folder), the 1-D FCN its eight convolutions (35 s), U-Net
# its 23 (about 40 s), FCN-8 VGG-16 at its width (about 3 minutes and 14 GB of memory); their
# numbers are tested in test_rnnrbm.py, test_rnnslu.py, test_lstm.py, test_fcn1D.py,
# test_unet.py and test_fcn8.py: slow
SLOW_NOTEBOOKS = {"rnnrbm.ipynb", "rnnslu.ipynb", "lstm.ipynb", "fcn1D.ipynb", "unet.ipynb",
                  "fcn8.ipynb"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow)
                                  if name in SLOW_NOTEBOOKS else name for name in NOTEBOOKS])
def test_notebook_runs_and_shows_its_plots(name, tmp_path, small_mnist, monkeypatch):
    entry_point, shown_text, pictures = NOTEBOOKS[name]
    monkeypatch.setenv("DLTUT_EXAMPLE_EPOCHS", "2")
    monkeypatch.setenv("DLTUT_EXAMPLE_DRAWS", "200")
    monkeypatch.setenv("DLTUT_DATA", str(small_mnist))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # %matplotlib inline overrides it; no GUI either way
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    client = NotebookClient(notebook, km=kernel_manager(tmp_path), kernel_name=KERNEL, timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the traceback, if a cell fails

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        assert all(output.output_type != "error" for output in cell.outputs), cell.source
    run = next(cell for cell in code if entry_point in cell.source)
    shown = "".join(output.get("data", {}).get("text/plain", "") for output in run.outputs)
    assert shown_text in shown
    for call in pictures:
        cell = next(cell for cell in code if call in cell.source)
        images = [output for output in cell.outputs if "image/png" in output.get("data", {})]
        assert len(images) == 1, f"{call}: outputs {[o.output_type for o in cell.outputs]}"
