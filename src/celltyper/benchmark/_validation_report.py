"""The validation suite's report: ``results.json``, ``report.md``, the figures, and the docs page's section."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._report import package_versions, replace_section, source_commit
from ._validation_runs import METHODS
from ._validation_tables import novel_type_table, tradeoff, transfer_table


def _plot_transfers(rows: pd.DataFrame, path: Path) -> None:
    transfers = rows[rows["kind"] != "novel type"]
    means = transfers.groupby(["transfer", "method"], sort=False)["macro_f1"].agg(["mean", "min", "max"]).unstack()
    order = list(dict.fromkeys(transfers["transfer"]))
    methods = [m for m in METHODS if m in means["mean"]]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(order) + 1.5))
    height = 0.8 / len(methods)
    for i, method in enumerate(methods):
        y = np.arange(len(order)) + i * height
        mean = means["mean"][method].reindex(order)
        spread = np.clip(
            [mean - means["min"][method].reindex(order), means["max"][method].reindex(order) - mean], 0, None
        )
        ax.barh(y, mean, height, xerr=spread, label=method, capsize=2)
    ax.set_yticks(np.arange(len(order)) + 0.4 - height / 2, order, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel('macro-F1 ("Unknown" a miss), mean and range over seeds')
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_tradeoff(curves: pd.DataFrame, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for rule, curve in curves.groupby("rule", sort=False):
        for ax, cost in zip(axes, ("worst transfer Unknown", "worst type Unknown"), strict=True):
            ax.plot(100 * curve[cost], 100 * curve["left-out type caught"], marker=".", label=rule)
            ax.set_xlabel(f"{cost} (% of known cells, closed-set transfers)")
    for ax in axes:
        ax.axvline(2 if ax is axes[0] else 5, color="grey", lw=0.8, ls="--")
        ax.set_ylabel("left-out type called Unknown (%, mean)")
        ax.set_xscale("symlog", linthresh=1)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(frame.columns))) + "|"
    return "\n".join(
        [header, rule, *("| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False))]
    )


def write_suite_report(
    rows: pd.DataFrame, out_dir: str | Path, command: str, docs_page: str | Path | None = None
) -> Path:
    """Write ``results.json``, ``report.md``, ``transfers.png`` and ``tradeoff.png``; refresh ``docs_page``'s table.

    ``docs_page`` gets the report's body between its ``<!-- validation-suite -->`` and ``<!-- /validation-suite -->``
    lines.
    """
    out = Path(out_dir)
    transfers, transfer_summary = transfer_table(rows)
    novel, novel_summary = novel_type_table(rows) if (rows["kind"] == "novel type").any() else (None, {})
    curves = tradeoff(out, rows)
    _plot_transfers(rows, out / "transfers.png")
    if not curves.empty and curves["left-out type caught"].notna().any():
        _plot_tradeoff(curves, out / "tradeoff.png")
    versions = package_versions()
    meta = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": versions,
        "commit": source_commit(),
    }
    results = {
        **meta,
        "transfer_summary": transfer_summary,
        "novel_type_summary": novel_summary,
        "tradeoff": curves.to_dict("records"),
        "rows": rows.to_dict("records"),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))

    s = transfer_summary
    body = [
        f"Command: `{command}`  ",
        f"Date: {meta['date']}; commit {meta['commit']}; {meta['machine']}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "",
        "### Transfers (query types all in the reference)",
        "",
        'macro-F1 over the query\'s types with ≥ 10 cells, "Unknown" a miss; mean (range) over seeds '
        f"{sorted(set(rows['seed']))}. Difference = celltyper − logistic regression, paired by seed.",
        "",
        _markdown(transfers),
        "",
        f"**Suite:** mean difference {s['mean_difference']:+.3f}; worst transfer {s['worst_transfer']} "
        f"({s['worst_difference']:+.3f}; worst single seed {s['worst_single_seed_difference']:+.3f}); "
        f"{s['transfers_within_0.005']} of {s['n_transfers']} transfers within −0.005 of logistic regression. "
        f"celltyper called at most {100 * s['worst_unknown']:.1f} % of a query Unknown, and at most "
        f"{100 * s['worst_type_unknown']:.1f} % of one type.",
        "",
        "![transfers](transfers.png)",
        "",
    ]
    if novel is not None:
        summary = "; ".join(
            f"{name}: mean {v['mean_auroc']:.3f}, worst {v['worst_auroc']:.3f}" for name, v in novel_summary.items()
        )
        body += [
            "### A type the reference lacks (leave one type out)",
            "",
            "AUROC: how well a score ranks the left-out type's query cells above the others. Then what each "
            'method\'s default "Unknown" calls catch, and the worst share of a known type (≥ 20 cells) they cost.',
            "",
            _markdown(novel),
            "",
            f"**AUROC over every left-out type:** {summary}.",
            "",
        ]
    if not curves.empty and (out / "tradeoff.png").exists():
        body += [
            "### The price of catching novel types",
            "",
            "Each rule at each threshold: the worst closed-set transfer's share of cells called Unknown (mean over "
            "seeds), the worst share of one known type, and the mean share of the left-out type caught.",
            "",
            "![trade-off](tradeoff.png)",
            "",
            _markdown(curves.round(3)),
            "",
        ]
    report = "\n".join(["---", "orphan: true", "---", "", "# Validation suite", "", *body])
    (out / "report.md").write_text(report.replace("\n### ", "\n## "))  # the docs page nests them one level deeper
    if docs_page is not None:
        link = Path(os.path.relpath(out, Path(docs_page).parent)).as_posix()
        section = "\n".join(body).replace("](transfers.png)", f"]({link}/transfers.png)")
        replace_section(docs_page, "validation-suite", section.replace("](tradeoff.png)", f"]({link}/tradeoff.png)"))
    return out / "report.md"
