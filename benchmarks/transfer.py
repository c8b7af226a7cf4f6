"""Label transfer: celltyper.tl.transfer_labels vs SCANVI (scArches), logistic regression and kNN on the scVI latent.

Every method runs in this one process on the same reference / query cells and the same genes (the reference's
``--n-top-genes`` highly variable genes, seurat_v3), with the same epochs for reference training and query mapping.
Tasks:

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
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
import scvi
from anndata import AnnData
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

import celltyper as ct
from celltyper.benchmark import classification_metrics, expected_calibration_error, load_real_dataset, write_results

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


# --- data ---------------------------------------------------------------------------------------------------------
def kang_split(drop: str | None = None) -> tuple[AnnData, AnnData]:
    """Kang control (reference, optionally without type ``drop``) and stimulated (query) cells."""
    adata = ct.datasets.kang_ifnb()
    reference = adata[adata.obs["condition"] == "control"].copy()
    if drop is not None:
        reference = reference[reference.obs["cell_type"] != drop].copy()
    return reference, adata[adata.obs["condition"] == "stimulated"].copy()


def kang_donor_split(data_dir) -> tuple[AnnData, AnnData]:
    """Kang 8 control donors: the first 4 donors (sorted by name) are the reference, the other 4 the query."""
    adata = load_real_dataset("kang_8donors", data_dir)
    donors = sorted(adata.obs["donor"].astype(str).unique())
    in_reference = adata.obs["donor"].astype(str).isin(donors[:4]).to_numpy()
    return adata[in_reference].copy(), adata[~in_reference].copy()


def zheng_split(data_dir) -> tuple[AnnData, AnnData]:
    """Zheng sorted PBMC (reference) and frozen donor A (query, unlabelled)."""
    return ct.datasets.zheng_sorted(), load_real_dataset("zheng_donor_a", data_dir)


def reference_genes(reference: AnnData, n_top_genes: int) -> pd.Index:
    """The reference's highly variable genes (seurat_v3 on counts) — the genes every method sees."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hvg = sc.pp.highly_variable_genes(
            reference, n_top_genes=n_top_genes, flavor="seurat_v3", layer="counts", inplace=False
        )
    return reference.var_names[hvg["highly_variable"].to_numpy()]


def on_genes(adata: AnnData, genes: pd.Index) -> AnnData:
    """``adata`` on ``genes`` (zero-filled where missing), counts in X and layers['counts'], obs kept."""
    aligned, _ = ct.tl.align_genes(adata, AnnData(var=pd.DataFrame(index=genes)), layer="counts", min_gene_overlap=0)
    return aligned


def log_normalized(adata: AnnData) -> np.ndarray:
    """log1p(1e4 · counts / library), dense."""
    out = sc.pp.normalize_total(adata, target_sum=1e4, layer="counts", inplace=False)["X"]
    return np.log1p(np.asarray(out.todense()) if hasattr(out, "todense") else out)


