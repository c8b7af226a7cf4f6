"""Quality-control metrics and the cell filters of :func:`celltyper.pp.prepare` (scanpy computes the metrics)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

#: obs columns scanpy's ``calculate_qc_metrics`` writes that the violins show
QC_KEYS = ("n_genes_by_counts", "total_counts", "pct_counts_mt")


def annotate_mt(adata: AnnData, mt_prefix: str, filtering: bool = True) -> int:
    """Flag genes whose name starts with ``mt_prefix`` (case-insensitive) in ``var["mt"]``; return how many.

    With ``filtering`` (a ``max_pct_mt`` filter is set) a warning says when no gene matches, since the filter then
    removes nothing.
    """
    adata.var["mt"] = adata.var_names.str.upper().str.startswith(mt_prefix.upper())
    n_mt = int(adata.var["mt"].sum())
    if n_mt == 0 and filtering:
        warnings.warn(
            f"No gene name starts with {mt_prefix!r}, so pct_counts_mt is 0 for every cell and max_pct_mt removes "
            "nothing. Pass the prefix your mitochondrial gene names use as mt_prefix (matched case-insensitively), or "
            "check that the mitochondrial genes were not dropped upstream (e.g. by a gene selection).",
            UserWarning,
            stacklevel=3,
        )
    return n_mt


def qc_metrics(adata: AnnData, layer: str | None) -> None:
    """Write scanpy's QC metrics of ``layer`` to ``obs`` (``total_counts``, ``pct_counts_mt`` …) and ``var``."""
    sc.pp.calculate_qc_metrics(adata, qc_vars=["mt"], layer=layer, percent_top=None, log1p=False, inplace=True)


def cell_filter_masks(
    obs: pd.DataFrame,
    min_genes: int | None,
    max_genes: int | None,
    min_counts: float | None,
    max_counts: float | None,
    max_pct_mt: float | None,
) -> dict[str, np.ndarray]:
    """For each filter that is set, a boolean mask of the cells that pass it."""
    limits = {
        "min_genes": ("n_genes_by_counts", min_genes, np.greater_equal),
        "max_genes": ("n_genes_by_counts", max_genes, np.less_equal),
        "min_counts": ("total_counts", min_counts, np.greater_equal),
        "max_counts": ("total_counts", max_counts, np.less_equal),
        "max_pct_mt": ("pct_counts_mt", max_pct_mt, np.less_equal),
    }
    return {
        name: compare(obs[column].to_numpy(), limit)
        for name, (column, limit, compare) in limits.items()
        if limit is not None
    }
