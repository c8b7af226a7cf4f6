"""What the scripts in ``benchmarks/`` write besides their numbers: the command line, markdown tables, pages, figures.

Every script records the command that reproduces it, writes its tables as pipe tables and its report as an orphan
docs page (linked from a page, not listed in a toctree), saves matplotlib figures and keeps training's warnings and
progress logs out of its printed rows; these are those recipes, once.
"""

from __future__ import annotations

import logging
import shlex
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from matplotlib.figure import Figure


def silence_training_logs() -> None:
    """Ignore warnings and keep Lightning's info logs ("GPU available", "Seed set") off the output."""
    warnings.filterwarnings("ignore")
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def script_command(script: str, argv: Sequence[str]) -> str:
    """``python benchmarks/<script> <argv>``, each argument shell-quoted, so the line can be pasted to rerun it."""
    return " ".join(["python", f"benchmarks/{script}", *(shlex.quote(arg) for arg in argv)])


def pipe_table(header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: int | None = None) -> list[str]:
    """Lines of a markdown pipe table of already formatted cells.

    Parameters
    ----------
    header
        Column titles.
    rows
        One sequence of cell strings per row.
    text_columns
        How many leading columns are left-aligned; the rest are right-aligned (numbers). ``None``: all left.

    Returns
    -------
    The header line, the rule and one line per row.
    """
    n_text = len(header) if text_columns is None else text_columns
    rule = "|" + "---|" * n_text + "---:|" * (len(header) - n_text)
    return [_pipe_line(header), rule, *(_pipe_line(row) for row in rows)]


def _pipe_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def results_page(title: str, body: Sequence[str]) -> str:
    """Markdown of an orphan docs page (front matter ``orphan: true``) headed ``# title``, then ``body``'s lines."""
    return "\n".join(["---", "orphan: true", "---", "", f"# {title}", "", *body, ""])


def save_figure(fig: Figure, path: str | Path, dpi: int) -> None:
    """Lay out ``fig`` tightly, write it to ``path`` and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
