"""The documentation site (docs/): what it is built from is complete and fresh, and the built
site reads right in a browser.

Fast: every example notebook has a stored copy with outputs in docs/notebooks/, run from the
example as it is now (docs/make_notebooks.py records the example's SHA-256); every tutorial of
``dltut.catalogue`` has a page that includes its module's code and its generated results; README
is the short front page and names every tutorial.

Slow (``-m slow``; skipped without the ``docs`` extra): the site is built with ``sphinx-build
-W --keep-going`` (any warning fails), every page's images and internal links (with their
anchors) are checked in the HTML, and, where the system has Chromium (Debian's ``chromium``),
every page is opened in headless Chromium after its scripts ran (``--dump-dom``): the math is
typeset by the bundled MathJax (no raw LaTeX left outside code) and it loaded nothing from the
network; at 1280 px no code listing or equation of the home page and of tutorial pages needs a
sideways scrollbar, and the sidebar lists the tutorials in the catalogue's order (screenshots of
two pages are kept in the test's tmp_path).
"""

import ast
import hashlib
import html
import html.parser
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dltut import catalogue, engine

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
pytestmark = pytest.mark.skipif(
    engine.name() != "pytensor", reason="the site is built and checked once, in the PyTensor "
                                        "environment")


@pytest.mark.parametrize("example", sorted((ROOT / "dltut" / "examples").glob("*.ipynb")),
                         ids=lambda path: path.name)
def test_the_stored_notebook_is_run_from_the_example_as_it_is(example):
    stored = DOCS / "notebooks" / example.name
    assert stored.exists(), f"run python docs/make_notebooks.py {example.name}"
    notebook = json.loads(stored.read_text())
    recorded = notebook["metadata"]["dltut"]["source_sha256"]
    assert recorded == hashlib.sha256(example.read_bytes()).hexdigest(), (
        f"dltut/examples/{example.name} changed since docs/notebooks/{example.name} was made: run "
        f"python docs/make_notebooks.py {example.name}")
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["execution_count"] for cell in code), "a code cell that did not run"
    outputs = [output for cell in code for output in cell["outputs"]]
    assert not [output for output in outputs if output["output_type"] == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)
    # the stored copy is the example's cells with outputs added: same sources, same order
    source = json.loads(example.read_text())
    assert [c["source"] for c in source["cells"]] == [c["source"] for c in notebook["cells"]]


def _extension():
    """docs/_ext/dltut_pages.py, what the site generates from the code (it needs Sphinx)."""
    pytest.importorskip("sphinx", reason="docs/_ext/dltut_pages.py needs the docs extra")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import dltut_pages
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    return dltut_pages


def _notebook_name(name):
    """The tutorial's notebook, as docs/_ext/dltut_pages.py names it (without .ipynb)."""
    return _extension().notebook_of(catalogue.get(name))[:-len(".ipynb")]


def _pyobjects(page, module=None):
    """The objects the page includes (of ``module``'s file only, if given)."""
    includes = re.findall(r"```\{literalinclude\} \.\./\.\./(\S+)\n(?::\w+:.*\n)*?"
                          r":pyobject: ([\w.]+)", page)
    return [name for path, name in includes if module is None or path == module]


def _top_level_names(path):
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("name", catalogue.TUTORIALS)
def test_every_tutorial_has_a_page_with_its_code_and_results(name):
    tutorial = catalogue.get(name)
    path = DOCS / "tutorials" / f"{name}.md"
    assert path.exists(), f"write docs/tutorials/{name}.md"
    page = path.read_text()
    module = ROOT / "dltut" / "tutorials" / f"{tutorial.module}.py"
    assert f"../../dltut/tutorials/{tutorial.module}.py" in page
    objects = _pyobjects(page, f"dltut/tutorials/{tutorial.module}.py")
    assert tutorial.entry in objects  # the entry point's code is on its page
    assert set(objects) <= _top_level_names(module)
    for path, included in re.findall(r"```\{literalinclude\} \.\./\.\./(\S+)\n(?::\w+:.*\n)*?"
                                 r":pyobject: ([\w.]+)", page):
        assert included.split(".")[0] in _top_level_names(ROOT / path), (path, included)
    for part in (f"results_{name}.md", f"pictures_{name}.md"):
        assert f"../_generated/{part}" in page
    assert "$$" in page  # its equations


