"""``dltut notebooks DIR``: the example notebooks, one per tutorial, copied into DIR to open in
JupyterLab (``pip install 'dltut[notebooks]'``, then ``jupyter lab DIR``).

The notebooks are package data (``dltut/examples/``), so a wheel carries them as a checkout does;
tests/test_notebook.py runs them, docs/make_notebooks.py stores them with outputs for the site.
Copying never overwrites a notebook already in DIR unless asked (``force``), and it checks every
one before writing any; each is written whole or not at all (``dltut.atomic``).
"""

import os
import sys
from importlib import resources

from dltut.atomic import OutputError, atomic_write, check_output_folder


def shipped():
    """The example notebooks in the package: ``{file name: resource}``, by name."""
    folder = resources.files("dltut") / "examples"
    found = {entry.name: entry for entry in folder.iterdir() if entry.name.endswith(".ipynb")}
    return dict(sorted(found.items()))


def copy(folder, force=False):
    """Copy every shipped notebook into ``folder`` (created if missing); the paths written.

    A notebook of the same name already in ``folder`` is an ``OutputError`` naming it, raised
    before anything is written, unless ``force`` (then it is replaced).
    """
    folder = os.fspath(folder)
    if not folder:
        raise OutputError("no folder given: dltut notebooks DIR (a folder's path)")
    check_output_folder(folder, "notebooks folder")
    notebooks = shipped()
    targets = {name: os.path.join(folder, name) for name in notebooks}
    for target in targets.values():
        if os.path.isdir(target):
            raise OutputError(f"{target} is a folder: remove it or choose another folder")
        if os.path.lexists(target) and not force:
            raise OutputError(f"{target} exists: add --force to overwrite it, or choose another "
                              "folder")
    for name, target in targets.items():
        data = notebooks[name].read_bytes()
        atomic_write(target, lambda file, data=data: file.write(data))
    return list(targets.values())


def main(folder, force=False, stream=None):
    """Copy the notebooks into ``folder`` and say how to open them; the exit status."""
    stream = sys.stdout if stream is None else stream
    written = copy(folder, force)
    print(f"{len(written)} notebooks in {folder}: {', '.join(map(os.path.basename, written))}",
          file=stream)
    print(f"open them with: jupyter lab {folder}  (JupyterLab: pip install 'dltut[notebooks]')",
          file=stream)
    return 0
