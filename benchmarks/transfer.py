"""Label transfer: celltyper.tl.transfer_labels vs SCANVI (scArches), logistic regression and kNN on the scVI latent.

Every method runs in this one process on the same reference / query cells, with the same epochs for reference
training and query mapping. ``transfer_labels`` gets the full data and picks its own genes; the baselines
(``celltyper.benchmark``: SCANVI and kNN on the latent of one SCVI reference model, query mapped by scArches, and
logistic regression) get the reference's ``--n-top-genes`` highly variable genes (seurat_v3). Tasks
(reference / query pairs of ``celltyper.benchmark._pairs``):

- ``kang``: Kang IFN-β PBMC (bundled), train on control, annotate stimulated.
- ``kang_8donors``: Kang control PBMC of 8 donors (shared data), train on 4 donors, annotate the other 4.
- ``zheng``: Zheng sorted PBMC (bundled) → frozen donor A (shared data, no labels): predicted composition and the
  share of cells whose predicted lineage (T / B / NK / monocyte) has the highest marker score.
- ``novel``: Kang ctrl → stim with one type removed from the reference: AUROC of (1 − confidence) separating that
  type's query cells from the others, and the share of them called "Unknown".

Writes ``results.json``, ``report.md`` and ``transfer_benchmark.png`` to ``--out``:

    python benchmarks/transfer.py --out runs/transfer [--tasks kang kang_8donors zheng novel] [--epochs 50]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from sklearn.metrics import roc_auc_score

import celltyper as ct
from celltyper.benchmark import METHODS, Budget, Task, classification_metrics, expected_calibration_error, write_results
from celltyper.benchmark._logreg import log_normalized, logreg_probabilities
from celltyper.benchmark._pairs import (
    kang_conditions,
    kang_donors,
    on_genes,
    pair_task,
    reference_genes,
    zheng_to_donor_a,
)

#: Confidence below which a cell counts as "Unknown" (celltyper's default unknown_threshold), for every method.
UNKNOWN_THRESHOLD = 0.5
TASKS = ("kang", "kang_8donors", "zheng", "novel")
#: Marker genes of the four lineages of the Zheng sorted types (scanpy PBMC tutorial markers).
LINEAGE_MARKERS = {
    "T": ["CD3D", "CD3E", "IL7R"],
    "B": ["MS4A1", "CD79A", "CD79B"],
    "NK": ["GNLY", "NKG7", "KLRF1"],
    "monocyte": ["CD14", "LYZ", "FCGR3A"],
}
ZHENG_LINEAGE = {
    "bcells": "B",
    "nk": "NK",
    "monocytes": "monocyte",
    **dict.fromkeys(("memoryt", "regulatoryt", "thelper", "cytotoxict", "naivet", "naivecytotoxic"), "T"),
}


# --- methods: each returns the query cells' probabilities (cells × types) and extra numbers for the report -------
def celltyper(classifier: str) -> Callable:
    """``ct.tl.transfer_labels`` with ``classifier`` on the full reference and query (it picks its own genes)."""

    def run(reference: AnnData, query: AnnData, labels_key: str, batch_key: str | None, args) -> tuple:
        query = query.copy()
        budget = {"max_epochs": args.epochs, "query_max_epochs": args.query_epochs, "n_top_genes": args.n_top_genes}
        train_kwargs = {"batch_size": args.batch_size}
        result = ct.tl.transfer_labels(
            reference, query, labels_key, layer="counts", batch_key=batch_key, classifier=classifier,
            train_kwargs=train_kwargs, **budget,
        )  # fmt: skip
        confidence, novelty = query.obs["celltyper_confidence"].to_numpy(), query.obs["celltyper_novelty"].to_numpy()
        return result.probabilities, {
            "confidence": confidence,
            "unknown": (query.obs["celltyper_prediction"] == "Unknown").to_numpy(),
            # Other confidence-like scores (higher = more like the reference) whose novel-type AUROC is reported too.
            "scores": {"1-novelty": 1 - novelty, "confidence*(1-novelty)": confidence * (1 - novelty)},
            "gene_overlap": result.gene_overlap,
            "temperature": result.calibration.temperature,
            "ece_heldout_before": result.calibration.ece_before,
            "ece_heldout_after": result.calibration.ece_after,
            "n_shifted_genes_excluded": len(result.excluded_genes),
        }

    return run


def logreg(C: float = 1.0, class_weight: str | None = None, without_shifted: bool = False) -> Callable:
    """The benchmark's logistic regression; ``without_shifted``: less the genes transfer_labels leaves out (0.25)."""

    def run(task: Task, budget: Budget, cache: dict) -> tuple:
        reference, query = task.reference, task.query
        if without_shifted:
            keep = ~reference.var_names.isin(ct.tl.shifted_genes(reference.X, query.X, reference.var_names, 0.25))
            reference, query = reference[:, keep].copy(), query[:, keep].copy()
        return logreg_probabilities(reference, query, task.labels_key, C=C, class_weight=class_weight), {}

    return run