def _toctree(page):
    """The entries of the page's one toctree, in order."""
    [block] = re.findall(r"```\{toctree\}\n(.*?)```", page, re.S)
    return [line.strip() for line in block.splitlines()
            if line.strip() and not line.startswith(":")]


def test_the_tutorials_are_listed_in_the_catalogues_order():
    assert _toctree((DOCS / "tutorials" / "index.md").read_text()) == catalogue.names()


def test_the_notebooks_are_listed_in_the_catalogues_order():
    notebooks = [_notebook_name(name) for name in catalogue.names()]
    listed = _toctree((DOCS / "notebooks" / "index.md").read_text())
    assert listed == [name for name in notebooks if (DOCS / "notebooks" / f"{name}.ipynb").exists()]
    assert sorted(f"{name}.ipynb" for name in listed) == sorted(
        path.name for path in (DOCS / "notebooks").glob("*.ipynb"))


def test_every_notebook_page_says_what_its_small_run_is():
    pages = _extension()
    for tutorial in catalogue.TUTORIALS.values():
        if not (DOCS / "notebooks" / pages.notebook_of(tutorial)).exists():
            continue
        note = pages.small_run_note(tutorial)
        assert "small one" in note and "DLTUT_EXAMPLE_" in note, tutorial.name
        assert f"<../tutorials/{tutorial.name}>" in note  # where the tutorial's results are
        if tutorial.name not in pages.MADE_DATA | {"hmc"}:
            assert "first 1,200 training" in note and "2 epochs" in note, note


def test_the_measured_runs_are_of_known_tutorials():
    spec = importlib.util.spec_from_file_location("measured", DOCS / "measured.py")
    measured = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(measured)
    assert set(measured.MEASURED) <= set(catalogue.TUTORIALS)
    for name, run in measured.MEASURED.items():
        assert run["source"] and run["command"], name  # every figure says how and where


def test_the_home_pages_results_table_has_no_blank_cell():
    pages = _extension()
    rows = pages.results_all(pages._measured()).splitlines()[2:]
    assert len(rows) == len(catalogue.TUTORIALS)
    for row, name in zip(rows, catalogue.names()):
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert f"tutorials/{name}" in cells[0] and len(cells) == 3 and all(cells), row


def test_the_api_page_lists_every_module_of_the_tutorials():
    table = _extension().api_tutorials()
    assert "_generated/api_tutorials.md" in (DOCS / "api.md").read_text()
    modules = sorted(path.stem for path in (ROOT / "dltut" / "tutorials").glob("*.py")
                     if path.stem != "__init__")
    assert "imdb" in modules and "lstm" in modules and "rnnrbm" in modules
    listed = re.findall(r"\{py:mod\}`dltut\.tutorials\.(\w+)`", table)
    assert sorted(listed) == modules
    assert "|  |" not in table


_ISSUE = re.compile(r"\bissues? #?\d+", re.I)


def test_no_page_refers_to_an_issue_number():
    """A reader of the site has no issue tracker: a page says what it means, not "(issue 26)"."""
    sources = [ROOT / "README.md", DOCS / "measured.py", ROOT / "dltut" / "catalogue.py"]
    sources += [*DOCS.rglob("*.md"), *DOCS.rglob("*.ipynb"),
                *(ROOT / "dltut" / "examples").glob("*.ipynb")]
    found = [f"{path.relative_to(ROOT)}: {match}" for path in sources
             if "_build" not in path.parts for match in _ISSUE.findall(path.read_text())]
    assert not found, found


def test_readme_is_the_short_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for command in (
            "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && python "
            "scripts/logreg.py",
            "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
            "python -m pytest -n 2 --dist worksteal"):
        assert f"\n{command}\n" in readme  # as before: CI reads the test command
    assert "python -m sphinx -W --keep-going -b html docs docs/_build/html" in readme
    for name in catalogue.TUTORIALS:
        assert f"| `scripts/{name}.py` |" in readme, name
    rows = [readme.index(f"| `scripts/{name}.py` |") for name in catalogue.names()]
    assert rows == sorted(rows), "README's table in the catalogue's order"
    table = [line for line in readme.splitlines() if line.startswith("| `scripts/")]
    assert not [line for line in table if "|  |" in line or "| |" in line], "a blank cell"


