"""Run label transfer and its anchors on the validation suite, score every run, and summarise by worst case and mean.

Methods, all on the same reference and query cells:

- ``celltyper``: :func:`celltyper.tl.transfer_labels` with its defaults (or a variant's keyword arguments).
- ``logreg``: scikit-learn's ``LogisticRegression(max_iter=1000)`` on log1p(CP10k) of every gene the two share
  (CellTypist's method); its "Unknown" is CellTypist's: top probability below 0.5.
- ``scanvi``: SCANVI from an SCVI reference model, query mapped by scArches, on the reference's 2,000 most variable
  shared genes; its "Unknown" score is 1 − its top probability.

Transfers are scored by macro-F1 over the query's types with at least 10 cells, "Unknown" counting as a miss;
leave-one-type-out tasks by how well each method's score ranks the left-out type's cells first (AUROC) and by what
its "Unknown" calls catch and cost.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, roc_auc_score

import celltyper as ct
from celltyper._keys import UNKNOWN

from ._methods import Budget, run_logreg, run_scanvi
from ._report import package_versions, replace_section, source_commit
from ._suite import BATCH, LABELS, Transfer, novel_type_transfers, suite_transfers
from ._tasks import Task, make_task

#: Types with fewer query cells are not scored (their F1 is noise); types with fewer are not checked for "Unknown".
MIN_SCORED_CELLS, MIN_CHECKED_CELLS = 10, 20
#: CellTypist's rule: a cell whose top logistic-regression probability is below this is unassigned.
CELLTYPIST_THRESHOLD = 0.5


@dataclass
class Run:
    """One method on one transfer and seed: its scores (``record``) and what each query cell got (``cells``)."""

    record: dict
    cells: pd.DataFrame = field(repr=False)


def transfer_scores(truth: np.ndarray, prediction: np.ndarray) -> dict:
    """Macro-F1 and accuracy ("Unknown" a miss), the share of cells called "Unknown" and the worst type's share."""
    truth, prediction = np.asarray(truth, dtype=object), np.asarray(prediction, dtype=object)
    sizes = pd.Series(truth).value_counts()
    scored = sorted(sizes.index[sizes >= MIN_SCORED_CELLS])
    unknown = pd.Series(prediction == UNKNOWN).groupby(truth).mean()
    checked = sizes.index[sizes >= MIN_CHECKED_CELLS]
    return {
        "macro_f1": float(f1_score(truth, prediction, labels=scored, average="macro", zero_division=0)),
        "accuracy": float((truth == prediction).mean()),
        "unknown": float((prediction == UNKNOWN).mean()),
        "worst_type_unknown": float(unknown[checked].max()) if len(checked) else 0.0,
        "worst_type": str(unknown[checked].idxmax()) if len(checked) else "",
    }


def novel_type_scores(is_novel: np.ndarray, score: np.ndarray, unknown: np.ndarray, truth: np.ndarray) -> dict:
    """How ``score`` ranks the novel cells first (AUROC), and what the ``unknown`` calls catch and cost."""
    known = ~is_novel
    per_type = pd.Series(unknown[known]).groupby(truth[known]).mean()
    sizes = pd.Series(truth[known]).value_counts()
    checked = sizes.index[sizes >= MIN_CHECKED_CELLS]
    return {
        "auroc": float(roc_auc_score(is_novel, score)),
        "novel_called_unknown": float(unknown[is_novel].mean()),
        "known_called_unknown": float(unknown[known].mean()),
        "worst_known_type_unknown": float(per_type[checked].max()) if len(checked) else 0.0,
    }


def as_task(transfer: Transfer, n_top_genes: int | None) -> Task:
    """The transfer as a benchmark :class:`Task`: both sides on their shared genes.

    The task keeps the reference's ``n_top_genes`` most variable shared genes (``None``: all of them); the query's
    batches are named apart from the reference's.
    """
    genes = transfer.reference.var_names.intersection(transfer.query.var_names, sort=False)
    query = transfer.query[:, genes].copy()
    query.obs[BATCH] = "query:" + query.obs[BATCH].astype(str)
    adata = ad.concat([transfer.reference[:, genes], query], label="_side", keys=["reference", "query"])
    adata.obs_names_make_unique()
    is_query = (adata.obs["_side"] == "query").to_numpy()
    return make_task(transfer.name, adata, is_query, LABELS, BATCH, transfer.description, n_top_genes or len(genes))


