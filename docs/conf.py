"""Sphinx configuration: myst-nb pages and notebooks, API reference from numpy docstrings (autosummary)."""

from __future__ import annotations

import ast
import re
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


def _layout(app, docname: str, source: list[str]) -> None:
    """Fill ``design/layout``'s ``%LAYOUT%`` with every module of the package, its size and its docstring's summary."""
    if docname != "design/layout":
        return
    package = HERE.parent / "src" / "celltyper"
    lines: list[str] = []
    for folder in sorted({path.parent for path in package.rglob("*.py")}):
        lines += [
            f"## `{folder.relative_to(package.parent).as_posix()}/`",
            "",
            "| file | lines | what it owns |",
            "|---|---:|---|",
        ]
        for path in sorted(folder.glob("*.py")):
            text = path.read_text()
            summary = (ast.get_docstring(ast.parse(text)) or "").split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
            summary = re.sub(r":[a-z]+:`~?", "`", summary)  # reST roles as plain code: relative targets do not resolve
            lines.append(f"| `{path.name}` | {len(text.splitlines())} | {summary} |")
        lines.append("")
    source[0] = source[0].replace("%LAYOUT%", "\n".join(lines))


def setup(app):
    """Register the index and layout hooks."""
    app.connect("source-read", _guides)
    app.connect("source-read", _layout)