# ------------------------------------------------------------------------------------------------
# The built site


class _Page(html.parser.HTMLParser):
    """The images, links and ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.ids, self.scripts = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        elif tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "link" and attrs.get("href") and "stylesheet" in (attrs.get("rel") or ""):
            self.scripts.append(attrs["href"])


def _parse(path):
    page = _Page()
    page.feed(path.read_text())
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for package in ("sphinx", "myst_nb", "furo"):
        pytest.importorskip(package, reason="building the site needs the docs extra")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                            "html", str(DOCS), str(out)], capture_output=True, text=True,
                           timeout=900, cwd=ROOT)
    assert build.returncode == 0, build.stdout + build.stderr
    return out


# the generated pages that are Sphinx's or the viewcode extension's, not the site's own
_OWN = re.compile(r"^(?!_modules/|_sources/|_static/|genindex|search|py-modindex)")


def _pages(site):
    return sorted(path for path in site.rglob("*.html")
                  if _OWN.match(path.relative_to(site).as_posix()))


@pytest.mark.slow
def test_every_page_has_its_images_and_its_links_lead_somewhere(site):
    pages = _pages(site)
    expected = {"index.html", "getting_started.html", "early_stopping.html", "sweeps.html",
                "speed.html", "engines.html", "files.html", "api.html",
                "notebooks/logistic_regression.html"}
    expected |= {f"tutorials/{name}.html" for name in catalogue.TUTORIALS}
    assert expected <= {path.relative_to(site).as_posix() for path in pages}
    parsed = {path: _parse(path) for path in site.rglob("*.html")}
    problems = []
    for path in pages:
        page = parsed[path]
        for src in page.images + page.scripts:
            parts = urlsplit(src)
            if parts.scheme or parts.netloc:
                problems.append(f"{path.name}: loads {src} from the network")
            elif not (path.parent / unquote(parts.path)).is_file():
                problems.append(f"{path.name}: missing {src}")
        for href in page.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("mailto:"):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.is_file():
                problems.append(f"{path.name}: broken link {href}")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if parts.fragment not in ids:
                    problems.append(f"{path.name}: no #{parts.fragment} in {target.name}")
    assert not problems, "\n".join(problems)
    assert not [f"{path.name}: {match}" for path in pages
                for match in _ISSUE.findall(re.sub(r"<[^>]+>", "", path.read_text()))]
    for path in pages:  # each notebook's page says what its small run is
        if path.parent.name == "notebooks" and path.name != "index.html":
            assert "The run shown here is a small one." in path.read_text(), path.name
    # the early-stopping page shows both 74-epoch runs
    early = (site / "early_stopping.html").read_text()
    assert "patience_logreg_600.png" in early and "patience_logreg_300.png" in early


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


_CODE = re.compile(r"<(pre|code)\b.*?</\1>", re.S)
_RAW_MATH = re.compile(r"\\\(|\\\[|\$\$")


@pytest.mark.slow
def test_every_page_renders_its_math_in_a_browser(site):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on this system (apt-get install chromium)")
    problems = []
    for path in _pages(site):
        source = path.read_text()
        math = source.count('class="math notranslate')  # one a formula, inline or displayed
        if not math:
            continue
        dom = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
             "--virtual-time-budget=20000", path.as_uri()],
            capture_output=True, text=True, timeout=120).stdout
        rendered = dom.count("<mjx-container")
        left = _RAW_MATH.findall(_CODE.sub("", dom))
        if rendered < math or left:
            problems.append(f"{path.relative_to(site)}: {math} formulas, {rendered} typeset, "
                            f"raw LaTeX left: {left[:3]}")
    assert not problems, "\n".join(problems)


# A script added to a copy of a page: once MathJax has typeset it, it writes what overflows into a
# <pre id="dltut-probe"> that --dump-dom shows. Code: a listing wider than its box (a sideways
# scrollbar). Math: an equation box wider than its box, or showing a scrollbar either way, or
# whose glyphs (MathJax's mjx-c) reach outside it (the box cuts nothing off).
_PROBE = """<script>
window.addEventListener("load", function () {
  function report() {
    var out = {code: [], math: [], sidebar: []};
    document.querySelectorAll("article pre").forEach(function (e) {
      if (e.scrollWidth > e.clientWidth)
        out.code.push([e.scrollWidth, e.clientWidth, e.textContent.slice(0, 60)]);
    });
    document.querySelectorAll("article .math-wrapper, article div.math").forEach(function (e) {
      var box = e.getBoundingClientRect(), style = getComputedStyle(e);
      var bars = e.offsetWidth - e.clientWidth - parseFloat(style.borderLeftWidth)
          - parseFloat(style.borderRightWidth) + e.offsetHeight - e.clientHeight
          - parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth);
      var cut = false;
      e.querySelectorAll("mjx-c").forEach(function (c) {
        var r = c.getBoundingClientRect();
        if (r.height && (r.top < box.top || r.bottom > box.bottom || r.left < box.left
                         || r.right > box.right)) cut = true;
      });
      if (e.scrollWidth > e.clientWidth || bars > 0 || cut)
        out.math.push([e.className, e.scrollWidth, e.clientWidth, bars, cut]);
    });
    document.querySelectorAll(".sidebar-tree a.reference").forEach(function (a) {
      out.sidebar.push(a.getAttribute("href"));
    });
    var pre = document.createElement("pre");
    pre.id = "dltut-probe";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise)
    MathJax.startup.promise.then(report);
  else report();
});
</script>"""
_WIDTH = 1280  # a laptop's window: the width the site is checked at


def _chromium_run(browser, *arguments):
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--virtual-time-budget=20000", *arguments],
                          capture_output=True, text=True, timeout=120)


def _probe(browser, path):
    """What overflows on the page at ``path`` in a window ``_WIDTH`` pixels wide, and its
    sidebar's links. The probing copy lies beside the page (its links and assets work) for the
    time it is read."""
    copy = path.with_name(f"{path.stem}.probe.html")
    copy.write_text(path.read_text().replace("</body>", _PROBE + "</body>"))
    try:
        dom = _chromium_run(browser, f"--window-size={_WIDTH},900", "--dump-dom",
                            copy.as_uri()).stdout
    finally:
        copy.unlink()
    found = re.search(r'<pre id="dltut-probe">(.*?)</pre>', dom, re.S)
    assert found, f"{path.name}: the probe did not run"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.slow
def test_at_1280_px_code_and_math_fit_and_the_sidebar_follows_the_catalogue(site, tmp_path):
    """A reader at 1280 px reads every listing and equation of the home page and of tutorial
    pages without scrolling sideways; the sidebar lists the tutorials in the catalogue's order.
    Screenshots of two pages are left in tmp_path to look at."""
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on this system (apt-get install chromium)")
    problems = []
    for page in ("index.html", "tutorials/lstm.html", "tutorials/mlp.html",
                 "tutorials/lenet.html"):
        found = _probe(browser, site / page)
        problems += [f"{page}: code wider than its box: {entry}" for entry in found["code"]]
        problems += [f"{page}: math overflows: {entry}" for entry in found["math"]]
        # the sidebar's links as pages of the site (the page's own entry is a link to "#")
        linked = [(site / page).parent / href if href != "#" else site / page
                  for href in found["sidebar"]]
        linked = [path.resolve().relative_to(site.resolve()).as_posix() for path in linked]
        listed = [name[len("tutorials/"):-len(".html")] for name in linked
                  if name.startswith("tutorials/") and name != "tutorials/index.html"]
        if listed != catalogue.names():
            problems.append(f"{page}: the sidebar lists {listed}, the catalogue "
                            f"{catalogue.names()}")
    assert not problems, "\n".join(problems)
    for page, name in (("index.html", "home.png"), ("tutorials/lstm.html", "lstm.png")):
        shot = tmp_path / name
        _chromium_run(browser, f"--window-size={_WIDTH},2000", f"--screenshot={shot}",
                      (site / page).as_uri())
        assert shot.exists() and shot.stat().st_size > 10_000, f"no screenshot of {page}"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