def run_celltyper(transfer: Transfer, seed: int, variant: dict) -> Run:
    """:func:`celltyper.tl.transfer_labels` as a user calls it, plus ``variant``'s keyword arguments."""
    query = transfer.query.copy()
    start = time.perf_counter()
    result = ct.tl.transfer_labels(
        transfer.reference,
        query,
        LABELS,
        layer="counts",
        batch_key=BATCH,
        random_state=seed,
        progress_bar=False,
        **variant,
    )
    seconds = time.perf_counter() - start
    truth = query.obs[LABELS].astype(str).to_numpy()
    prediction = query.obs["celltyper_prediction"].astype(str).to_numpy()
    best = result.probabilities.idxmax(axis=1).to_numpy()
    cells = pd.DataFrame(
        {
            "truth": truth,
            "prediction": best,
            "confidence": query.obs["celltyper_confidence"].to_numpy(),
            "novelty": query.obs["celltyper_novelty"].to_numpy(),
            "unknown": prediction == UNKNOWN,
        }
    )
    record = {
        **transfer_scores(truth, prediction),
        "argmax_macro_f1": transfer_scores(truth, best)["macro_f1"],
        "seconds": seconds,
        "n_genes_used": query.uns["celltyper"]["n_genes_used"],
    }
    return Run(record, cells)


def run_logistic_regression(transfer: Transfer, seed: int) -> Run:
    """CellTypist's method on every shared gene; "Unknown" below a top probability of 0.5 kept apart."""
    task = as_task(transfer, None)
    output = run_logreg(task, Budget(seed=seed), {})
    probabilities = output.probabilities
    assert probabilities is not None  # a classifier's output
    truth = task.query.obs[LABELS].astype(str).to_numpy()
    best = probabilities.columns.to_numpy()[probabilities.to_numpy().argmax(1)]
    confidence = probabilities.to_numpy().max(1)
    record = {
        **transfer_scores(truth, best),
        "celltypist_unknown": transfer_scores(truth, np.where(confidence < CELLTYPIST_THRESHOLD, UNKNOWN, best)),
        "seconds": output.train_seconds + output.predict_seconds,
    }
    unknown = confidence < CELLTYPIST_THRESHOLD
    cells = pd.DataFrame({"truth": truth, "prediction": best, "confidence": confidence, "unknown": unknown})
    return Run(record, cells)


def run_scanvi_anchor(transfer: Transfer, seed: int, budget: Budget) -> Run:
    """SCANVI (scvi-tools) with scArches query mapping on the reference's 2,000 most variable shared genes."""
    task = as_task(transfer, 2000)
    output = run_scanvi(task, Budget(budget.max_epochs, budget.query_epochs, budget.batch_size, seed), {})
    probabilities = output.probabilities
    assert probabilities is not None  # a classifier's output
    truth = task.query.obs[LABELS].astype(str).to_numpy()
    best = probabilities.columns.to_numpy()[probabilities.to_numpy().argmax(1)]
    record = {**transfer_scores(truth, best), "seconds": output.train_seconds + output.predict_seconds}
    confidence = probabilities.to_numpy().max(1)
    cells = pd.DataFrame(
        {"truth": truth, "prediction": best, "confidence": confidence, "unknown": np.zeros_like(best, bool)}
    )
    return Run(record, cells)


def score_novel_type(transfer: Transfer, run: Run) -> dict:
    """A leave-one-type-out run scored for its left-out type, with each of the method's scores behind "Unknown"."""
    cells = run.cells
    truth = cells["truth"].to_numpy(dtype=object)
    is_novel = truth == transfer.novel_type
    unknown = cells["unknown"].to_numpy()
    scores = {"1 - confidence": novel_type_scores(is_novel, 1 - cells["confidence"].to_numpy(), unknown, truth)}
    if "novelty" in cells:
        scores["novelty"] = novel_type_scores(is_novel, cells["novelty"].to_numpy(), unknown, truth)
    return scores


def _run_method(method: str, transfer: Transfer, seed: int, variant: dict, budget: Budget) -> Run:
    if method == "celltyper":
        return run_celltyper(transfer, seed, variant)
    if method == "logreg":
        return run_logistic_regression(transfer, seed)
    if method == "scanvi":
        return run_scanvi_anchor(transfer, seed, budget)
    raise ValueError(f"Unknown method {method!r}; choose from {METHODS}.")


METHODS = ("celltyper", "logreg", "scanvi")