def harness(name: str) -> Callable:
    """A method of ``celltyper.benchmark.METHODS`` (SCANVI and SCVI share one SCVI reference model per task)."""
    return lambda task, budget, cache: (METHODS[name][0](task, budget, cache).probabilities, {})


#: Methods on the full data (celltyper) or, through a benchmark Task, on the reference's HVGs (the baselines).
METHODS_ON_FULL_DATA = {f"celltyper (classifier={c})": celltyper(c) for c in ("vae", "transformer")}
METHODS_ON_FULL_DATA = {"celltyper": celltyper("linear"), **METHODS_ON_FULL_DATA}
BASELINES = {
    "SCANVI (scArches)": harness("scanvi"),
    "kNN on scVI": harness("scvi"),
    "logreg": logreg(),
    "logreg, shifted genes removed": logreg(without_shifted=True),
    # The same, class-balanced and 100 times more regularised.
    "logreg (balanced, C=0.01), shifted genes removed": logreg(0.01, "balanced", without_shifted=True),
}
ALL_METHODS = [*METHODS_ON_FULL_DATA, *BASELINES]
#: transfer_labels with its other classifiers (the VAE's, CellTypeTransformer) runs on request only.
DEFAULT_METHODS = [name for name in ALL_METHODS if not name.startswith("celltyper (classifier=")]


# --- tasks ----------------------------------------------------------------------------------------------------------
def run_methods(reference, query, labels_key, batch_key, args):
    """Yield (method, classes, probabilities, extra, seconds) for every method, on the same genes."""
    genes = reference_genes(reference, args.n_top_genes)
    task = pair_task("transfer", on_genes(reference, genes), on_genes(query, genes), labels_key, batch_key)
    budget, cache = Budget(args.epochs, args.query_epochs, args.batch_size), {}
    for name in [name for name in ALL_METHODS if name in args.methods]:
        start = time.perf_counter()
        if name in METHODS_ON_FULL_DATA:
            probabilities, extra = METHODS_ON_FULL_DATA[name](reference, query, labels_key, batch_key, args)
        else:
            probabilities, extra = BASELINES[name](task, budget, cache)
        seconds = time.perf_counter() - start
        logging.info("%s done in %.0f s", name, seconds)
        yield name, list(probabilities.columns), probabilities.to_numpy(), extra, seconds


