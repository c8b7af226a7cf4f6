"""QC violins before and after the filters of :func:`celltyper.pp.prepare`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from matplotlib.figure import Figure

from celltyper.pp._prepare import UNS_KEY
from celltyper.pp._qc import QC_KEYS

from ._utils import check_obs_keys, finish, style

_TITLES = {"n_genes_by_counts": "genes per cell", "total_counts": "counts per cell", "pct_counts_mt": "% mitochondrial"}


def qc_violin(adata: AnnData, keys: Sequence[str] = QC_KEYS, *, save: str | Path | None = None) -> Figure:
    """Violins of QC metrics per cell, before and after filtering, one panel per metric.

    Parameters
    ----------
    adata
        AnnData prepared by :func:`celltyper.pp.prepare` (or with the QC columns of
        :func:`scanpy.pp.calculate_qc_metrics` in ``obs``, then only "after" is drawn).
    keys
        QC columns to draw; a column that is 0 for every cell before and after filtering (``pct_counts_mt`` of data
        without mitochondrial genes) is left out, as there is nothing to show.
    save
        Path of a PNG to write.

    Returns
    -------
    The figure. Reads ``obs[keys]`` and ``uns["celltyper_prepare"]["qc_before"]``; writes nothing.
    """
    check_obs_keys(adata, *keys, hint="Run ct.pp.prepare(adata) or sc.pp.calculate_qc_metrics first.")
    after = pd.DataFrame({key: adata.obs[key].to_numpy(dtype=float) for key in keys})
    after["stage"] = "after filtering"
    frames = [after]
    before = adata.uns.get(UNS_KEY, {}).get("qc_before")
    if before is not None:
        frame = pd.DataFrame({key: np.asarray(before[key], dtype=float) for key in keys if key in before})
        frame["stage"] = "before filtering"
        frames.insert(0, frame)
    long = pd.concat(frames, ignore_index=True)
    keys = [key for key in keys if long[key].fillna(0).ne(0).any()]
    if not keys:
        raise ValueError("Every QC column to draw is 0 for every cell: nothing to show.")
    long["stage"] = pd.Categorical(long["stage"], categories=[f["stage"].iloc[0] for f in frames])
    # a cells-less AnnData whose obs holds both stages, so that scanpy draws the violins
    table = AnnData(obs=long.set_axis(long.index.astype(str)).astype(dict.fromkeys(keys, float)))
    with style():
        fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.4), squeeze=False)
        for ax, key in zip(axes[0], keys, strict=True):
            sc.pl.violin(table, key, groupby="stage", ax=ax, show=False, size=0.8, jitter=0.35)
            ax.set_title(_TITLES.get(key, key))
            ax.set_xlabel("")
            ax.set_ylabel("")
    fig.suptitle(f"QC: {len(frames[0])} cells before, {adata.n_obs} after filtering" if before is not None else "QC")
    return finish(fig, save)