# --- methods: each returns (classes, probabilities of the query cells) --------------------------------------------
def run_celltyper(reference, query, labels_key, batch_key, args, classifier="linear"):  # transfer_labels' default
    query = query.copy()
    result = ct.tl.transfer_labels(
        reference,
        query,
        labels_key,
        layer="counts",
        batch_key=batch_key,
        classifier=classifier,
        n_top_genes=args.n_top_genes,
        max_epochs=args.epochs,
        query_max_epochs=args.query_epochs,
        train_kwargs={"batch_size": args.batch_size},
    )
    confidence, novelty = query.obs["celltyper_confidence"].to_numpy(), query.obs["celltyper_novelty"].to_numpy()
    extra = {
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
    return list(result.probabilities.columns), result.probabilities.to_numpy(), extra


def _scvi_reference(reference, batch_key, args):
    scvi.settings.seed = 0
    scvi.model.SCVI.setup_anndata(reference, layer="counts", batch_key=batch_key)
    model = scvi.model.SCVI(reference, n_latent=20)
    model.train(
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        plan_kwargs={"n_epochs_kl_warmup": max(1, args.epochs // 2)},
        enable_progress_bar=False,
    )
    return model


def _query_batches(query, batch_key):
    query.obs["_batch"] = ("query:" + query.obs[batch_key].astype(str)) if batch_key else "query"


def run_scanvi(reference, query, labels_key, batch_key, args):
    reference, query = reference.copy(), query.copy()
    reference.obs["_batch"] = reference.obs[batch_key].astype(str) if batch_key else "reference"
    reference.obs["_labels"] = reference.obs[labels_key].astype(str)
    scvi.settings.seed = 0
    scvi.model.SCVI.setup_anndata(reference, layer="counts", batch_key="_batch", labels_key="_labels")
    vae = scvi.model.SCVI(reference, n_latent=20, encode_covariates=True)
    vae.train(
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        plan_kwargs={"n_epochs_kl_warmup": max(1, args.epochs // 2)},
        enable_progress_bar=False,
    )
    model = scvi.model.SCANVI.from_scvi_model(vae, unlabeled_category="Unknown", labels_key="_labels")
    model.train(max_epochs=max(1, args.epochs // 2), batch_size=args.batch_size, enable_progress_bar=False)
    _query_batches(query, batch_key)
    query.obs["_labels"] = "Unknown"
    query_model = scvi.model.SCANVI.load_query_data(query, model)
    query_model.train(
        max_epochs=args.query_epochs,
        batch_size=args.batch_size,
        plan_kwargs={"weight_decay": 0.0},
        enable_progress_bar=False,
    )
    probabilities = query_model.predict(query, soft=True)
    return list(probabilities.columns), probabilities.to_numpy(), {}


def run_knn_scvi(reference, query, labels_key, batch_key, args):
    reference, query = reference.copy(), query.copy()
    reference.obs["_batch"] = reference.obs[batch_key].astype(str) if batch_key else "reference"
    scvi.settings.seed = 0
    scvi.model.SCVI.setup_anndata(reference, layer="counts", batch_key="_batch")
    vae = scvi.model.SCVI(reference, n_latent=20, encode_covariates=True)
    vae.train(
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        plan_kwargs={"n_epochs_kl_warmup": max(1, args.epochs // 2)},
        enable_progress_bar=False,
    )
    _query_batches(query, batch_key)
    query_model = scvi.model.SCVI.load_query_data(query, vae)
    query_model.train(
        max_epochs=args.query_epochs,
        batch_size=args.batch_size,
        plan_kwargs={"weight_decay": 0.0},
        enable_progress_bar=False,
    )
    knn = KNeighborsClassifier(n_neighbors=15).fit(
        vae.get_latent_representation(), reference.obs[labels_key].astype(str)
    )
    return list(knn.classes_), knn.predict_proba(query_model.get_latent_representation(query)), {}


def run_logreg(reference, query, labels_key, batch_key, args, C=1.0, class_weight=None):
    model = LogisticRegression(max_iter=1000, C=C, class_weight=class_weight).fit(
        log_normalized(reference), reference.obs[labels_key].astype(str)
    )
    return list(model.classes_), model.predict_proba(log_normalized(query)), {}


def run_logreg_unshifted(reference, query, labels_key, batch_key, args, **logreg_kwargs):
    """Logistic regression without the genes celltyper leaves out (max_gene_shift=0.25): an ablation."""
    shifted = ct.tl.shifted_genes(reference.X, query.X, reference.var_names, 0.25)
    keep = ~reference.var_names.isin(shifted)
    return run_logreg(reference[:, keep].copy(), query[:, keep].copy(), labels_key, batch_key, args, **logreg_kwargs)


METHODS = {
    "celltyper": run_celltyper,
    "SCANVI (scArches)": run_scanvi,
    "kNN on scVI": run_knn_scvi,
    "logreg": run_logreg,
    "logreg, shifted genes removed": run_logreg_unshifted,
    # The same, class-balanced and 100 times more regularised.
    "logreg (balanced, C=0.01), shifted genes removed": partial(run_logreg_unshifted, C=0.01, class_weight="balanced"),
    # transfer_labels with its other classifiers (the VAE's, CellTypeTransformer): on request.
    "celltyper (classifier=vae)": partial(run_celltyper, classifier="vae"),
    "celltyper (classifier=transformer)": partial(run_celltyper, classifier="transformer"),
}
DEFAULT_METHODS = [name for name in METHODS if not name.startswith("celltyper (classifier=")]


# --- tasks ----------------------------------------------------------------------------------------------------------
def run_methods(reference, query, labels_key, batch_key, args):
    """Yield (method, classes, probabilities, extra, seconds) for every method, on the same genes."""
    genes = reference_genes(reference, args.n_top_genes)
    # celltyper selects the same genes itself (n_top_genes); the baselines get them here.
    aligned_reference, aligned_query = on_genes(reference, genes), on_genes(query, genes)
    for name, method in METHODS.items():
        if name not in args.methods:
            continue
        start = time.perf_counter()
        if name.startswith("celltyper"):
            classes, probabilities, extra = method(reference, query, labels_key, batch_key, args)
        else:
            classes, probabilities, extra = method(aligned_reference, aligned_query, labels_key, batch_key, args)
        seconds = time.perf_counter() - start
        logging.info("%s done in %.0f s", name, seconds)
        yield name, classes, probabilities, extra, seconds


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
    reference, query = zheng_split(args.data)
    markers = {k: [g for g in v if g in query.var_names] for k, v in LINEAGE_MARKERS.items()}
    expression = pd.DataFrame(log_normalized(query), index=query.obs_names, columns=query.var_names)
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
        reference, query = kang_split(drop=dropped)
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
        return labelled_task(TASK_TITLES[task], *kang_split(), "cell_type", None, args)
    if task == "kang_8donors":
        return labelled_task(TASK_TITLES[task], *kang_donor_split(args.data), "cell_type", "donor", args)
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
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=list(METHODS))
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
