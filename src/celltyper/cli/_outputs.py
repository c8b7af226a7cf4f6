"""The files a run leaves in its ``--out`` folder, written from objects of the Python API.

``celltyper prepare`` / ``train`` (from their settings) and ``celltyper demo`` (from the models it builds with the
Python API) write the same artefacts through these functions: saved models, ``metrics.json``, figures, tables.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from celltyper import _keys as keys
from celltyper import pl
from celltyper.model import CellTypeTransformer, CountVAE
from celltyper.pl._utils import finish
from celltyper.pp import PrepareSummary
from celltyper.pp._prepare import MIN_CELLS_UMAP
from celltyper.train import evaluate_classifier, evaluate_predictions, last_epoch_values

from ._io import write_json

logger = logging.getLogger(__name__)


def write_prepared(adata: AnnData, summary: PrepareSummary, out: Path, colors: list[str]) -> dict[str, Path]:
    """The prepared h5ad, ``prepare_summary.json``, QC violins and (when ``pp.prepare`` made one) a UMAP."""
    written = {
        "prepared": out / "prepared.h5ad",
        "summary": write_json(summary.to_dict(), out / "prepare_summary.json"),
        "qc_violin": out / "figures" / "qc_violin.png",
    }
    pl.qc_violin(adata, save=written["qc_violin"])
    if "X_umap" in adata.obsm and colors:  # pp.prepare skips the UMAP of fewer than MIN_CELLS_UMAP cells
        written["umap"] = out / "figures" / "umap.png"
        pl.umap(adata, colors, save=written["umap"])
    plt.close("all")
    adata.write_h5ad(written["prepared"])
    return written


def write_transformer_run(
    model: CellTypeTransformer, adata: AnnData, test: np.ndarray, labels_key: str, out: Path
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Save a trained transformer, its training curves, the split, the held-out evaluation and feature importance.

    ``adata`` holds every cell, ``test`` the positions of the held-out ones (the others trained the model). Returns
    the paths written and the metrics (also written as ``metrics.json``).
    """
    written = {"model": out / "model", "split": out / "split.csv"}
    model.save(written["model"], overwrite=True, save_anndata=True)
    figures = out / "figures"
    written["training_curves"] = figures / "training_curves.png"
    pl.training_curves(model, save=written["training_curves"])
    split = pd.Series("train", index=adata.obs_names, name="split")
    split.iloc[test] = "test"
    split.to_csv(written["split"])
    metrics: dict[str, Any] = {"model": "transformer", "n_train": adata.n_obs - len(test), "n_test": len(test)}
    metrics["history"] = last_epoch_values(model.history)
    if len(test):
        held_out = adata[test].copy()
        evaluation = evaluate_classifier(model, held_out, labels_key)
        metrics["test"] = evaluation.metrics
        for name, figure in evaluation.figures.items():
            finish(figure, figures / f"{name}.png")
        frame = held_out.obs[[labels_key, keys.prediction_key(), keys.confidence_key()]]
        written["test_predictions"] = out / "test_predictions.csv"
        frame.to_csv(written["test_predictions"])
        print(
            f"held-out {len(test)} cells: accuracy {metrics['test']['accuracy']:.3f}, "
            f"macro-F1 {metrics['test']['macro_f1']:.3f}, ECE {metrics['test']['ece']:.3f}"
        )
    written["importance"] = _importance_figures(model, figures / "importance")
    written["metrics"] = write_json(metrics, out / "metrics.json")
    plt.close("all")
    return written, metrics


def _importance_figures(model: CellTypeTransformer, folder: Path) -> Path:
    """One feature-importance figure per cell type that a reference cell is predicted as, in ``folder``."""
    for label in model.cell_types:
        safe = "".join(c if c.isalnum() else "_" for c in str(label))
        try:
            importance = model.get_feature_importance(str(label))
        except ValueError as error:  # no reference cell is predicted as this label
            logger.warning("no feature importance for %s: %s", label, error)
            continue
        pl.feature_importance(importance, title=f"genes driving {label}", save=folder / f"{safe}.png")
        plt.close("all")
    return folder


def write_vae_run(
    model: CountVAE, adata: AnnData, out: Path, labels_key: str | None, colors: list[str], seed: int, umap: bool
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Save a trained CountVAE, its training curves, the kNN accuracy of the labels in its latent space, a UMAP.

    The latent positions are written to ``adata.obsm["X_celltyper"]`` (and their UMAP, with ``umap``, to
    ``obsm["X_umap_celltyper"]``). Returns the paths written and the metrics (also written as ``metrics.json``).
    """
    from celltyper.benchmark import knn_accuracy  # the harness is imported only by the runs that score a latent space

    written = {"model": out / "model"}
    model.save(written["model"], overwrite=True, save_anndata=False)
    latent = keys.latent_key()
    adata.obsm[latent] = model.get_latent_representation()
    metrics: dict[str, Any] = {"model": "vae", "history": last_epoch_values(model.history), "latent": {}}
    if labels_key is not None:
        labels = adata.obs[labels_key].astype(str).to_numpy()
        metrics["latent"]["knn_accuracy"] = knn_accuracy(adata.obsm[latent], labels, seed=seed)
    figures = out / "figures"
    written["training_curves"] = figures / "training_curves.png"
    pl.training_curves(model, save=written["training_curves"])
    if umap and enough_cells_to_embed(adata.n_obs):
        embedded = adata.copy()
        sc.pp.neighbors(embedded, use_rep=latent, random_state=seed)
        sc.tl.umap(embedded, random_state=seed)
        adata.obsm["X_umap_celltyper"] = embedded.obsm["X_umap"]
        if colors:
            written["umap"] = figures / "umap_latent.png"
            pl.umap(embedded, colors, save=written["umap"])
    written["metrics"] = write_json(metrics, out / "metrics.json")
    if "knn_accuracy" in metrics["latent"]:
        print(f"kNN accuracy of {labels_key} in the latent space: {metrics['latent']['knn_accuracy']:.3f}")
    plt.close("all")
    return written, metrics


def write_evaluation(
    adata: AnnData, labels_key: str, probabilities: pd.DataFrame, out: Path
) -> tuple[dict[str, Path], dict[str, Any]]:
    """``metrics.json``, the confusion matrix and the per-class F1 of the predictions in ``adata.obs``."""
    metrics = evaluate_predictions(adata, labels_key, probabilities)
    written = {
        "confusion_matrix": out / "figures" / "confusion_matrix.png",
        "f1_per_class": out / "figures" / "f1_per_class.png",
        "metrics": write_json(metrics, out / "metrics.json"),
    }
    pl.confusion_matrix(adata, labels_key, save=written["confusion_matrix"])
    pl.f1_bars(adata, labels_key, save=written["f1_per_class"])
    plt.close("all")
    return written, metrics


def enough_cells_to_embed(n_cells: int) -> bool:
    """Whether ``n_cells`` are enough for a neighbour graph and UMAP; if not, say that they are skipped."""
    if n_cells >= MIN_CELLS_UMAP:
        return True
    print(f"no UMAP: {n_cells} cells are fewer than the {MIN_CELLS_UMAP} a neighbour graph and UMAP need")
    return False
