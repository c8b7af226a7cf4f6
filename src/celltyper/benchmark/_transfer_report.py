"""The outputs of the label-transfer benchmark: each task's rows, then ``results.json``, ``report.md`` and the plot.

Each task's rows are kept in ``<out>/rows/<task>.json`` with the command and settings that produced them, so tasks
can run as separate (shorter) commands into one folder; :func:`write_transfer_report` then covers every task found
there, in the order of :data:`~._transfer_tasks.TRANSFER_TASKS`.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ._report import write_results
from ._transfer_tasks import TRANSFER_TASKS

TITLE = "Label transfer: celltyper vs SCANVI, kNN on scVI, logistic regression"
#: Columns of the report's tables, in order, and whether higher is better for each scored one.
COLUMNS = (
    "method",
    "macro_f1",
    "accuracy",
    "ece_query",
    "marker_agreement",
    "auroc_novel",
    "auroc_novel_1-novelty",
    "auroc_novel_confidence*(1-novelty)",
    "unknown_novel",
    "unknown_known",
    "unknown_fraction",
    "ece_heldout_before",
    "ece_heldout_after",
    "seconds",
)
HIGHER_IS_BETTER = {
    "macro_f1": True,
    "accuracy": True,
    "ece_query": False,
    "marker_agreement": True,
    "auroc_novel": True,
    "auroc_novel_1-novelty": True,
    "auroc_novel_confidence*(1-novelty)": True,
    "unknown_novel": True,
    "unknown_known": False,
}
#: The plot's panels: a column of the rows and its title (panels of columns no row has are left out).
PANELS = (
    ("macro_f1", "query macro-F1"),
    ("marker_agreement", "marker agreement"),
    ("auroc_novel", "novel-type AUROC of 1 − confidence"),
    ("auroc_novel_1-novelty", "novel-type AUROC of celltyper's novelty"),
)
NOTES = (
    "Per-class F1 and predicted compositions are in results.json. Timings are wall-clock on a shared 2-core CPU: "
    "indicative only."
)


def save_task_rows(out: str | Path, task: str, rows: list[dict], command: str, settings: dict) -> Path:
    """Write ``<out>/rows/<task>.json``: the task's rows with the command and settings that produced them."""
    path = Path(out) / "rows" / f"{task}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "settings": settings, "rows": rows}
    path.write_text(json.dumps(record, indent=1, default=float))
    return path


def plot_transfer(rows: list[dict], out: Path) -> Path:
    """``transfer_benchmark.png``: one panel of bars (task × method) per score of :data:`PANELS` the rows have."""
    frame = pd.DataFrame(rows)
    panels = [(column, title) for column, title in PANELS if column in frame]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (column, title) in zip(axes[0], panels, strict=True):
        table = frame.dropna(subset=[column]).pivot_table(index="task", columns="method", values=column)
        table.plot.bar(ax=ax, rot=15)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "transfer_benchmark.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_transfer_report(out: str | Path) -> Path:
    """Write ``results.json``, ``report.md`` and the plot of every task whose rows are in ``<out>/rows``.

    Returns the path of ``report.md``.
    """
    out = Path(out)
    records = {path.stem: json.loads(path.read_text()) for path in sorted((out / "rows").glob("*.json"))}
    rows = [row for task in TRANSFER_TASKS if task in records for row in records[task]["rows"]]
    plot_transfer(rows, out)
    return write_results(
        rows,
        out,
        title=TITLE,
        command="; ".join(dict.fromkeys(record["command"] for record in records.values())),
        columns=COLUMNS,
        higher_is_better=HIGHER_IS_BETTER,
        group_by=("task",),
        settings={task: record["settings"] for task, record in records.items()},
        notes=NOTES,
    )