def run_suite(
    out_dir: str | Path,
    *,
    seeds: Sequence[int],
    transfers: Sequence[str] | None = None,
    novel_sources: Sequence[str] = (),
    methods: Sequence[str] = ("celltyper", "logreg"),
    novel_methods: Sequence[str] = ("celltyper", "logreg"),
    variant: dict | None = None,
    data_dir: str | Path | None = None,
    budget: Budget | None = None,
) -> pd.DataFrame:
    """Run ``methods`` on every transfer and seed, and ``novel_methods`` on every left-out type of ``novel_sources``.

    Each run's scores are appended to ``out_dir/rows.jsonl`` as soon as it finishes (a run already there is skipped,
    so an interrupted suite resumes), and each query cell's truth, prediction, confidence and novelty go to
    ``out_dir/cells/`` for the trade-off curves. Leave-one-type-out runs of celltyper skip the latent model, which
    changes neither its labels nor its scores.

    Returns
    -------
    Every row of ``rows.jsonl``.
    """
    out = Path(out_dir)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    rows_file = out / "rows.jsonl"
    done = {(r["method"], r["transfer"], r["seed"]) for r in _read_rows(rows_file)}
    variant = variant or {}
    budget = budget or Budget()

    def record(run_key: tuple, fields: dict, run: Run) -> None:
        method, name, seed = run_key
        run.cells.to_csv(out / "cells" / f"{method}__{name}__{seed}.csv.gz", index=False)
        with rows_file.open("a") as handle:
            handle.write(json.dumps({"method": method, "transfer": name, "seed": seed, **fields}) + "\n")

    for seed in seeds:
        for transfer in suite_transfers(list(transfers) if transfers else None, data_dir, seed):
            for method in methods:
                if (method, transfer.name, seed) in done:
                    continue
                run = _run_method(method, transfer, seed, variant, budget)
                sizes = {"n_reference": transfer.reference.n_obs, "n_query": transfer.query.n_obs}
                record((method, transfer.name, seed), {"kind": transfer.kind, **sizes, **run.record}, run)
        for source in novel_sources:
            for transfer in novel_type_transfers(source, data_dir, seed):
                for method in novel_methods:
                    if (method, transfer.name, seed) in done:
                        continue
                    run = _run_method(method, transfer, seed, {**variant, "latent": False}, budget)
                    fields = {"kind": "novel type", "source": source, "novel_type": transfer.novel_type}
                    record((method, transfer.name, seed), {**fields, "scores": score_novel_type(transfer, run)}, run)
    return pd.DataFrame(_read_rows(rows_file))


def _read_rows(rows_file: Path) -> list[dict]:
    return [json.loads(line) for line in rows_file.read_text().splitlines()] if rows_file.exists() else []


def _mean_range(values: pd.Series, percent: bool = False) -> str:
    scale, digits = (100, 1) if percent else (1, 3)
    values = values.dropna() * scale
    if values.empty:
        return ""
    if values.size == 1 or np.isclose(values.min(), values.max()):
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ({values.min():.{digits}f}–{values.max():.{digits}f})"


