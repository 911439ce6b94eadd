"""dltut.notebooks (``dltut notebooks DIR``): the shipped notebooks copied out whole, a folder's
own files never overwritten without --force, one line naming the path for what cannot be done."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from dltut import notebooks
from dltut.__main__ import main

EXAMPLES = Path(ROOT, "dltut", "examples")


def _names(folder):
    return sorted(path.name for path in folder.iterdir())


def test_the_package_ships_every_example_notebook():
    assert list(notebooks.shipped()) == sorted(path.name for path in EXAMPLES.glob("*.ipynb"))
    assert "logistic_regression.ipynb" in notebooks.shipped()


def test_the_notebooks_are_copied_whole_into_a_new_folder(tmp_path, capsys):
    folder = tmp_path / "a" / "b"  # made, with its parent
    assert main(["notebooks", str(folder)]) == 0
    assert _names(folder) == list(notebooks.shipped())  # nothing else: no temporary file left
    for path in folder.iterdir():
        assert path.read_bytes() == (EXAMPLES / path.name).read_bytes()
    out = capsys.readouterr().out
    count = len(notebooks.shipped())
    assert f"{count} notebooks in {folder}" in out and f"jupyter lab {folder}" in out


def test_an_existing_notebook_is_refused_and_nothing_is_written(tmp_path, capsys):
    mine = tmp_path / "mlp.ipynb"
    mine.write_text("my own notes")
    assert main(["notebooks", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"dltut notebooks: error: {mine} exists: add --force to overwrite it, or "
                   "choose another folder\n")
    assert _names(tmp_path) == ["mlp.ipynb"] and mine.read_text() == "my own notes"


def test_force_overwrites(tmp_path):
    (tmp_path / "mlp.ipynb").write_text("my own notes")
    assert main(["notebooks", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "mlp.ipynb").read_bytes() == (EXAMPLES / "mlp.ipynb").read_bytes()
    assert _names(tmp_path) == list(notebooks.shipped())


@pytest.mark.parametrize("make, expected", [
    (lambda path: path.write_text("x"), "is a file, not a folder; choose another path"),
    (lambda path: (path / "hmc.ipynb").mkdir(parents=True),
     "hmc.ipynb is a folder: remove it or choose another folder"),
])
def test_what_cannot_be_written_is_one_line_naming_it(tmp_path, capsys, make, expected):
    target = tmp_path / "here"
    make(target)
    assert main(["notebooks", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dltut notebooks: error: ") and str(target) in err
    assert expected in err and err.count("\n") == 1


def test_a_read_only_folder_is_one_line(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder")
    tmp_path.chmod(0o500)
    try:
        assert main(["notebooks", str(tmp_path / "nb")]) == 2
    finally:
        tmp_path.chmod(0o700)
    err = capsys.readouterr().err
    assert str(tmp_path) in err and err.count("\n") == 1


def _command(*args, cwd):
    return subprocess.run([sys.executable, "-m", "dltut", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


def test_the_command_line_without_a_folder_is_a_usage_error(tmp_path):
    run = _command("notebooks", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "the following arguments are required: DIR" in run.stderr
    empty = _command("notebooks", "", cwd=tmp_path)
    assert empty.returncode == 2 and empty.stderr == (
        "dltut notebooks: error: no folder given: dltut notebooks DIR (a folder's path)\n")
