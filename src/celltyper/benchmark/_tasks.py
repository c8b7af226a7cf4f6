"""Benchmark tasks: which cells are the reference, which the query, on which genes — the same for every method."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
from anndata import AnnData

from celltyper._split import holdout_split
from celltyper.datasets import kang_ifnb, zheng_sorted
from celltyper.tl._genes import highly_variable_genes

from ._data import load_real_dataset

#: Keys of one entry of the ``h5ad:`` section of a benchmark config (see :func:`task_from_config`).
H5AD_KEYS = ("path", "labels_key", "batch_key", "query_key", "query_values")


@dataclass
class Task:
    """One benchmark task.

    Attributes
    ----------
    name
        Identifier in ``results.json`` (``"kang_ifnb/ctrl_to_stim"`` …).
    dataset
        Where the cells come from.
    description
        One line for the report.
    adata
        Every cell of the task on the task's genes, raw counts in ``X`` and ``layers["counts"]``.
    is_query
        Boolean mask over ``adata``: the cells that are predicted (their labels are hidden from every method). All
        ``False`` for an integration-only task.
    labels_key, batch_key
        Columns of ``adata.obs`` (either may be ``None``).
    """

    name: str
    dataset: str
    description: str
    adata: AnnData
    is_query: np.ndarray
    labels_key: str | None
    batch_key: str | None

    @property
    def reference(self) -> AnnData:
        """The cells the methods train on."""
        return self.adata[~self.is_query].copy()

    @property
    def query(self) -> AnnData:
        """The cells the methods predict."""
        return self.adata[self.is_query].copy()

    @property
    def classifies(self) -> bool:
        """Whether the task has labelled query cells to score predictions on."""
        return self.labels_key is not None and bool(self.is_query.any())


def select_genes(reference: AnnData, n_top_genes: int, batch_key: str | None) -> list[str]:
    """The reference's ``n_top_genes`` highly variable genes (seurat_v3 on counts, batch-aware), or all if fewer.

    :func:`celltyper.tl._genes.highly_variable_genes` on ``layers["counts"]``, with the batch when there are several.
    """
    counts = AnnData(X=reference.layers["counts"], obs=reference.obs[[batch_key]] if batch_key is not None else None)
    counts.var_names = reference.var_names
    batch = batch_key if batch_key is not None and counts.obs[batch_key].nunique() > 1 else None
    return list(highly_variable_genes(counts, n_top_genes, batch_key=batch))


def make_task(
    name: str,
    adata: AnnData,
    is_query: np.ndarray,
    labels_key: str | None,
    batch_key: str | None,
    description: str,
    n_top_genes: int,
) -> Task:
    """A :class:`Task` on the genes selected from its reference cells; ``adata`` is copied, never changed."""
    for key in (labels_key, batch_key):
        if key is not None and key not in adata.obs:
            raise KeyError(f"{name}: {key!r} is not a column of obs (columns: {list(adata.obs)}).")
    if "counts" not in adata.layers:
        raise KeyError(f"{name}: the AnnData has no layers['counts'] of raw counts.")
    is_query = np.asarray(is_query, dtype=bool)
    if is_query.all():
        raise ValueError(f"{name}: every cell is a query cell; the methods need reference cells to train on.")
    genes = select_genes(adata[~is_query], n_top_genes, batch_key)
    subset = adata[:, genes].copy()
    subset.X = subset.layers["counts"].copy()
    for key in (labels_key, batch_key):
        if key is not None:
            subset.obs[key] = subset.obs[key].astype(str).astype("category")
    return Task(name, name.split("/")[0], description, subset, is_query, labels_key, batch_key)


def _holdout(labels, fraction: float, seed: int) -> np.ndarray:
    """Stratified query mask: ``fraction`` of the cells of every label."""
    _, query = holdout_split(labels, fraction, seed)
    mask = np.zeros(len(labels), dtype=bool)
    mask[query] = True
    return mask


def _kang(adata: AnnData, n_top_genes: int) -> Task:
    return make_task(
        "kang_ifnb/ctrl_to_stim",
        adata,
        (adata.obs["condition"] == "stimulated").to_numpy(),
        "cell_type",
        "condition",
        f"Kang 2018 PBMC: train on {int((adata.obs['condition'] == 'control').sum())} control cells, predict the "
        "IFN-β-stimulated ones (batch = condition)",
        n_top_genes,
    )


def _zheng(adata: AnnData, n_top_genes: int, seed: int) -> Task:
    return make_task(
        "zheng_sorted/holdout_20",
        adata,
        _holdout(adata.obs["cell_type"].astype(str), 0.2, seed),
        "cell_type",
        None,
        f"Zheng 2017 FACS-sorted PBMC ({adata.n_obs} cells): stratified 80/20 split (seed {seed})",
        n_top_genes,
    )


def quick_tasks(n_top_genes: int = 2000, seed: int = 0) -> list[Task]:
    """The tasks of ``--quick``: bundled Kang (control → stimulated) and bundled Zheng (80/20)."""
    return [_kang(kang_ifnb(), n_top_genes), _zheng(zheng_sorted(), n_top_genes, seed)]


def full_tasks(data_dir: str | os.PathLike | None = None, n_top_genes: int = 2000, seed: int = 0) -> list[Task]:
    """Every real dataset of the shared data folder that has labels or batches.

    - ``kang_ifnb/ctrl_to_stim``: Kang IFN-β, control → stimulated.
    - ``kang_8donors/4_to_4``: Kang control PBMC of 8 donors, the first 4 donors (by name) → the other 4.
    - ``zheng_sorted/holdout_20``: Zheng sorted PBMC, stratified 80/20.
    - ``combat_6donors/integration``: COMBAT blood, 6 donors, no labels: integration of the donors only.

    Zheng's frozen donor A has neither labels nor batches, so it is not a benchmark task here (the label-transfer
    benchmark, ``benchmarks/transfer.py``, reports its predicted composition).
    """
    kang8 = load_real_dataset("kang_8donors", data_dir)
    donors = sorted(kang8.obs["donor"].astype(str).unique())
    combat = load_real_dataset("combat_6donors", data_dir)
    return [
        _kang(load_real_dataset("kang_ifnb", data_dir), n_top_genes),
        make_task(
            "kang_8donors/4_to_4",
            kang8,
            ~kang8.obs["donor"].astype(str).isin(donors[:4]).to_numpy(),
            "cell_type",
            "donor",
            f"Kang 2018 control PBMC, 8 donors: train on donors {', '.join(donors[:4])}, predict the other 4",
            n_top_genes,
        ),
        _zheng(load_real_dataset("zheng_sorted", data_dir), n_top_genes, seed),
        make_task(
            "combat_6donors/integration",
            combat,
            np.zeros(combat.n_obs, dtype=bool),
            None,
            "donor",
            f"COMBAT blood, {combat.obs['donor'].nunique()} donors, no labels: integration of the donors",
            n_top_genes,
        ),
    ]


def task_from_config(name: str, entry: Mapping, n_top_genes: int = 2000, seed: int = 0) -> Task:
    """A task on any h5ad of raw counts, described by one entry of the ``h5ad:`` section of a benchmark config.

    Parameters
    ----------
    name
        The task's name.
    entry
        ``path`` (an h5ad with raw counts in ``X`` or ``layers["counts"]``), ``labels_key``, ``batch_key``, and which
        cells are the query: ``query_key`` + ``query_values`` (cells whose ``obs[query_key]`` is one of them); without
        them a stratified 20 % of the labelled cells, or none (integration only) when there are no labels.
    n_top_genes, seed
        Genes selected on the reference; seed of the 80/20 split.
    """
    unknown = set(entry) - set(H5AD_KEYS)
    if unknown:
        raise KeyError(f"h5ad.{name}: unknown keys {sorted(unknown)}; the keys are {list(H5AD_KEYS)}.")
    if "path" not in entry:
        raise KeyError(f"h5ad.{name}: 'path' (the h5ad file) is required.")
    path = Path(entry["path"]).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"h5ad.{name}: no file at {path}.")
    adata = ad.read_h5ad(path)
    if "counts" not in adata.layers:
        adata.layers["counts"] = adata.X.copy()
    labels_key, batch_key = entry.get("labels_key"), entry.get("batch_key")
    if labels_key is None and batch_key is None:
        raise ValueError(f"h5ad.{name}: give labels_key, batch_key or both; with neither there is nothing to score.")
    query_key = entry.get("query_key")
    if query_key is not None:
        if query_key not in adata.obs:
            raise KeyError(f"h5ad.{name}: query_key {query_key!r} is not a column of obs ({list(adata.obs)}).")
        values = [str(v) for v in entry.get("query_values") or []]
        if not values:
            raise ValueError(f"h5ad.{name}: query_key needs query_values (the values of obs[{query_key!r}]).")
        is_query = adata.obs[query_key].astype(str).isin(values).to_numpy()
        if not is_query.any():
            raise ValueError(f"h5ad.{name}: no cell has obs[{query_key!r}] in {values}.")
        description = f"{path.name}: predict the cells with {query_key} in {values}"
    elif labels_key is not None:
        if labels_key not in adata.obs:
            raise KeyError(f"h5ad.{name}: labels_key {labels_key!r} is not a column of obs ({list(adata.obs)}).")
        is_query = _holdout(adata.obs[labels_key].astype(str), 0.2, seed)
        description = f"{path.name}: stratified 80/20 split (seed {seed})"
    else:
        is_query = np.zeros(adata.n_obs, dtype=bool)
        description = f"{path.name}: integration of {batch_key} only"
    return make_task(f"{name}/custom", adata, is_query, labels_key, batch_key, description, n_top_genes)