def transfer_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per transfer, mean (range over seeds) of each method's macro-F1, the paired difference and the costs.

    Also the suite's summary: mean and worst difference between celltyper and logistic regression.
    """
    transfers = rows[rows["kind"] != "novel type"]
    wide = transfers.pivot_table(index=["transfer", "seed"], columns="method", values="macro_f1")
    difference = (wide["celltyper"] - wide["logreg"]).rename("difference")
    table = []
    for name in dict.fromkeys(transfers["transfer"]):
        runs = transfers[transfers["transfer"] == name]
        ours, theirs = runs[runs["method"] == "celltyper"], runs[runs["method"] == "logreg"]
        scanvi = runs[runs["method"] == "scanvi"]
        celltypist = pd.DataFrame(list(theirs["celltypist_unknown"])) if "celltypist_unknown" in theirs else None
        table.append(
            {
                "transfer": name,
                "kind": runs["kind"].iloc[0],
                "cells (ref → query)": f"{int(runs['n_reference'].iloc[0]):,} → {int(runs['n_query'].iloc[0]):,}",
                "celltyper": _mean_range(ours["macro_f1"]),
                "logistic regression": _mean_range(theirs["macro_f1"]),
                "difference": _mean_range(difference.loc[name]),
                "SCANVI": _mean_range(scanvi["macro_f1"]) if len(scanvi) else "",
                "celltyper Unknown %": _mean_range(ours["unknown"], percent=True),
                "worst type Unknown %": _mean_range(ours["worst_type_unknown"], percent=True),
                "CellTypist-style Unknown %": _mean_range(celltypist["unknown"], percent=True)
                if celltypist is not None
                else "",
                "seconds (celltyper / logreg)": f"{ours['seconds'].mean():.0f} / {theirs['seconds'].mean():.1f}",
            }
        )
    per_transfer = difference.groupby(level="transfer").mean()
    summary = {
        "mean_difference": float(per_transfer.mean()),
        "worst_transfer": str(per_transfer.idxmin()),
        "worst_difference": float(per_transfer.min()),
        "worst_single_seed_difference": float(difference.min()),
        "transfers_within_0.005": int((per_transfer >= -0.005).sum()),
        "n_transfers": int(per_transfer.size),
        "worst_unknown": float(transfers.loc[transfers["method"] == "celltyper", "unknown"].max()),
        "worst_type_unknown": float(transfers.loc[transfers["method"] == "celltyper", "worst_type_unknown"].max()),
    }
    return pd.DataFrame(table), summary


def novel_type_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per left-out type, mean (range over seeds): each score's AUROC and what each method's "Unknown" calls did."""
    novel = rows[rows["kind"] == "novel type"]
    flat = []
    for _, row in novel.iterrows():
        for score, values in row["scores"].items():
            flat.append(
                {
                    "source": row["source"],
                    "novel_type": row["novel_type"],
                    "seed": row["seed"],
                    "method": row["method"],
                    "score": score,
                    **values,
                }
            )
    flat = pd.DataFrame(flat)
    table = []
    for (source, novel_type), runs in flat.groupby(["source", "novel_type"], sort=False):

        def pick(method, score, column, percent=False, runs=runs):
            chosen = runs[(runs["method"] == method) & (runs["score"] == score)][column]
            return _mean_range(chosen, percent)

        table.append(
            {
                "source": source,
                "left out": novel_type,
                "AUROC celltyper novelty": pick("celltyper", "novelty", "auroc"),
                "AUROC celltyper 1 − confidence": pick("celltyper", "1 - confidence", "auroc"),
                "AUROC logreg 1 − p": pick("logreg", "1 - confidence", "auroc"),
                "AUROC SCANVI 1 − p": pick("scanvi", "1 - confidence", "auroc"),
                "celltyper: left-out called Unknown %": pick("celltyper", "novelty", "novel_called_unknown", True),
                "celltyper: worst known type Unknown %": pick("celltyper", "novelty", "worst_known_type_unknown", True),
                "CellTypist-style: left-out Unknown %": pick("logreg", "1 - confidence", "novel_called_unknown", True),
                "CellTypist-style: worst known type %": pick(
                    "logreg", "1 - confidence", "worst_known_type_unknown", True
                ),
            }
        )
    means = flat.groupby(["method", "score", "source", "novel_type"])["auroc"].mean().groupby(["method", "score"])
    summary = {f"{m} {s}": {"mean_auroc": float(v.mean()), "worst_auroc": float(v.min())} for (m, s), v in means}
    return pd.DataFrame(table).dropna(axis=1, how="all"), summary


def tradeoff(out_dir: str | Path, rows: pd.DataFrame) -> pd.DataFrame:
    """For every rule and threshold: the price of finding novel types.

    The worst transfer's share of known cells called "Unknown" (mean over seeds), its worst type's share, and the mean
    share of the left-out types' cells caught.
    """
    cells_dir = Path(out_dir) / "cells"
    rules = {
        "celltyper novelty >": ("celltyper", "novelty", np.round(np.arange(0.3, 1.0001, 0.05), 2), np.greater),
        "celltyper confidence <": ("celltyper", "confidence", np.round(np.arange(0.0, 0.9001, 0.05), 2), np.less),
        "logreg probability <": ("logreg", "confidence", np.round(np.arange(0.0, 0.9001, 0.05), 2), np.less),
    }
    results = []
    for rule, (method, column, thresholds, compare) in rules.items():
        runs = rows[rows["method"] == method]
        if runs.empty:
            continue
        loaded = [
            (row, pd.read_csv(cells_dir / f"{method}__{row['transfer']}__{row['seed']}.csv.gz"))
            for _, row in runs.iterrows()
        ]
        for threshold in thresholds:
            closed, novel = [], []
            for row, cells in loaded:
                unknown = compare(cells[column].to_numpy(), threshold)
                truth = cells["truth"].to_numpy(dtype=object)
                if row["kind"] == "novel type":
                    novel.append(novel_type_scores(truth == row["novel_type"], unknown, unknown, truth))
                else:
                    closed.append(
                        {"transfer": row["transfer"], **transfer_scores(truth, np.where(unknown, UNKNOWN, truth))}
                    )
            closed = pd.DataFrame(closed).groupby("transfer")[["unknown", "worst_type_unknown"]].mean()
            novel = pd.DataFrame(novel)
            results.append(
                {
                    "rule": rule,
                    "threshold": float(threshold),
                    "worst transfer Unknown": float(closed["unknown"].max()),
                    "worst type Unknown": float(closed["worst_type_unknown"].max()),
                    "left-out type caught": float(novel["novel_called_unknown"].mean()) if len(novel) else np.nan,
                    "known types of LOTO Unknown": float(novel["known_called_unknown"].mean())
                    if len(novel)
                    else np.nan,
                }
            )
    return pd.DataFrame(results)


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
