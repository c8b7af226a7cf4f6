"""UMAP coloured by labels, batch, predictions or confidence (scanpy draws it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import scanpy as sc
from anndata import AnnData
from matplotlib.figure import Figure

from ._utils import finish, style

PREDICTION_KEYS = ("celltyper_prediction", "celltyper_confidence")


def umap(
    adata: AnnData,
    color: str | Sequence[str] | None = None,
    *,
    save: str | Path | None = None,
    **kwargs,
) -> Figure:
    """UMAP of the cells, one panel per ``color`` key (an ``obs`` column or a gene).

    Parameters
    ----------
    adata
        AnnData with ``obsm["X_umap"]`` (from :func:`celltyper.pp.prepare` or :func:`scanpy.tl.umap`).
    color
        ``obs`` columns or gene names: labels, batch, ``"celltyper_prediction"``, ``"celltyper_confidence"`` ….
        ``None``: the prediction and confidence columns that exist.
    save
        Path of a PNG to write.
    **kwargs
        Passed to :func:`scanpy.pl.umap` (``palette``, ``ncols``, ``size``, ``legend_loc`` …).

    Returns
    -------
    The figure. Reads ``obsm["X_umap"]`` and ``obs[color]``; writes colours to ``uns[f"{key}_colors"]`` for
    categorical keys, as scanpy does.
    """
    if "X_umap" not in adata.obsm:
        raise KeyError("adata.obsm has no 'X_umap'. Run ct.pp.prepare(adata) or sc.pp.neighbors + sc.tl.umap first.")
    if color is None:
        color = [key for key in PREDICTION_KEYS if key in adata.obs]
        if not color:
            raise ValueError(
                "Pass color=: no celltyper_prediction / celltyper_confidence columns in adata.obs to default to."
            )
    keys = [color] if isinstance(color, str) else list(color)
    missing = [key for key in keys if key not in adata.obs and key not in adata.var_names]
    if missing:
        raise KeyError(f"{missing} are neither columns of adata.obs ({list(adata.obs)}) nor genes in adata.var_names.")
    kwargs.setdefault("ncols", 2)
    kwargs.setdefault("wspace", 0.45)
    with style():
        fig = sc.pl.umap(adata, color=keys, show=False, return_fig=True, frameon=False, **kwargs)
    return finish(fig, save)
