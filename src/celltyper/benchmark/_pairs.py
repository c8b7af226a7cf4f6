"""Reference / query pairs of the label-transfer scripts in ``benchmarks/``, and the genes every method sees on them.

Each pair is two AnnDatas with raw counts in ``X`` and ``layers["counts"]``. :func:`reference_genes` picks the
reference's highly variable genes (scanpy's seurat_v3 on counts), :func:`on_genes` puts either side on them, and
:func:`pair_task` joins the two sides into one :class:`~celltyper.benchmark.Task` so that the methods of
:data:`~celltyper.benchmark.METHODS` run on them unchanged.
"""

from __future__ import annotations

import os
import warnings

import anndata as ad
import pandas as pd
import scanpy as sc
from anndata import AnnData

from celltyper._split import holdout_split
from celltyper.datasets import kang_ifnb, zheng_sorted
from celltyper.tl import align_genes

from ._data import load_real_dataset
from ._tasks import Task, make_task

#: Column of a pair task's obs with each cell's batch; query batches are named apart from the reference's.
PAIR_BATCH = "_batch"

Pair = tuple[AnnData, AnnData]


def kang_conditions(drop: str | None = None) -> Pair:
    """Bundled Kang IFN-β PBMC: control cells (without cell type ``drop``, if given) → stimulated cells."""
    adata = kang_ifnb()
    reference = adata[adata.obs["condition"] == "control"].copy()
    if drop is not None:
        reference = reference[reference.obs["cell_type"] != drop].copy()
    return reference, adata[adata.obs["condition"] == "stimulated"].copy()


def kang_donors(data_dir: str | os.PathLike | None = None) -> Pair:
    """Kang control PBMC of 8 donors (shared data): the first 4 donors (by name) → the other 4."""
    adata = load_real_dataset("kang_8donors", data_dir)
    donors = sorted(adata.obs["donor"].astype(str).unique())
    in_reference = adata.obs["donor"].astype(str).isin(donors[:4]).to_numpy()
    return adata[in_reference].copy(), adata[~in_reference].copy()


def zheng_to_donor_a(data_dir: str | os.PathLike | None = None) -> Pair:
    """Bundled Zheng sorted PBMC → frozen donor A (shared data, no labels)."""
    return zheng_sorted(), load_real_dataset("zheng_donor_a", data_dir)


def zheng_holdout(zheng: AnnData, seed: int, fraction: float = 0.2) -> Pair:
    """Zheng sorted PBMC split by cell type (:func:`celltyper._split.holdout_split`): 80 % → 20 % by default."""
    train, held_out = holdout_split(zheng.obs["cell_type"].astype(str).to_numpy(), fraction, seed)
    return zheng[train].copy(), zheng[held_out].copy()


def reference_genes(reference: AnnData, n_top_genes: int) -> pd.Index:
    """The reference's ``n_top_genes`` highly variable genes (seurat_v3 on ``layers["counts"]``, one batch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hvg = sc.pp.highly_variable_genes(
            reference, n_top_genes=n_top_genes, flavor="seurat_v3", layer="counts", inplace=False
        )
    return reference.var_names[hvg["highly_variable"].to_numpy()]


def on_genes(adata: AnnData, genes: pd.Index) -> AnnData:
    """``adata`` on ``genes`` (zero-filled where missing), counts in ``X`` and ``layers["counts"]``, obs kept."""
    aligned, _ = align_genes(adata, AnnData(var=pd.DataFrame(index=genes)), layer="counts", min_gene_overlap=0)
    return aligned


def pair_task(name: str, reference: AnnData, query: AnnData, labels_key: str, batch_key: str | None = None) -> Task:
    """One :class:`Task` of ``reference`` and ``query`` (same genes, in the same order), on every gene.

    The task's batches are in ``obs[PAIR_BATCH]``: the reference's ``batch_key`` (or ``"reference"``) and
    ``"query:"`` + the query's (or ``"query"``), so every query cell is in a batch the reference lacks and the
    scArches methods map it.
    """
    if not reference.var_names.equals(query.var_names):
        raise ValueError(f"{name}: reference and query must hold the same genes in the same order (see on_genes).")
    sides = {"reference": reference.copy(), "query": query.copy()}
    for side, adata in sides.items():
        own = adata.obs[batch_key].astype(str) if batch_key is not None else ""
        adata.obs[PAIR_BATCH] = (own if side == "reference" else "query:" + own) if batch_key else side
    adata = ad.concat(sides, label="_side", index_unique=":")
    is_query = (adata.obs["_side"] == "query").to_numpy()
    description = f"{name}: {reference.n_obs} reference cells → {query.n_obs} query cells"
    return make_task(name, adata, is_query, labels_key, PAIR_BATCH, description, adata.n_vars)
