"""The documentation page of a benchmark run, generated from its ``results.json`` so that it shows measured numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ._report import markdown_table
from ._run import COLUMNS, FAIRNESS, HIGHER_IS_BETTER

#: Methods that are celltyper's own; the others are the anchors.
CELLTYPER_METHODS = ("countvae_nb", "countvae_zinb", "countvae_gaussian", "transformer", "transfer_labels")


def _verdict(group: pd.DataFrame, column: str) -> str | None:
    """One sentence: celltyper's best against the best anchor on ``column`` (higher is better)."""
    if column not in group or group[column].isna().all():
        return None
    scored = group.dropna(subset=[column])
    ours = scored[scored["method"].isin(CELLTYPER_METHODS)]
    anchors = scored[~scored["method"].isin(CELLTYPER_METHODS)]
    if ours.empty or anchors.empty:
        return None
    best_ours, best_anchor = ours.loc[ours[column].idxmax()], anchors.loc[anchors[column].idxmax()]
    difference = best_ours[column] - best_anchor[column]
    word = "ahead of" if difference > 0 else ("level with" if difference == 0 else "behind")
    return (
        f"{column}: celltyper's best, `{best_ours['method']}` ({best_ours[column]:.3f}), is {word} the best anchor, "
        f"`{best_anchor['method']}` ({best_anchor[column]:.3f}), by {difference:+.3f}."
    )


def _scale_section(scale_dir: Path, page: Path) -> list[str]:
    """Markdown of a ``benchmarks/scale.py`` run: its command, the table of rows and the fitted exponents."""
    scale = json.loads((scale_dir / "scale.json").read_text())
    link = Path(os.path.relpath(scale_dir, page.parent)).as_posix()
    lines = [
        "## Scale: a million cells on one machine",
        "",
        "Simulated counts (2,000 genes) in sparse `.h5ad` files, every (method, size) in its own process; details on "
        f"the [scale page](scale.md). Measured on {scale['machine']}, with:",
        "",
        "```bash",
        scale["command"],
        "```",
        "",
        "| method | cells | seconds (one epoch / one pass) | cells / s | peak RSS (GiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in sorted(scale["rows"], key=lambda r: (r["method"], r["n_cells"])):
        seconds = row.get("seconds_per_epoch", row.get("seconds"))
        lines.append(
            f"| `{row['method']}` | {row['n_cells']:,} | {seconds:.1f} | {row['cells_per_s']:,.0f} | "
            f"{row['peak_rss_gib']:.2f} |"
        )
    exponents = [f"`{m}` {v:.2f}" for m, v in scale["exponents"].items() if v is not None]
    lines += ["", f"Log-log slope of time against cells: {', '.join(exponents)}.", ""] if exponents else [""]
    return [*lines, f"![time and peak memory against cells]({link}/scale.png)", ""]


def write_docs_page(results_dir: str | Path, page: str | Path, scale_dir: str | Path | None = None) -> Path:
    """Write ``page`` (markdown for the docs) from ``results_dir/results.json`` and the PNGs next to it.

    Parameters
    ----------
    results_dir
        The ``out`` folder of a :func:`~celltyper.benchmark.run_benchmark` run.
    page
        Where to write the page; figures are linked relative to it.
    scale_dir
        The ``--out`` folder of a ``benchmarks/scale.py`` run (``scale.json``, ``scale.png``): adds its table.

    Returns
    -------
    The path of the page.
    """
    results_dir, page = Path(results_dir), Path(page)
    results = json.loads((results_dir / "results.json").read_text())
    frame = pd.DataFrame(results["rows"])
    link = Path(os.path.relpath(results_dir, page.parent)).as_posix()
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    settings = ", ".join(f"{k} = {v}" for k, v in results["settings"].items())
    lines = [
        "# Benchmarks",
        "",
        "celltyper against scvi-tools' SCVI and SCANVI and logistic regression (CellTypist's method), every method in "
        "one process on the same cells, genes and budget. This page is generated from the run's `results.json`; "
        "regenerate it with:",
        "",
        "```bash",
        results["command"],
        "```",
        "",
        f"Measured {results['date']} on {results['machine']} at commit {results.get('commit')}; {versions}. "
        f"Budget: {settings}. Best value of each column in bold. Full outputs: [`results.json`]({link}/results.json), "
        f"[`report.md`]({link}/report.md).",
        "",
        f"![summary]({link}/summary.png)",
        "",
    ]
    for task, group in frame.groupby("task", sort=False):
        stem = task.replace("/", "_")
        lines += [f"## {task}", ""]
        columns = [c for c in COLUMNS if c in group and not group[c].isna().all()]
        lines += [markdown_table(group[columns], HIGHER_IS_BETTER), ""]
        verdicts = [v for v in (_verdict(group, "macro_f1"), _verdict(group, "scib_total")) if v]
        lines += [f"- {v}" for v in verdicts] + ([""] if verdicts else [])
        for kind, caption in (("umap", "UMAPs of every latent space"), ("scib", "scib-metrics table")):
            if (results_dir / f"{kind}_{stem}.png").is_file():
                lines += [f"![{caption}]({link}/{kind}_{stem}.png)", ""]
    if scale_dir is not None:
        lines += _scale_section(Path(scale_dir), page)
    lines += [
        "## How the comparison is made",
        "",
        FAIRNESS,
        "Confusion matrices (`confusion_<task>_<method>.png`) and training curves (`curves_<task>_<method>.png`) of "
        "every run are next to `results.json`. Speed and memory at atlas scale are on the [scale page](scale.md); "
        "each model's own design measurements are on its page ([CountVAE](countvae.md), "
        "[CellTypeTransformer](transformer.md), [label transfer](transfer.md)).",
        "",
    ]
    page.write_text("\n".join(lines))
    return page
