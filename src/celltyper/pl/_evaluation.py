"""How predictions compare with known labels: confusion matrix and per-class F1."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.figure import Figure
from sklearn.metrics import f1_score

from celltyper import _keys as keys

from ._utils import check_obs_keys, finish, style


def _labels(adata: AnnData, labels_key: str, prediction_key: str) -> tuple[pd.Series, pd.Series]:
    check_obs_keys(adata, labels_key, prediction_key, hint="Predict first, or pass the right labels_key.")
    return adata.obs[labels_key].astype(str), adata.obs[prediction_key].astype(str)


def confusion_matrix(
    adata: AnnData,
    labels_key: str,
    prediction_key: str = keys.prediction_key(),
    *,
    normalize: bool = True,
    save: str | Path | None = None,
) -> Figure:
    """Heatmap of known labels (rows) against predictions (columns, ``"Unknown"`` included).

    Parameters
    ----------
    adata
        AnnData with both columns in ``obs``.
    labels_key
        Column of ``adata.obs`` with the known labels.
    prediction_key
        Column of ``adata.obs`` with the predictions.
    normalize
        Show each row as fractions of its cells (``False``: cell counts).
    save
        Path of a PNG to write.

    Returns
    -------
    The figure. Reads ``obs[labels_key]`` and ``obs[prediction_key]``.
    """
    truth, predicted = _labels(adata, labels_key, prediction_key)
    rows = sorted(truth.unique())
    columns = rows + sorted(set(predicted.unique()) - set(rows))
    table = pd.crosstab(truth, predicted).reindex(index=rows, columns=columns, fill_value=0)
    values = table.to_numpy(dtype=float)
    if normalize:
        values = values / values.sum(1, keepdims=True).clip(min=1)
    size = 1.2 + 0.45 * len(columns)
    with style():
        fig, ax = plt.subplots(figsize=(size + 1.5, 1.2 + 0.45 * len(rows)))
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None, aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel(prediction_key)
        ax.set_ylabel(labels_key)
        if len(columns) <= 20:
            for (i, j), value in np.ndenumerate(values):
                text = f"{value:.2f}" if normalize else f"{int(value)}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if value > 0.6 else "black")
        fig.colorbar(image, ax=ax, label="fraction of row" if normalize else "cells", shrink=0.8)
        accuracy = float((truth.to_numpy() == predicted.to_numpy()).mean())
        ax.set_title(f"accuracy {accuracy:.3f} ({len(truth)} cells)")
    return finish(fig, save)


def f1_bars(
    adata: AnnData,
    labels_key: str,
    prediction_key: str = keys.prediction_key(),
    *,
    save: str | Path | None = None,
) -> Figure:
    """Horizontal bars of the F1 score of every known class, macro-F1 in the title.

    Parameters
    ----------
    adata
        AnnData with both columns in ``obs``.
    labels_key
        Column of ``adata.obs`` with the known labels (the classes scored).
    prediction_key
        Column of ``adata.obs`` with the predictions (``"Unknown"`` counts as wrong).
    save
        Path of a PNG to write.

    Returns
    -------
    The figure. Reads ``obs[labels_key]`` and ``obs[prediction_key]``.
    """
    truth, predicted = _labels(adata, labels_key, prediction_key)
    classes = sorted(truth.unique())
    scores = pd.Series(f1_score(truth, predicted, labels=classes, average=None, zero_division=0), index=classes)
    scores = scores.sort_values()
    counts = truth.value_counts()
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 0.8 + 0.32 * len(classes)))
        ax.barh(range(len(scores)), scores.to_numpy(), color="#1f77b4")
        ax.set_yticks(range(len(scores)), [f"{c} (n={counts[c]})" for c in scores.index])
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1")
        for i, value in enumerate(scores.to_numpy()):
            ax.text(min(value + 0.01, 0.9), i, f"{value:.2f}", va="center", fontsize=8)
        ax.set_title(f"per-class F1 (macro-F1 {scores.mean():.3f})")
    return finish(fig, save)
