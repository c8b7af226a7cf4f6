"""Genes matched by name: an AnnData as a model reads it, its genes in the model's order.

scvi-tools reads genes by position: an AnnData with the model's genes in another order loads with a warning and gives
wrong numbers. The models call :func:`in_model_gene_order` on every AnnData they did not train on (and on the data a
saved model is loaded onto), which reorders by ``var_names`` or raises an error that says what to do.
"""

from __future__ import annotations

import logging

import pandas as pd
from anndata import AnnData
from scvi.data._constants import _MANAGER_UUID_KEY, _SCVI_UUID_KEY

logger = logging.getLogger(__name__)


def in_model_gene_order(adata: AnnData, genes: pd.Index, what: str = "adata") -> AnnData:
    """``adata`` itself if its ``var_names`` are ``genes`` in order, else a copy holding ``genes`` in that order.

    Genes ``adata`` has beyond the model's are left out of the copy. The copy drops scvi-tools' registration ids from
    ``uns``, so that it is registered as the new AnnData it is (scvi-tools would otherwise read the data of the
    AnnData it was copied from).

    Parameters
    ----------
    adata
        Data to read.
    genes
        The model's genes, in the model's order.
    what
        How to name ``adata`` in errors.

    Raises
    ------
    ValueError
        If ``adata`` lacks some of ``genes``, has duplicate ``var_names``, or is backed and needs reordering.
    """
    if adata.var_names.equals(genes):
        return adata
    if not adata.var_names.is_unique:
        raise ValueError(
            f"{what}.var_names has duplicates, so its genes cannot be matched to the model's by name; make them "
            "unique first (adata.var_names_make_unique())."
        )
    missing = genes[~genes.isin(adata.var_names)]
    if len(missing):
        raise ValueError(
            f"{what} lacks {len(missing)} of the model's {len(genes)} genes ({', '.join(map(str, missing[:5]))}"
            f"{', …' if len(missing) > 5 else ''}); the model reads each of them. Add the missing genes as zero counts "
            "with celltyper.tl.align_genes(adata, model.adata), or check that var_names use the same identifiers "
            "(symbols or Ensembl ids) as the model's."
        )
    if adata.isbacked:
        raise ValueError(
            f"The genes of the backed {what} are not the model's genes in the model's order, and a backed AnnData is "
            "not reordered in memory: write adata[:, model.adata.var_names] to a new h5ad file and open that."
        )
    logger.info("Reading %s with its genes in the model's order (a reordered copy).", what)
    reordered = adata[:, genes].copy()
    for key in (_SCVI_UUID_KEY, _MANAGER_UUID_KEY):
        reordered.uns.pop(key, None)
    return reordered
