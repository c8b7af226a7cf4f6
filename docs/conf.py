"""Sphinx configuration: myst-nb pages and notebooks, API reference from numpy docstrings (autosummary)."""

from __future__ import annotations

from importlib.metadata import version as _package_version
from pathlib import Path

HERE = Path(__file__).parent

project = "celltyper"
author = "celltyper developers"
copyright = "2026, celltyper developers"
release = version = _package_version("celltyper")

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_autodoc_typehints",
    "sphinx.ext.mathjax",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
# autosummary writes its stub pages with the first suffix: they are reStructuredText (autoclass, autofunction)
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

html_theme = "furo"
html_title = f"celltyper {release}"

# API reference
autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = True
typehints_defaults = "comma"
always_document_param_types = False

# notebooks: tutorials/*.ipynb are executed during the build (bundled data, few epochs), outputs shown
myst_enable_extensions = ["colon_fence", "dollarmath"]
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_merge_streams = True

suppress_warnings = ["mystnb.unknown_mime_type"]

#: pages this file knows where to put; every other top-level page (docs/transformer.md, docs/transfer.md,
#: docs/benchmarks.md, … added by the model and benchmark authors) is listed under "Guides" in the index
KNOWN_PAGES = {"index", "installation", "quickstart", "concepts", "cli", "api", "tutorials"}


def _guides(app, docname: str, source: list[str]) -> None:
    """Put every extra top-level page into the index's "Guides" toctree (marker ``%GUIDES%``)."""
    if docname != "index":
        return
    pages = sorted(p.stem for p in HERE.glob("*.md") if p.stem not in KNOWN_PAGES)
    source[0] = source[0].replace("%GUIDES%", "\n".join(pages))


def setup(app):
    """Register the index hook."""
    app.connect("source-read", _guides)
