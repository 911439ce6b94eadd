"""Sphinx extension: the parts of dltut's site generated from the code when it is built.

* ``_generated/results_NAME.md`` for every tutorial in ``dltut.catalogue``: its published figures
  beside dltut's measured run (docs/measured.py), the original code's printed lines under small
  settings that dltut prints too (``dltut suite --quick`` checks them), and the 2012 timings.
  ``_generated/results_all.md``: one table of every tutorial; ``_generated/api_modules.md``: an
  ``automodule`` for every module of dltut and ``_generated/api_tutorials.md``, a table of the
  modules of dltut.tutorials (docs/api.md). Pages include these files.
* ``_generated/notebooks_small.md``: what the notebooks' stored runs are (docs/make_notebooks.py's
  cut of MNIST, epochs and draws); each notebook page gets its own such note when it is read
  (``add_small_run_note``).
* ``_generated/pictures_NAME.md``: the pictures of docs/make_pictures.py (pictures.json), then
  those of the tutorial's notebook, from its stored outputs in docs/notebooks/.
* Checks, as warnings (``sphinx-build -W`` fails on them): every tutorial of the catalogue has a
  page docs/tutorials/NAME.md; every example notebook has a stored copy in docs/notebooks/, run
  from the example as it is now (``metadata.dltut.source_sha256``, see docs/make_notebooks.py).
"""

import ast
import base64
import hashlib
import importlib.util
import json
import os
import pkgutil
import re
import tempfile
from pathlib import Path

from sphinx.util import logging

from dltut import catalogue

logger = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
# a tutorial's notebook in dltut/examples/, where it is not named as its module
NOTEBOOKS = {"logreg": "logistic_regression", "lenet": "convolutional_mlp"}
# the tutorials whose notebooks train on data they make (their data sets are not shipped)
MADE_DATA = {"rnnslu", "lstm", "rnnrbm", "fcn8", "fcn1D", "unet"}


def notebook_of(tutorial):
    return NOTEBOOKS.get(tutorial.name, tutorial.module) + ".ipynb"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measured():
    return _load("dltut_docs_measured", DOCS / "measured.py").MEASURED


def _percent(value):
    """A figure as it was recorded: all its digits, at least two decimals (7.50, 7.489583)."""
    if value is None:
        return ""
    digits = f"{value:.6f}".rstrip("0")
    decimals = len(digits.split(".")[1])
    return f"{value:.{max(decimals, 2)}f} %"


def _call(tutorial, settings):
    arguments = ", ".join(f"{key}={value!r}" for key, value in settings.items())
    return f"dltut.{tutorial.entry}({arguments})"


def results_page(tutorial, measured):
    """The results of one tutorial, as MyST Markdown."""
    lines = []
    published, mine = tutorial.published, measured.get(tutorial.name)
    if published or mine:
        lines += ["| run | best validation error | test error | length | time |",
                  "| --- | --- | --- | --- | --- |"]
        if published:
            lines.append(f"| the tutorial, published | {_percent(published.validation)} | "
                         f"{_percent(published.test)} | | |")
        if mine:
            lines.append(f"| dltut | {_percent(mine['validation'])} | {_percent(mine['test'])} "
                         f"| {mine['epochs']} | {mine['time'] or ''} |")
        lines.append("")
        if published:
            lines += [f"- The published figures: {published.source}.", ""]
        if mine:
            lines += [f"- dltut's run: `{mine['command']}`, {mine['source']}.", ""]
        if published and not mine:
            lines += ["dltut's whole default run of this tutorial has not been measured yet "
                      "(`dltut suite --full --only " + tutorial.name + "` runs it).", ""]
    else:
        lines += ["The tutorial published no error rate for this model; its results are the "
                  "lines below.", ""]
    if tutorial.quick:
        quick = tutorial.quick
        exact = ("to the printed digits" if not quick.rel
                 else f"to {quick.rel:g} relative")
        lines += [f"The original code's printed lines with small settings, "
                  f"`{_call(tutorial, quick.settings)}` in float64. dltut prints the same lines "
                  f"(the same words, the numbers {exact}); `dltut suite --quick` checks them "
                  "again on any machine:", "", "```text", *quick.lines, "```", "",
                  f"How the original ran: {quick.source}.", ""]
    if tutorial.speed_2012:
        cpu, gpu = tutorial.speed_2012
        lines += [f"In 2012 the original's `code/test.py` `speed()` timed its run of this "
                  f"tutorial at {cpu:g} s on the CPU and {gpu:g} s on the GPU (float32; an "
                  "Intel i7-920 and a GTX 580); see {doc}`../speed` for dltut's times.", ""]
    return "\n".join(lines)


