"""Integration scores of latent spaces with scib-metrics: bio conservation, batch correction, total."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
import scib_metrics
from anndata import AnnData
from scib_metrics.benchmark import BatchCorrection, Benchmarker
from scib_metrics.nearest_neighbors import NeighborsResults
from sklearn.neighbors import NearestNeighbors

from ._logreg import log_normalized
from ._tasks import Task

#: Column names of :meth:`scib_metrics.benchmark.Benchmarker.get_results` → keys of ``results.json``.
_AGGREGATES = {
    "Bio conservation": "scib_bio_conservation",
    "Batch correction": "scib_batch_correction",
    "Total": "scib_total",
}


def exact_neighbors(X: np.ndarray, k: int) -> NeighborsResults:
    """Exact ``k`` nearest neighbours of every row of ``X`` (scikit-learn), as scib-metrics takes them.

    For the latent spaces benchmarked here (≤ 50 dimensions, tens of thousands of cells) faster than scib-metrics'
    default, pynndescent, whose compilation alone takes a minute.
    """
    distances, indices = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    return NeighborsResults(indices=indices, distances=distances)


def _unintegrated_pca(adata: AnnData) -> np.ndarray:
    """PCA of log-normalized counts: the 'before integration' reference of scib's PCR comparison."""
    return sc.pp.pca(log_normalized(adata), n_comps=min(50, adata.n_vars - 1, adata.n_obs - 1))


def integration_scores(task: Task, latents: dict[str, np.ndarray], out: Path | None = None) -> pd.DataFrame:
    """scib-metrics scores of every latent of ``task`` (method → cells × dims, all cells of ``task.adata``).

    With labels and at least two batches: scib-metrics' :class:`~scib_metrics.benchmark.Benchmarker` (its default
    bio-conservation and batch-correction metrics except kBET, unscaled), and its results table written to
    ``out/scib_<task>.png``. With batches but no labels: iLISI alone (batch mixing; the other metrics need labels).
    Otherwise an empty frame.

    kBET per label is left out: scib-metrics 0.5 builds a pynndescent index for every label of every latent, which
    took 225 of the 308 s of scoring 6 latents of the 1975 bundled Kang cells on 2 CPU cores; the other batch metrics
    (BRAS, iLISI, graph connectivity, PCR comparison) remain.

    Returns
    -------
    One row per method, columns ``scib_*``.
    """
    batch_key, labels_key = task.batch_key, task.labels_key
    if batch_key is None or task.adata.obs[batch_key].nunique() < 2 or not latents:
        return pd.DataFrame()
    if labels_key is None:
        batches = task.adata.obs[batch_key].cat.codes.to_numpy()
        rows = {}
        for method, latent in latents.items():
            neighbors = exact_neighbors(latent, 90)
            rows[method] = {"scib_ilisi": float(scib_metrics.ilisi_knn(neighbors, batches))}
        return pd.DataFrame.from_dict(rows, orient="index")

    adata = AnnData(obs=task.adata.obs[[labels_key, batch_key]].copy())
    adata.obsm["Unintegrated"] = _unintegrated_pca(task.adata)
    for method, latent in latents.items():
        adata.obsm[method] = latent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench = Benchmarker(
            adata,
            batch_key=batch_key,
            label_key=labels_key,
            embedding_obsm_keys=list(latents),  # "Unintegrated" is only PCR's reference: scoring it costs a compile
            pre_integrated_embedding_obsm_key="Unintegrated",
            batch_correction_metrics=BatchCorrection(kbet_per_label=False),
            n_jobs=1,
            progress_bar=False,
        )
        bench.prepare(neighbor_computer=exact_neighbors)
        bench.benchmark()
        results = bench.get_results(min_max_scale=False)
        if out is not None:
            table = bench.plot_results_table(min_max_scale=False, show=False)
            table.ax.figure.savefig(out / f"scib_{task.name.replace('/', '_')}.png", dpi=110, bbox_inches="tight")
            plt.close(table.ax.figure)
    results = results.drop(index="Metric Type", errors="ignore").apply(pd.to_numeric, errors="coerce")
    renamed = {c: _AGGREGATES.get(c, "scib_" + c.lower().replace(" ", "_")) for c in results.columns}
    return results.rename(columns=renamed)
