"""Run dltut/examples/*.ipynb and store them, with their outputs, in docs/notebooks/ for the site.

    python docs/make_notebooks.py             # every notebook (a few minutes on 2 cores)
    python docs/make_notebooks.py rbm.ipynb   # some

The site renders the stored outputs rather than running the notebooks at each build: running all
of them costs minutes of compiling, and the build must stay short (CI, Read the Docs). Each
notebook runs as tests/test_notebook.py runs it: on a small cut of the shipped MNIST (1,200
training, 600 validation, 600 test images), 2 epochs (``DLTUT_EXAMPLE_EPOCHS``), 200 + 200 draws
for HMC (``DLTUT_EXAMPLE_DRAWS``), in dltut's defaults (float32, JAX mode), with this Python as
its kernel. The stored copy records the SHA-256 of the example it was run from
(``metadata.dltut.source_sha256``): the build (docs/conf.py) and tests/test_docs.py fail when an
example has changed since, so a stale rendering cannot be published; rerun this script then.
"""

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "dltut" / "examples"
STORED = ROOT / "docs" / "notebooks"
KERNEL = "dltut-docs"
# the small run (tests/test_notebook.py's too), which each notebook's page describes
# (docs/_ext/dltut_pages.py): the first images of MNIST's three splits, the epochs, HMC's draws
CUT = (1200, 600, 600)
EPOCHS = 2
DRAWS = 200


def source_sha256(path):
    """The SHA-256 of an example notebook's file: what a stored copy was run from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def small_mnist(folder):
    from dltut import data

    splits = data.load_data()
    path = Path(folder) / "small.npz"
    data.save_npz(path, tuple((x[:n], y[:n]) for (x, y), n in zip(splits, CUT)))
    return path


def kernel_manager(folder):
    spec = Path(folder) / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dltut docs (this Python)", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(Path(folder) / "kernels")],
                              ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


# Lines that the libraries below dltut write to stderr on import, on this kind of machine and not
# on every other: PyTensor's config parser, JAX looking for a TPU. They are dropped from the
# stored outputs, with nothing else (the tutorials' own log lines go to stderr too, and stay).
NOISE = ("Suppressed KeyError in PyTensorConfigParser", "Unable to initialize backend 'tpu'")


def drop_noise(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type == "stream":
                lines = output.text.splitlines(keepends=True)
                output.text = "".join(line for line in lines
                                      if not line.startswith(NOISE))
        cell.outputs = [output for output in cell.outputs
                        if output.output_type != "stream" or output.text]


def run(name, folder, dataset):
    source = EXAMPLES / name
    notebook = nbformat.read(source, as_version=4)
    os.environ.update(DLTUT_EXAMPLE_EPOCHS=str(EPOCHS), DLTUT_EXAMPLE_DRAWS=str(DRAWS),
                      DLTUT_DATA=str(dataset), MPLBACKEND="Agg",
                      PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                               os.environ.get("PYTHONPATH")])))
    work = Path(folder) / name.removesuffix(".ipynb")
    work.mkdir()
    client = NotebookClient(notebook, km=kernel_manager(work), kernel_name=KERNEL, timeout=600,
                            resources={"metadata": {"path": str(work)}})
    client.execute()
    drop_noise(notebook)
    notebook.metadata["dltut"] = {
        "source_sha256": source_sha256(source),
        "run": f"docs/make_notebooks.py: DLTUT_EXAMPLE_EPOCHS={EPOCHS} (MNIST: "
               f"{'/'.join(f'{n:,}' for n in CUT)} images), DLTUT_EXAMPLE_DRAWS={DRAWS}, "
               "float32, JAX mode"}
    notebook.metadata.pop("widgets", None)
    STORED.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=STORED, suffix=".tmp", delete=False) as out:
        nbformat.write(notebook, out)
    os.replace(out.name, STORED / name)
    print(f"{name}: stored with outputs", flush=True)


def main(names):
    names = names or sorted(path.name for path in EXAMPLES.glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as folder:
        dataset = small_mnist(folder)
        for name in names:
            run(name, folder, dataset)


if __name__ == "__main__":
    main(sys.argv[1:])