def _figures(run):
    """A run's best validation and test errors as ``valid / test``."""
    return f"{_percent(run.validation)} / {_percent(run.test)}"


def _reference(tutorial):
    """What the tutorial's runs are held against: the published figures, else the original
    code's printed lines under small settings, else the comparison on its page."""
    if tutorial.published:
        return f"{_figures(tutorial.published)} ({tutorial.published.source})"
    if tutorial.quick:
        return f"the original code's printed lines of `{_call(tutorial, tutorial.quick.settings)}`"
    return (f"the original code's numbers in short runs on made data, compared on "
            f"{{doc}}`its page <tutorials/{tutorial.name}>`")


def _dltut(tutorial, mine):
    """What dltut gave: its measured whole run with the command, and the small run's lines."""
    parts = []
    if mine:
        got = (f"{_percent(mine['validation'])} / {_percent(mine['test'])}, {mine['epochs']}"
               if mine["test"] is not None else mine["epochs"])
        parts.append(f"{got}: `{mine['command']}`")
    elif tutorial.published:
        parts.append(f"whole run not measured yet (`dltut suite --full --only {tutorial.name}` "
                     "runs it)")
    if tutorial.quick:
        run = ("those lines" if not tutorial.published else
               f"the original's lines of `{_call(tutorial, tutorial.quick.settings)}`")
        parts.append(f"prints {run} (`dltut suite --quick` checks them)")
    return "; ".join(parts) or "prints the original's numbers in those runs (its page)"


def results_all(measured):
    """One row per tutorial, in the catalogue's order: what its runs are held against (the
    published figures or the original code's lines) and what dltut gave, with the command."""
    lines = ["| tutorial | the reference: published (valid / test) or what is compared | dltut |",
             "| --- | --- | --- |"]
    for tutorial in catalogue.TUTORIALS.values():
        lines.append(f"| {{doc}}`tutorials/{tutorial.name}` | {_reference(tutorial)} | "
                     f"{_dltut(tutorial, measured.get(tutorial.name))} |")
    return "\n".join(lines) + "\n"


def _committed_pictures():
    """docs/make_pictures.py's pictures of runs on the whole of MNIST: tutorial -> [file, caption]."""
    index = DOCS / "_static" / "pictures" / "pictures.json"
    pictures = json.loads(index.read_text()) if index.exists() else {}
    for name, entries in pictures.items():
        for file, _ in entries:
            if not (index.parent / file).exists():
                logger.warning(f"docs/_static/pictures/{file} ({name}) is missing: run python "
                               "docs/make_pictures.py")
    return pictures


def pictures_page(tutorial, folder, committed):
    """The tutorial's pictures: those of docs/make_pictures.py's runs on the whole of MNIST, then
    those its notebook drew (taken from the stored outputs and written beside the page)."""
    lines = []
    for file, caption in committed.get(tutorial.name, []):
        lines += [f"```{{figure}} /_static/pictures/{file}", ":width: 90%", "", caption, "```", ""]
    if lines:
        lines.insert(0, "Made by `python docs/make_pictures.py` (on the whole of MNIST, or in a "
                        "longer run on made data than the notebook's):\n")
    path = DOCS / "notebooks" / notebook_of(tutorial)
    if not path.exists():
        return "\n".join(lines) or "This tutorial has no notebook yet.\n"
    notebook = json.loads(path.read_text())
    shown, count = [], 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]).strip().splitlines()
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if not png:
                continue
            count += 1
            name = f"{tutorial.name}_{count}.png"
            data = base64.b64decode("".join(png) if isinstance(png, list) else png)
            _write_if_changed(folder / name, data)
            shown += [f"```{{figure}} /_generated/pictures/{name}", ":width: 90%", "",
                      f"`{source[-1] if source else ''}` in "
                      f"{{doc}}`the notebook <../notebooks/{notebook_of(tutorial)[:-6]}>`", "```",
                      ""]
    if shown:
        lines += ["Drawn by its notebook in a short run, stored by docs/make_notebooks.py (2 "
                  "epochs; the MNIST tutorials on a cut of 1,200 training images, the others on "
                  "made data):", "", *shown]
    return "\n".join(lines) or "No picture yet.\n"


def _write_if_changed(path, data):
    """Write only what changed, so that Sphinx does not rebuild every page at each build; through
    a temporary file and a rename, so that two builds at once (test workers) never read half a
    file."""
    if isinstance(data, str):
        data = data.encode()
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as out:
            out.write(data)
        os.replace(out.name, path)


