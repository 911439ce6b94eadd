"""Sphinx configuration of dltut's documentation site.

    pip install -e '.[docs]'
    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are MyST Markdown; notebooks (docs/notebooks/, stored with outputs by
docs/make_notebooks.py) are rendered by myst-nb without running them. What the pages say about
each tutorial's results is generated at build time from ``dltut.catalogue`` by the local
extension ``docs/_ext/dltut_pages.py`` (into docs/_generated/, not committed).

Theme: Furo. It is small and quick to build, ships every asset it uses in the wheel (no web fonts
or scripts fetched from elsewhere: the site reads the same offline), lays out long code listings
and wide tables well, and has a light and a dark scheme. pydata-sphinx-theme (PyTensor's, NumPy's
base) would also do, at the cost of Bootstrap and more build time for a site of twenty pages.

Math: MathJax 3, bundled by the ``sphinx-mathjax-offline`` package (6 MB of MathJax copied into
``_static/mathjax`` and used instead of the CDN). It is the lightest offline renderer that needs
nothing outside pip: imgmath needs a LaTeX and dvipng from Debian (hundreds of MB), KaTeX
prerendering needs Node.js and the npm registry at build time.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's dltut, also where it is not installed
sys.path.insert(0, str(DOCS / "_ext"))

import dltut  # noqa: E402

project = "dltut"
author = "the dltut contributors; the tutorials: the LISA lab (Université de Montréal)"
copyright = "2026, " + author
release = version = dltut.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and .ipynb notebooks (myst_parser inside)
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax from _static, no CDN
    "sphinx.ext.viewcode",
    "dltut_pages",  # docs/_ext: the catalogue's tables, the notebooks' freshness, the pictures
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # stored outputs (docs/make_notebooks.py), checked fresh by dltut_pages
nb_merge_streams = True

autodoc_default_options = {"members": True, "undoc-members": True}  # every public name
autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "furo"
html_title = "dltut: the Deep Learning Tutorials"
html_static_path = ["_static"]
html_css_files = ["dltut.css"]  # a wider text column, wrapped code, equations without scrollbars
html_show_sourcelink = False
highlight_language = "text"  # a fence without a language is shown as it is
smartquotes = False  # keep --flags and quotes as typed (no en dashes, no curly quotes)

