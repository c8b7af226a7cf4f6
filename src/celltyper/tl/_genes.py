"""Align a query's genes to a reference's: match, reorder, zero-fill, report — on a copy, never in place."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from celltyper._gene_overlap import MIN_GENE_OVERLAP, check_gene_overlap, gene_positions, on_genes

_ENSEMBL_COLUMNS = ("gene_ids", "gene_id", "ensembl_id", "ensembl_ids", "gene_ensembl_id")


@dataclass(frozen=True)
class GeneOverlap:
    """How many of the reference's genes the query has, and how they were matched."""

    n_reference_genes: int
    n_found: int
    matched_by: str
    missing: list[str] = field(repr=False)

    @property
    def fraction(self) -> float:
        """Fraction of the reference's genes found in the query."""
        return self.n_found / self.n_reference_genes

    def describe(self) -> str:
        """One sentence for messages and reports."""
        return (
            f"{self.n_found:,} of the reference's {self.n_reference_genes:,} genes ({self.fraction:.1%}) were found "
            f"in the query, matched by {self.matched_by}"
        )


def ensembl_ids(adata: AnnData) -> pd.Index | None:
    """Ensembl gene ids of ``adata.var`` (from ``var_names`` or a ``gene_ids``-like column), or ``None``."""
    candidates = [adata.var_names.to_series()] + [adata.var[c] for c in _ENSEMBL_COLUMNS if c in adata.var]
    for values in candidates:
        values = values.astype(str)
        if values.str.startswith("ENS").mean() > 0.9:
            return pd.Index(values.str.split(".").str[0].values)  # drop version suffixes: ENSG….12 → ENSG…
    return None


def match_genes(reference: AnnData, query: AnnData) -> tuple[np.ndarray, GeneOverlap]:
    """Position in ``query.var`` of each reference gene (-1: missing), by Ensembl id when both have ids, else symbol.

    With ids on both sides, genes are matched by id first and the remaining ones by ``var_names`` (symbols).
    """
    positions = np.full(reference.n_vars, -1, dtype=np.int64)
    matched_by = "gene symbol (var_names)"
    reference_ids, query_ids = ensembl_ids(reference), ensembl_ids(query)
    if reference_ids is not None and query_ids is not None:
        positions = gene_positions(reference_ids, query_ids)
        matched_by = "Ensembl id, then gene symbol"
    by_symbol = gene_positions(reference.var_names, query.var_names)
    positions = np.where(positions >= 0, positions, by_symbol)
    found = positions >= 0
    overlap = GeneOverlap(
        n_reference_genes=reference.n_vars,
        n_found=int(found.sum()),
        matched_by=matched_by,
        missing=list(reference.var_names[~found]),
    )
    return positions, overlap


def align_genes(
    query: AnnData,
    reference: AnnData,
    *,
    layer: str | None = None,
    min_gene_overlap: float = MIN_GENE_OVERLAP,
) -> tuple[AnnData, GeneOverlap]:
    """A new AnnData with the query's expression on the reference's genes, in the reference's order.

    Genes the query lacks are filled with zeros; query genes the reference lacks are dropped. ``query`` itself is
    not modified.

    Parameters
    ----------
    query
        The dataset to annotate.
    reference
        The dataset (or a model's ``adata``) whose genes define the result's ``var_names``.
    layer
        Where the query's expression is (``None``: ``query.X``); the result has it in the same place.
    min_gene_overlap
        Smallest accepted fraction of the reference's genes found in the query (default a quarter); below 80 % of
        them a ``UserWarning`` says that the missing genes read as zero. ``0`` turns the check and the warning off.

    Returns
    -------
    The aligned AnnData (``obs`` copied, ``var_names`` = the reference's, expression as a CSR matrix) and the
    :class:`GeneOverlap`.

    Raises
    ------
    ValueError
        If the reference has no genes, or fewer than ``min_gene_overlap`` of them are found in the query.
    KeyError
        If ``layer`` is not a layer of the query.
    """
    if not 0 <= min_gene_overlap <= 1:
        raise ValueError(f"min_gene_overlap must be between 0 and 1, not {min_gene_overlap}.")
    if layer is not None and layer not in query.layers:
        raise KeyError(f"layer {layer!r} is not in the query's layers ({list(query.layers)}).")
    if reference.n_vars == 0:
        raise ValueError("The reference has no genes to align the query to.")
    positions, overlap = match_genes(reference, query)
    if min_gene_overlap > 0:
        check_gene_overlap(
            reference.var_names, positions >= 0, "reference genes", minimum=min_gene_overlap, stacklevel=2
        )
    return on_genes(query, reference.var_names, positions, layer), overlap


def highly_variable_genes(adata: AnnData, n_top_genes: int | None, batch_key: str | None = None) -> pd.Index:
    """The ``n_top_genes`` most variable genes of the counts in ``adata.X`` (scanpy's ``seurat_v3``), or all genes.

    Only genes detected in at least 3 cells compete. seurat_v3's loess fit of variance on mean can fail on small data
    (many genes with the same mean); it is then refitted with the widest span.
    """
    if n_top_genes is None or adata.n_vars <= n_top_genes:
        return adata.var_names
    detected = np.asarray((adata.X > 0).sum(axis=0)).ravel() >= 3
    if detected.sum() <= n_top_genes:
        return adata.var_names[detected]
    expressed = AnnData(X=adata.X[:, detected], obs=adata.obs[[batch_key]] if batch_key is not None else None)
    expressed.var_names = adata.var_names[detected]
    for span in (0.3, 1.0):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hvg = sc.pp.highly_variable_genes(
                    expressed,
                    n_top_genes=n_top_genes,
                    flavor="seurat_v3",
                    batch_key=batch_key,
                    span=span,
                    inplace=False,
                )
            break
        except ValueError:
            if span == 1.0:
                raise
    return expressed.var_names[hvg["highly_variable"].to_numpy()]