def api_modules():
    """Every module of dltut, the tutorials first and the back end last, each as an
    ``automodule`` with its members."""
    import dltut
    import dltut.backend
    import dltut.tutorials

    def modules(package):
        return sorted(m.name for m in pkgutil.iter_modules(package.__path__,
                                                           f"{package.__name__}."))

    library = ["dltut"] + [name for name in modules(dltut)
                           if name not in ("dltut.tutorials", "dltut.backend", "dltut.__main__")]
    lines = []
    for title, names in (("The tutorials", ["dltut.tutorials"] + modules(dltut.tutorials)),
                         ("The library", library),
                         ("The back end", ["dltut.backend"] + modules(dltut.backend))):
        lines += [f"## {title}", ""]
        for name in names:
            lines += [f"### `{name}`", "", "```{eval-rst}", f".. automodule:: {name}",
                      "   :members:", "```", ""]
    return "\n".join(lines)


def api_tutorials():
    """A table of every module of ``dltut.tutorials`` (pkgutil finds them: none can be left out),
    the tutorials' in the catalogue's order, then the modules they import; each with the first
    paragraph of its docstring and, for a tutorial, its ``dltut run`` name and public names."""
    import dltut.tutorials

    folder = Path(dltut.tutorials.__path__[0])
    found = [m.name for m in pkgutil.iter_modules(dltut.tutorials.__path__)]
    owners = {t.module: t for t in catalogue.TUTORIALS.values()}
    ordered = [t.module for t in catalogue.TUTORIALS.values() if t.module in found]
    ordered += sorted(set(found) - set(ordered))
    lines = ["| module | what | `dltut run` | its names in `import dltut` |",
             "| --- | --- | --- | --- |"]
    for name in ordered:
        docstring = ast.get_docstring(ast.parse((folder / f"{name}.py").read_text())) or ""
        what = " ".join(docstring.split("\n\n")[0].split()).replace("|", "\\|")
        tutorial = owners.get(name)
        run = f"`{tutorial.name}`" if tutorial else "none (a tutorial's helper)"
        exports = ", ".join(f"`{export}`" for export in tutorial.exports) if tutorial else "none"
        lines.append(f"| {{py:mod}}`dltut.tutorials.{name}` | {what} | {run} | {exports} |")
    return "\n".join(lines) + "\n"


def _own_setting(tutorial, variable):
    """The notebook's own value of ``DLTUT_EXAMPLE_...`` (what it runs without the variable), read
    from its code: ``os.environ.get("DLTUT_EXAMPLE_EPOCHS", "20")``."""
    source = (ROOT / "dltut" / "examples" / notebook_of(tutorial)).read_text()
    found = re.search(rf'{variable}\\?", \\?"(\d+)', source)
    if not found:
        logger.warning(f"dltut/examples/{notebook_of(tutorial)} does not read {variable} as "
                       f'os.environ.get("{variable}", "N"): its page cannot say its own setting')
        return ""
    return f"; the notebook's own setting is {found.group(1)}"


def small_run_note(tutorial):
    """What the small run stored on the tutorial's notebook page is, and why its numbers are not
    the tutorial's (MyST Markdown): docs/make_notebooks.py's cut of MNIST, epochs and draws."""
    runs = _load("dltut_docs_make_notebooks", DOCS / "make_notebooks.py")
    page = f"{{doc}}`the tutorial's page <../tutorials/{tutorial.name}>`"
    intro = ("**The run shown here is a small one.** `docs/make_notebooks.py` ran this notebook "
             "to store its outputs for the site (float32, JAX mode)")
    if tutorial.name == "hmc":
        return (f"{intro}, with {runs.DRAWS} burn-in steps and {runs.DRAWS} draws "
                f"(`DLTUT_EXAMPLE_DRAWS={runs.DRAWS}`"
                f"{_own_setting(tutorial, 'DLTUT_EXAMPLE_DRAWS')}). Its numbers are those of "
                f"shorter chains than the original's; the original's lines, which dltut prints "
                f"too, are on {page}.")
    epochs = (f"{runs.EPOCHS} epochs (`DLTUT_EXAMPLE_EPOCHS={runs.EPOCHS}`"
              f"{_own_setting(tutorial, 'DLTUT_EXAMPLE_EPOCHS')})")
    if tutorial.name in MADE_DATA:
        return (f"{intro}, for {epochs}, on made data (its code builds, or dltut ships), not the "
                f"tutorial's data set. Its numbers show the code at work, not the tutorial's results: "
                f"{page} compares dltut with the original code.")
    train, valid, test = runs.CUT
    if tutorial.published:
        compared = (f"a model trained briefly on {100 * train / 50_000:.0f} % of the training "
                    f"images errs far more than "
                    f"the published {_figures(tutorial.published)} (best validation / test; "
                    f"{tutorial.published.source}), which {page} shows with dltut's results")
    else:
        compared = (f"they differ from the original code's lines on {page}, which are of runs "
                    f"on the whole training set")
    return (f"{intro}, for {epochs}, on the first {train:,} training, {valid:,} validation and "
            f"{test:,} test images of MNIST (the tutorial's: 50,000, 10,000 and 10,000), so that "
            f"it runs in seconds, for the site and in the tests. Its numbers are "
            f"that run's, not the tutorial's: {compared}. Copied out with `dltut notebooks DIR`, "
            f"the notebook runs on the whole of MNIST for its own epochs.")


