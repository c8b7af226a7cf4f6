"""UMAP coloured by labels, batch, predictions or confidence (scanpy draws it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import scanpy as sc
from anndata import AnnData
from matplotlib.figure import Figure
from scanpy.plotting.palettes import default_20, default_102

from celltyper import _keys as keys
from celltyper._keys import UNKNOWN

from ._utils import finish, style

PREDICTION_KEYS = (keys.prediction_key(), keys.confidence_key())
UNKNOWN_COLOR = "lightgray"


def _shared_colors(adata: AnnData, keys: list[str]) -> None:
    """Give a category the same colour in every panel (labels and predictions), ``"Unknown"`` light grey.

    Only when at least two of ``keys`` are categorical ``obs`` columns sharing categories; writes
    ``uns[f"{key}_colors"]`` as scanpy does.
    """
    for key in keys:  # scanpy turns text columns into categoricals when it plots them; do it first
        if key in adata.obs and pd.api.types.is_string_dtype(adata.obs[key]):
            adata.obs[key] = pd.Categorical(adata.obs[key])
    categorical = [k for k in keys if k in adata.obs and isinstance(adata.obs[k].dtype, pd.CategoricalDtype)]
    if len(categorical) < 2:
        return
    sets = [set(adata.obs[k].cat.categories) for k in categorical]
    if not any(a & b for i, a in enumerate(sets) for b in sets[i + 1 :]):
        return
    names = list(dict.fromkeys(c for k in categorical for c in adata.obs[k].cat.categories if c != UNKNOWN))
    palette = default_20 if len(names) <= 20 else default_102
    color = {name: palette[i % len(palette)] for i, name in enumerate(names)} | {UNKNOWN: UNKNOWN_COLOR}
    for key in categorical:
        adata.uns[f"{key}_colors"] = [color[c] for c in adata.obs[key].cat.categories]


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
    categorical keys, as scanpy does. Categorical keys that share categories (labels and predictions) get the same
    colour for the same category, and ``"Unknown"`` is light grey.
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
    _shared_colors(adata, keys)
    kwargs.setdefault("ncols", 2)
    kwargs.setdefault("wspace", 0.45)
    with style():
        fig = sc.pl.umap(adata, color=keys, show=False, return_fig=True, frameon=False, **kwargs)
    return finish(fig, save)
