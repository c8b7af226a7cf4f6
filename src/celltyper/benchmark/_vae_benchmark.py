"""CountVAE (nb / zinb / gaussian) against scvi-tools' SCVI on one dataset: speed, validation loss, kNN accuracy.

The benchmark of ``benchmarks/vae.py``. Every model trains in one process on the same cells, genes, split
(``scvi.settings.seed``), epochs, batch size and KL warm-up (half the epochs), validated every epoch; its row is
scored against SCVI's on the same dataset and reported with :func:`celltyper.benchmark.write_results`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import scvi
from anndata import AnnData

import celltyper as ct
from celltyper.module._vae import GeneLikelihood

from ._measure import EpochTimer
from ._metrics import knn_accuracy
from ._report import write_results
from ._script_output import save_figure
from ._timing import Stopwatch

#: CountVAE's methods → their gene likelihood
COUNTVAE_LIKELIHOODS: dict[str, GeneLikelihood] = {
    "countvae_nb": "nb",
    "countvae_zinb": "zinb",
    "countvae_gaussian": "gaussian",
}
METHODS = ("scvi", *COUNTVAE_LIKELIHOODS)
COLUMNS = [
    "method",
    "seconds_per_epoch",
    "epoch_time_vs_scvi",
    "reconstruction_loss_validation",
    "knn_accuracy",
    "knn_accuracy_minus_scvi",
]
NOTES = (
    "seconds_per_epoch: median over epochs of the training loop alone (validation excluded). "
    "reconstruction_loss_validation: negative log-likelihood per cell on the validation cells; the Gaussian "
    "model's is over log-normalized values, so it is not comparable with the count models'. knn_accuracy: "
    "15-NN classifier of cell_type on the latent, stratified 5-fold CV. See `vae_benchmark.png`."
)


def kl_warmup_epochs(epochs: int) -> int:
    """Epochs of KL warm-up every model gets: half the training, at least one."""
    return max(1, epochs // 2)


def build(method: str, adata: AnnData, batch_key: str):
    """Set up ``adata`` and return the untrained model for ``method``."""
    if method == "scvi":
        scvi.model.SCVI.setup_anndata(adata, layer="counts", batch_key=batch_key)
        return scvi.model.SCVI(adata)  # defaults: zinb, gene dispersion, n_hidden 128, n_latent 10, 1 layer
    ct.CountVAE.setup_anndata(adata, layer="counts", batch_key=batch_key)
    return ct.CountVAE(adata, gene_likelihood=COUNTVAE_LIKELIHOODS[method])


def train_and_score(
    method: str, dataset: str, adata: AnnData, labels_key: str, batch_key: str, epochs: int, batch_size: int
) -> tuple[dict, np.ndarray]:
    """Train one method on a fresh copy of ``adata``; its result row and validation ELBO per epoch."""
    adata = adata.copy()
    scvi.settings.seed = 0
    model = build(method, adata, batch_key)
    timer = EpochTimer()
    with Stopwatch() as training:
        model.train(
            max_epochs=epochs,
            batch_size=batch_size,
            accelerator="cpu",
            check_val_every_n_epoch=1,
            plan_kwargs={"n_epochs_kl_warmup": kl_warmup_epochs(epochs)},
            callbacks=[timer],
            enable_progress_bar=False,
        )
    latent = model.get_latent_representation()
    history = model.history
    row = {
        "dataset": dataset,
        "task": f"{adata.n_obs} cells × {adata.n_vars} genes, batch = {batch_key}",
        "method": method,
        "seconds_per_epoch": float(np.median(timer.seconds)),
        "train_seconds": training.seconds,
        "reconstruction_loss_validation": float(history["reconstruction_loss_validation"].iloc[-1, 0]),
        "knn_accuracy": knn_accuracy(latent, adata.obs[labels_key].to_numpy()),
        "n_cells": adata.n_obs,
        "n_genes": adata.n_vars,
    }
    return row, history["elbo_validation"].to_numpy(dtype=float).ravel()


def compare_with_scvi(rows: list[dict], dataset: str) -> None:
    """Add each of ``dataset``'s rows its epoch time relative to SCVI's and its kNN accuracy minus SCVI's, in place."""
    scvi_row = next((r for r in rows if r["dataset"] == dataset and r["method"] == "scvi"), None)
    if scvi_row is None:
        return
    for row in rows:
        if row["dataset"] == dataset:
            row["epoch_time_vs_scvi"] = row["seconds_per_epoch"] / scvi_row["seconds_per_epoch"]
            row["knn_accuracy_minus_scvi"] = row["knn_accuracy"] - scvi_row["knn_accuracy"]


def plot_vae(rows: list[dict], curves: dict[tuple[str, str], np.ndarray], path: Path) -> None:
    """Bars of seconds per epoch and kNN accuracy, and validation ELBO curves, per dataset."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(len(datasets), 3, figsize=(15, 4 * len(datasets)), squeeze=False)
    for i, dataset in enumerate(datasets):
        sub = [r for r in rows if r["dataset"] == dataset]
        names = [r["method"] for r in sub]
        axes[i, 0].barh(names, [r["seconds_per_epoch"] for r in sub], color="tab:blue")
        axes[i, 0].set(title=f"{dataset}: seconds per epoch", xlabel="s")
        axes[i, 1].barh(names, [r["knn_accuracy"] for r in sub], color="tab:green")
        axes[i, 1].set(title="kNN cell-type accuracy (5-fold CV)", xlim=(0.5, 1))
        for name in names:
            if name != "countvae_gaussian":  # its ELBO is over log-normalized values, not counts
                axes[i, 2].plot(curves[(dataset, name)], label=name)
        axes[i, 2].set(title="validation ELBO (count models)", xlabel="epoch", yscale="log")
        axes[i, 2].legend()
    save_figure(fig, path, dpi=110)


def write_vae_report(
    rows: list[dict], curves: dict[tuple[str, str], np.ndarray], out: Path, command: str, settings: dict
) -> Path:
    """``vae_benchmark.png`` (when there are rows), ``results.json`` and ``report.md`` in ``out``; the report's path."""
    if rows:
        plot_vae(rows, curves, out / "vae_benchmark.png")
    higher_is_better = {"seconds_per_epoch": False, "epoch_time_vs_scvi": False, "knn_accuracy": True}
    return write_results(
        rows,
        out,
        title="CountVAE vs SCVI",
        command=command,
        columns=COLUMNS,
        higher_is_better=higher_is_better,
        settings=settings,
        notes=NOTES,
    )