def _confidences(probabilities: np.ndarray, extra: dict) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Out of ``extra``: the confidence (celltyper's own, else the top probability), which cells are "Unknown"
    (celltyper's calls, else confidence below :data:`UNKNOWN_THRESHOLD`) and further scores to report AUROCs of."""
    confidence = extra.pop("confidence", probabilities.max(1))
    return confidence, extra.pop("unknown", confidence < UNKNOWN_THRESHOLD), extra.pop("scores", {})


def labelled_task(task, reference, query, labels_key, batch_key, args) -> list[dict]:
    truth = query.obs[labels_key].astype(str).to_numpy()
    rows = []
    for name, classes, probabilities, extra, seconds in run_methods(reference, query, labels_key, batch_key, args):
        _, unknown, _ = _confidences(probabilities, extra)
        extra["unknown_known"] = float(unknown.mean())
        predicted = np.asarray(classes, dtype=object)[probabilities.argmax(1)]
        scores = classification_metrics(truth, predicted, labels=sorted(set(truth)))
        rows.append(
            {
                "task": task,
                "method": name,
                "macro_f1": scores["macro_f1"],
                "accuracy": scores["accuracy"],
                "ece_query": expected_calibration_error(truth, probabilities, classes),
                "seconds": seconds,
                "per_class_f1": scores["per_class_f1"],
                **extra,
            }
        )
    return rows


def zheng_task(args) -> list[dict]:
    reference, query = zheng_to_donor_a(args.data)
    markers = {k: [g for g in v if g in query.var_names] for k, v in LINEAGE_MARKERS.items()}
    expression = pd.DataFrame(log_normalized(query).toarray(), index=query.obs_names, columns=query.var_names)
    z = (expression - expression.mean()) / expression.std().replace(0, 1)
    marker_lineage = pd.DataFrame({k: z[v].mean(1) for k, v in markers.items()}).idxmax(axis=1).to_numpy()
    rows = []
    for name, classes, probabilities, extra, seconds in run_methods(reference, query, "cell_type", None, args):
        _, unknown, _ = _confidences(probabilities, extra)
        extra["unknown_fraction"] = float(unknown.mean())
        predicted = np.asarray(classes, dtype=object)[probabilities.argmax(1)]
        lineage = pd.Series(predicted).map(ZHENG_LINEAGE).to_numpy()
        composition = pd.Series(predicted).value_counts(normalize=True).round(3).to_dict()
        rows.append(
            {
                "task": "zheng_sorted→donorA",
                "method": name,
                "marker_agreement": float((lineage == marker_lineage).mean()),
                "seconds": seconds,
                "composition": composition,
                **extra,
            }
        )
    return rows


def novel_task(args) -> list[dict]:
    rows = []
    for dropped in args.novel_types:
        reference, query = kang_conditions(drop=dropped)
        novel = (query.obs["cell_type"].astype(str) == dropped).to_numpy()
        for name, _classes, probabilities, extra, seconds in run_methods(reference, query, "cell_type", None, args):
            confidence, unknown, scores = _confidences(probabilities, extra)
            rows.append(
                {
                    "task": f"novel type ({dropped} left out)",
                    "method": name,
                    "auroc_novel": float(roc_auc_score(novel, 1 - confidence)),
                    "unknown_novel": float(unknown[novel].mean()),
                    "unknown_known": float(unknown[~novel].mean()),
                    "seconds": seconds,
                    **{f"auroc_novel_{k}": float(roc_auc_score(novel, 1 - v)) for k, v in scores.items()},
                    **extra,
                }
            )
    return rows


def plot(rows: list[dict], out: Path) -> None:
    frame = pd.DataFrame(rows)
    panels = [
        ("macro_f1", "query macro-F1"),
        ("marker_agreement", "marker agreement"),
        ("auroc_novel", "novel-type AUROC of 1 − confidence"),
        ("auroc_novel_1-novelty", "novel-type AUROC of celltyper's novelty"),
    ]
    panels = [(c, t) for c, t in panels if c in frame]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (column, title) in zip(axes[0], panels, strict=True):
        table = frame.dropna(subset=[column]).pivot_table(index="task", columns="method", values=column)
        table.plot.bar(ax=ax, rot=15)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "transfer_benchmark.png", dpi=120)


TASK_TITLES = {
    "kang": "kang ctrl→stim",
    "kang_8donors": "kang 4 donors→4 donors",
    "zheng": "zheng sorted→donor A",
    "novel": "novel type",
}


def run_task(task: str, args) -> list[dict]:
    if task == "kang":
        return labelled_task(TASK_TITLES[task], *kang_conditions(), "cell_type", None, args)
    if task == "kang_8donors":
        return labelled_task(TASK_TITLES[task], *kang_donors(args.data), "cell_type", "donor", args)
    if task == "zheng":
        return zheng_task(args)
    return novel_task(args)


def report(out: Path) -> None:
    """Write results.json, report.md and the plot of every task whose rows are in ``out/rows``."""
    records = {path.stem: json.loads(path.read_text()) for path in sorted((out / "rows").glob("*.json"))}
    rows = [row for task in TASKS if task in records for row in records[task]["rows"]]
    plot(rows, out)
    write_results(
        rows,
        out,
        title="Label transfer: celltyper vs SCANVI, kNN on scVI, logistic regression",
        command="; ".join(dict.fromkeys(record["command"] for record in records.values())),
        columns=[
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
        ],
        higher_is_better={
            "macro_f1": True,
            "accuracy": True,
            "ece_query": False,
            "marker_agreement": True,
            "auroc_novel": True,
            "auroc_novel_1-novelty": True,
            "auroc_novel_confidence*(1-novelty)": True,
            "unknown_novel": True,
            "unknown_known": False,
        },
        group_by=("task",),
        settings={task: record["settings"] for task, record in records.items()},
        notes="Per-class F1 and predicted compositions are in results.json. Timings are wall-clock on a shared "
        "2-core CPU: indicative only.",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--data", default=None, help="folder with the shared datasets (default ../shared/data)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--epochs", type=int, default=50, help="reference training epochs (every model)")
    parser.add_argument("--query-epochs", type=int, default=50, help="query mapping epochs (every model)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-top-genes", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=ALL_METHODS)
    parser.add_argument("--novel-types", nargs="+", default=["B", "NK"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    warnings.filterwarnings("ignore")

    # Each task's rows are kept in --out/rows/<task>.json, so tasks can run as separate (shorter) commands into the
    # same folder; the report covers every task found there.
    command = "python " + " ".join(sys.argv)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "tasks", "methods", "data")}
    (args.out / "rows").mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        rows = run_task(task, args)
        record = {"command": command, "settings": settings, "rows": rows}
        (args.out / "rows" / f"{task}.json").write_text(json.dumps(record, indent=1, default=float))
    report(args.out)


if __name__ == "__main__":
    main()
