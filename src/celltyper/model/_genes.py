"""Genes matched by name: an AnnData as a model reads it, with the model's genes in the model's order.

scvi-tools reads genes by position: an AnnData with the model's genes in another order loads with a warning and gives
wrong numbers. The models call :func:`in_model_gene_order` on every AnnData they did not train on (and on the data a
saved model is loaded onto): it reorders by ``var_names`` and, as every reader of a query does, reads genes the
AnnData lacks as zero counts after :func:`celltyper._gene_overlap.check_gene_overlap` (too few: an error).
"""

from __future__ import annotations

import logging

import pandas as pd
from anndata import AnnData
from scvi.data._constants import _MANAGER_UUID_KEY, _SCVI_UUID_KEY

from celltyper._gene_overlap import check_gene_overlap, gene_positions, on_genes

logger = logging.getLogger(__name__)


def in_model_gene_order(adata: AnnData, genes: pd.Index, what: str = "adata", layer: str | None = None) -> AnnData:
    """``adata`` itself if its ``var_names`` are ``genes`` in order, else a copy holding ``genes`` in that order.

    Genes ``adata`` has beyond the model's are left out of the copy. Genes it lacks are read as zero counts: the copy
    then holds the model's layer (and ``X``) and ``obs`` only, and fewer than a quarter of the model's genes is an
    error, fewer than 80 % a warning (:mod:`celltyper._gene_overlap`). The copy carries no scvi-tools registration
    ids in ``uns``, so that it is registered as the new AnnData it is (scvi-tools would otherwise read the data of the
    AnnData it was copied from).

    Parameters
    ----------
    adata
        Data to read.
    genes
        The model's genes, in the model's order.
    what
        How to name ``adata`` in errors.
    layer
        Where the model reads counts (its ``setup_anndata(layer=)``; ``None``: ``X``).

    Raises
    ------
    ValueError
        If ``adata`` has too few of ``genes`` or duplicate ``var_names``, or is backed and needs reordering.
    """
    if adata.var_names.equals(genes):
        return adata
    if not adata.var_names.is_unique:
        raise ValueError(
            f"{what}.var_names has duplicates, so its genes cannot be matched to the model's by name; make them "
            "unique first (adata.var_names_make_unique())."
        )
    positions = gene_positions(genes, adata.var_names)
    found = positions >= 0
    check_gene_overlap(genes, found, "genes the model reads", searched=what, stacklevel=3)
    if adata.isbacked:
        raise ValueError(
            f"The genes of the backed {what} are not the model's genes in the model's order, and a backed AnnData is "
            "not reordered in memory: write celltyper.tl.align_genes(adata.to_memory(), model.adata)[0] (or "
            "adata[:, model.adata.var_names] when it has every gene) to a new h5ad file and open that."
        )
    if found.all():
        logger.info("Reading %s with its genes in the model's order (a reordered copy).", what)
        reordered = adata[:, genes].copy()
        for key in (_SCVI_UUID_KEY, _MANAGER_UUID_KEY):
            reordered.uns.pop(key, None)
        return reordered
    logger.info("Reading %s on the model's genes, %d of them missing and read as zero.", what, (~found).sum())
    return on_genes(adata, genes, positions, layer)
