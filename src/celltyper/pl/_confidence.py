"""Per-type histograms of the calibrated confidence: which predicted types the classifier is sure of."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.figure import Figure

from celltyper import _keys as keys

from ._utils import check_obs_keys, finish, style


def confidence_histograms(
    adata: AnnData, key_added: str = keys.KEY_ADDED, *, ncols: int = 4, save: str | Path | None = None
) -> Figure:
    """One histogram of ``obs[f"{key_added}_confidence"]`` per predicted cell type (``"Unknown"`` included).

    Parameters
    ----------
    adata
        AnnData annotated by :func:`celltyper.tl.annotate` or :func:`celltyper.tl.transfer_labels`.
    key_added
        The prefix the annotation was written with.
    ncols
        Panels per row.
    save
        Path of a PNG to write.

    Returns
    -------
    The figure; each panel is titled with the type and its number of cells.
    """
    prediction, confidence = keys.prediction_key(key_added), keys.confidence_key(key_added)
    check_obs_keys(adata, prediction, confidence, hint="Annotate the cells first (ct.tl.annotate).")
    predicted = adata.obs[prediction].astype(str).to_numpy()
    values = adata.obs[confidence].to_numpy(dtype=float)
    types = [t for t in dict.fromkeys(adata.obs[prediction].astype("category").cat.categories) if t in set(predicted)]
    if not types:
        raise ValueError(f"adata.obs[{prediction!r}] holds no predictions to plot.")
    ncols = max(1, min(ncols, len(types)))
    nrows = int(np.ceil(len(types) / ncols))
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.4 * nrows), squeeze=False, sharex=True)
        for ax, cell_type in zip(axes.ravel(), types, strict=False):
            ax.hist(values[predicted == cell_type], bins=np.linspace(0, 1, 21), color="#4c72b0")
            ax.set_title(f"{cell_type} ({int((predicted == cell_type).sum()):,})")
            ax.set_xlabel("confidence")
        for ax in axes.ravel()[len(types) :]:
            ax.set_visible(False)
    return finish(fig, save)