def small_runs():
    """The notebooks page's paragraph on what their stored runs are (docs/make_notebooks.py's)."""
    runs = _load("dltut_docs_make_notebooks", DOCS / "make_notebooks.py")
    train, valid, test = runs.CUT
    return (f"Small means: the MNIST tutorials on the first {train:,} training, {valid:,} "
            f"validation and {test:,} test images, {runs.EPOCHS} epochs "
            f"(`DLTUT_EXAMPLE_EPOCHS={runs.EPOCHS}`); HMC with {runs.DRAWS} + {runs.DRAWS} draws "
            f"(`DLTUT_EXAMPLE_DRAWS={runs.DRAWS}`); the sequence and segmentation tutorials "
            f"({', '.join(sorted(MADE_DATA))}) on made data (their notebooks', or dltut's). So their numbers "
            f"are not the tutorials': each notebook's page says what its run was, and each "
            f"tutorial's page has the tutorial's results beside the published figures.\n")


def add_small_run_note(app, docname, source):
    """Sphinx's ``source-read``: a notebook page (docs/notebooks/NAME.ipynb) gets
    ``small_run_note`` as a Markdown cell after its title cell. The stored file is left as
    it was run (its cells stay the example's, as tests/test_docs.py checks)."""
    names = {notebook_of(t)[:-len(".ipynb")]: t for t in catalogue.TUTORIALS.values()}
    folder, _, name = docname.partition("/")
    if folder != "notebooks" or name not in names:
        return
    notebook = json.loads(source[0])
    note = {"cell_type": "markdown", "metadata": {}, "source": small_run_note(names[name])}
    if "id" in notebook["cells"][0]:
        note["id"] = "dltut-small-run"
    notebook["cells"].insert(1, note)
    source[0] = json.dumps(notebook)


def check_notebooks():
    for example in sorted((ROOT / "dltut" / "examples").glob("*.ipynb")):
        stored = DOCS / "notebooks" / example.name
        if not stored.exists():
            logger.warning(f"docs/notebooks/{example.name} is missing: run "
                           f"python docs/make_notebooks.py {example.name}")
            continue
        recorded = json.loads(stored.read_text()).get("metadata", {}).get("dltut", {})
        current = hashlib.sha256(example.read_bytes()).hexdigest()
        if recorded.get("source_sha256") != current:
            logger.warning(f"docs/notebooks/{example.name} was run from another version of "
                           f"dltut/examples/{example.name}: run python docs/make_notebooks.py "
                           f"{example.name} and commit what it writes")


def generate(app):
    measured = _measured()
    unknown = set(measured) - set(catalogue.TUTORIALS)
    if unknown:
        logger.warning(f"docs/measured.py names tutorials the catalogue lacks: {sorted(unknown)}")
    committed = _committed_pictures()
    for tutorial in catalogue.TUTORIALS.values():
        if not (DOCS / "tutorials" / f"{tutorial.name}.md").exists():
            logger.warning(f"the tutorial {tutorial.name!r} (dltut.catalogue) has no page: "
                           f"write docs/tutorials/{tutorial.name}.md")
        _write_if_changed(GENERATED / f"results_{tutorial.name}.md",
                          results_page(tutorial, measured))
        _write_if_changed(GENERATED / f"pictures_{tutorial.name}.md",
                          pictures_page(tutorial, GENERATED / "pictures", committed))
    _write_if_changed(GENERATED / "results_all.md", results_all(measured))
    _write_if_changed(GENERATED / "api_modules.md", api_modules())
    _write_if_changed(GENERATED / "api_tutorials.md", api_tutorials())
    _write_if_changed(GENERATED / "notebooks_small.md", small_runs())
    check_notebooks()


def setup(app):
    app.connect("builder-inited", generate)
    app.connect("source-read", add_small_run_note)
    app.config.exclude_patterns.append("_generated/*.md")  # included, not pages of their own
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
