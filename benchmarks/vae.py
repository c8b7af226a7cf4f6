"""CountVAE (nb / zinb / gaussian) vs scvi-tools' SCVI: speed, validation reconstruction loss, kNN accuracy.

Every model trains in this one process on the same cells, genes, split (``scvi.settings.seed``), epochs, batch size
and KL warm-up. Writes ``results.json``, ``report.md`` and ``vae_benchmark.png`` to ``--out``.

    python benchmarks/vae.py --out runs/vae [--epochs 100] [--datasets kang_ifnb kang_8donors] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scvi
import torch

import celltyper as ct
from celltyper.benchmark import EpochTimer, knn_accuracy, load_real_dataset, write_results
from celltyper.benchmark._data import REAL_DATASETS

METHODS = ("scvi", "countvae_nb", "countvae_zinb", "countvae_gaussian")


def build(method: str, adata, batch_key: str):
    """Set up ``adata`` and return the untrained model for ``method``."""
    if method == "scvi":
        scvi.model.SCVI.setup_anndata(adata, layer="counts", batch_key=batch_key)
        return scvi.model.SCVI(adata)  # defaults: zinb, gene dispersion, n_hidden 128, n_latent 10, 1 layer
    ct.CountVAE.setup_anndata(adata, layer="counts", batch_key=batch_key)
    return ct.CountVAE(adata, gene_likelihood=method.removeprefix("countvae_"))


def run_one(method: str, dataset: str, adata, labels_key: str, batch_key: str, epochs: int, batch_size: int) -> dict:
    """Train one method on a fresh copy of ``adata``; return its result row and history."""
    adata = adata.copy()
    scvi.settings.seed = 0
    model = build(method, adata, batch_key)
    timer = EpochTimer()
    start = time.perf_counter()
    model.train(
        max_epochs=epochs,
        batch_size=batch_size,
        accelerator="cpu",
        check_val_every_n_epoch=1,
        plan_kwargs={"n_epochs_kl_warmup": max(1, epochs // 2)},
        callbacks=[timer],
        enable_progress_bar=False,
    )
    train_seconds = time.perf_counter() - start
    latent = model.get_latent_representation()
    history = model.history
    row = {
        "dataset": dataset,
        "task": f"{adata.n_obs} cells × {adata.n_vars} genes, batch = {batch_key}",
        "method": method,
        "seconds_per_epoch": float(np.median(timer.seconds)),
        "train_seconds": train_seconds,
        "reconstruction_loss_validation": float(history["reconstruction_loss_validation"].iloc[-1, 0]),
        "knn_accuracy": knn_accuracy(latent, adata.obs[labels_key].to_numpy()),
        "n_cells": adata.n_obs,
        "n_genes": adata.n_vars,
    }
    curve = history["elbo_validation"].to_numpy(dtype=float).ravel()
    return row, curve


def plot(rows: list[dict], curves: dict, out: Path) -> None:
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
    fig.tight_layout()
    fig.savefig(out / "vae_benchmark.png", dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--datasets", nargs="+", default=["kang_ifnb", "kang_8donors"], choices=sorted(REAL_DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--data", default=None, help="folder of the real datasets (default ../shared/data)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)

    args.out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for dataset in args.datasets:
        _, labels_key, batch_key = REAL_DATASETS[dataset]
        adata = load_real_dataset(dataset, args.data)
        for method in args.methods:
            row, curve = run_one(method, dataset, adata, labels_key, batch_key, args.epochs, args.batch_size)
            rows.append(row)
            curves[(dataset, method)] = curve
            speed, knn = row["seconds_per_epoch"], row["knn_accuracy"]
            print(f"{dataset:14s} {method:18s} {speed:.3f} s/epoch  kNN {knn:.3f}", flush=True)
        scvi_row = next((r for r in rows if r["dataset"] == dataset and r["method"] == "scvi"), None)
        for row in rows:
            if row["dataset"] == dataset and scvi_row is not None:
                row["epoch_time_vs_scvi"] = row["seconds_per_epoch"] / scvi_row["seconds_per_epoch"]
                row["knn_accuracy_minus_scvi"] = row["knn_accuracy"] - scvi_row["knn_accuracy"]

    if rows:
        plot(rows, curves, args.out)
    report = write_results(
        rows,
        args.out,
        title="CountVAE vs SCVI",
        command="python benchmarks/vae.py " + " ".join(sys.argv[1:] if argv is None else argv),
        columns=[
            "method",
            "seconds_per_epoch",
            "epoch_time_vs_scvi",
            "reconstruction_loss_validation",
            "knn_accuracy",
            "knn_accuracy_minus_scvi",
        ],
        higher_is_better={"seconds_per_epoch": False, "epoch_time_vs_scvi": False, "knn_accuracy": True},
        settings={
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "n_epochs_kl_warmup": max(1, args.epochs // 2),
            "validation": "every epoch, 10% of cells (same split for all)",
            "torch_threads": torch.get_num_threads(),
        },
        notes=(
            "seconds_per_epoch: median over epochs of the training loop alone (validation excluded). "
            "reconstruction_loss_validation: negative log-likelihood per cell on the validation cells; the Gaussian "
            "model's is over log-normalized values, so it is not comparable with the count models'. knn_accuracy: "
            "15-NN classifier of cell_type on the latent, stratified 5-fold CV. See `vae_benchmark.png`."
        ),
    )
    print(f"wrote {report}")


if __name__ == "__main__":
    main()
