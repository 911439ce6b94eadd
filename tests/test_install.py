"""dltut as a user installs it from a wheel, not from this checkout: its MNIST travels inside the
package, so the default dataset is there and a run works from any folder."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT
from dltut import data, engine

pytestmark = pytest.mark.skipif(
    engine.name() != "pytensor", reason="packaging is checked once, in the PyTensor environment")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel pip builds from this checkout's package files, copied to a folder of their own
    (setuptools builds in the source folder: two test workers building in the checkout at once
    would write the same build/)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(Path(ROOT, name), source)
    shutil.copytree(Path(ROOT, "dltut"), source / "dltut",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                    source], check=True, capture_output=True, timeout=600)
    [path] = out.glob("dltut-*.whl")
    return path


def test_the_wheel_holds_the_data_and_its_checksums(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in data.IDX_FILES.values():
        assert f"dltut/mnist/{name}.gz" in names
    assert f"dltut/mnist/{data.CHECKSUMS}" in names
    assert "dltut/tutorials/convolutional_mlp.py" in names  # the subpackage too
    # the sequence and segmentation tutorials' made data (--toy, dltut suite --quick): every file
    toy = {path.relative_to(ROOT).as_posix() for path in Path(ROOT, "dltut", "toy").rglob("*")
           if path.is_file() and "__pycache__" not in path.parts}
    assert {"dltut/toy/imdb.pkl", "dltut/toy/rolls.npz",
            "dltut/toy/isbi_em_stacks/train-volume.tif"} <= toy <= names
    examples = sorted(path.name for path in Path(ROOT, "dltut", "examples").glob("*.ipynb"))
    assert examples and {f"dltut/examples/{name}" for name in examples} <= names  # the notebooks


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed: (its folder, the environment to run it in)."""
    env_dir = tmp_path_factory.mktemp("env") / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--quiet", str(wheel)], check=True, capture_output=True, timeout=600)
    # dltut's dependencies (PyTensor, JAX, ...) come from this environment, its dltut does not: a
    # path listed in a .pth file is added as it is, without reading the .pth files inside it
    # (where this environment's editable dltut is declared).
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    environ = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "DLTUT_DATA", "DLTUT_MODE")}
    return env_dir, environ


def test_an_installed_wheel_trains_from_another_folder(installed, tmp_path):
    env_dir, environ = installed
    python = env_dir / "bin" / "python"
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    code = ("import dltut, logging; logging.basicConfig(level=logging.INFO, format='%(message)s'); "
            "print(dltut.__file__); dltut.sgd_optimization_mnist(n_epochs=1)")
    run = subprocess.run([python, "-c", code], cwd=elsewhere, env=environ, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith(str(env_dir)), run.stdout
    # the tutorial's first validation on the full data set: the shipped MNIST was read
    assert "epoch 1, minibatch 83/83, validation error 12.458333 %" in run.stderr


def _dltut(installed, *args, cwd):
    env_dir, environ = installed
    return subprocess.run([env_dir / "bin" / "dltut", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=600)


def test_the_installed_dltut_command_lists_and_runs(installed, tmp_path):
    from dltut import catalogue

    listed = _dltut(installed, "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(catalogue.TUTORIALS)
    run = _dltut(installed, "run", "logreg", "--n-epochs", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "epoch 1, minibatch 83/83, validation error 12.458333 %" in run.stdout.splitlines()
    assert (tmp_path / "out" / "logreg.npz").is_file()


def test_the_installed_dltut_command_trains_a_segmentation_tutorial_on_its_made_data(installed,
                                                                                     tmp_path):
    """fcn1D on the made rays shipped in the wheel, from another folder, offline: the original's
    first EPOCH line on them (the catalogue's quick lines, float64)."""
    from dltut import catalogue

    run = _dltut(installed, "run", "fcn1D", "--toy", "--num-epochs", "1", "--batch-size", "8",
                 "8", "1", "--floatX", "float64", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert catalogue.get("fcn1D").quick.lines[0] in run.stdout.splitlines()


def test_the_installed_dltut_command_copies_the_notebooks(installed, tmp_path):
    copied = _dltut(installed, "notebooks", "mine", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    shipped = Path(ROOT, "dltut", "examples")
    assert sorted(path.name for path in (tmp_path / "mine").iterdir()) == sorted(
        path.name for path in shipped.glob("*.ipynb"))
    for path in (tmp_path / "mine").iterdir():
        assert path.read_bytes() == (shipped / path.name).read_bytes()


@pytest.mark.slow
def test_the_installed_dltut_command_prints_the_published_line(installed, tmp_path):
    run = _dltut(installed, "run", "logreg", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Optimization complete with best validation score of 7.500000 %,with test " \
        "performance 7.489583 %" in run.stdout.splitlines()
