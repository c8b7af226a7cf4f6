"""The pictures of a benchmark run: confusion matrices, UMAPs of every latent, training curves, a summary."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

import celltyper as ct

from ._tasks import Task


def _stem(task: Task, method: str | None = None) -> str:
    return task.name.replace("/", "_") + (f"_{method}" if method else "")


def confusion_matrix(task: Task, method: str, predicted: np.ndarray, out: Path) -> Path:
    """``confusion_<task>_<method>.png`` of the query's known labels against ``predicted``."""
    truth = task.adata.obs[task.labels_key][task.is_query].astype(str).to_numpy()
    adata = AnnData(obs=pd.DataFrame({"cell_type": truth, "prediction": predicted}))
    path = out / f"confusion_{_stem(task, method)}.png"
    plt.close(ct.pl.confusion_matrix(adata, "cell_type", "prediction", save=path))
    return path


def training_curves(task: Task, method: str, history: dict, out: Path) -> Path | None:
    """``curves_<task>_<method>.png`` from a model's history (``None`` when it logged nothing per epoch)."""
    path = out / f"curves_{_stem(task, method)}.png"
    try:
        plt.close(ct.pl.training_curves(history, save=path))
    except ValueError:
        return None
    return path


def umaps(task: Task, latents: dict[str, np.ndarray], out: Path, max_cells: int = 5000) -> Path:
    """``umap_<task>.png``: one row per latent space, coloured by label and by batch.

    Tasks larger than ``max_cells`` are drawn from one random subsample of that many cells (the same cells for every
    latent): UMAP time grows faster than linearly with cells, and a few thousand cells show the structure.
    """
    colors = [key for key in (task.labels_key, task.batch_key) if key is not None]
    n_obs = task.adata.n_obs
    cells = np.sort(np.random.default_rng(0).choice(n_obs, max_cells, replace=False)) if n_obs > max_cells else None
    fig, axes = plt.subplots(len(latents), len(colors), figsize=(5 * len(colors), 4 * len(latents)), squeeze=False)
    for row, (method, latent) in enumerate(latents.items()):
        obs = task.adata.obs[colors] if cells is None else task.adata.obs[colors].iloc[cells]
        adata = AnnData(obs=obs.copy())
        adata.obsm["latent"] = latent if cells is None else latent[cells]
        sc.pp.neighbors(adata, use_rep="latent", random_state=0)
        sc.tl.umap(adata, random_state=0)
        for col, key in enumerate(colors):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sc.pl.umap(adata, color=key, ax=axes[row, col], show=False, title=f"{method}: {key}", frameon=False)
    fig.tight_layout()
    path = out / f"umap_{_stem(task)}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def summary(rows: list[dict], out: Path) -> Path:
    """``summary.png``: macro-F1 of every method on every task (bars), and training seconds (log scale)."""
    frame = pd.DataFrame(rows)
    scored = frame.dropna(subset=["macro_f1"]) if "macro_f1" in frame else frame.iloc[:0]
    tasks = list(dict.fromkeys(scored["task"])) if len(scored) else []
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.6 + 0.35 * max(len(scored), 4)))
    labels = [f"{r.task} · {r.method}" for r in scored.itertuples()]
    colors = [plt.cm.tab10(tasks.index(t) % 10) for t in scored["task"]]
    axes[0].barh(labels, scored["macro_f1"], color=colors)
    axes[0].set(xlabel="query macro-F1", xlim=(0, 1), title="Classification")
    axes[1].barh(labels, scored["train_seconds"], color=colors)
    axes[1].set(xlabel="training seconds", xscale="log", title="Cost")
    axes[1].set_yticks([])
    for ax in axes:
        ax.invert_yaxis()
    fig.tight_layout()
    path = out / "summary.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
