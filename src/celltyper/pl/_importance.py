"""Bars of the genes that matter most to a prediction."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ._utils import finish, style


def feature_importance(
    importance: pd.Series,
    n_top: int = 20,
    *,
    title: str | None = None,
    save: str | Path | None = None,
) -> Figure:
    """Horizontal bars of the ``n_top`` largest importances, largest on top.

    Parameters
    ----------
    importance
        One value per gene, indexed by gene name, e.g. ``CellTypeTransformer.get_feature_importance(label)``.
    n_top
        Genes shown.
    title
        Panel title (default: the Series' name).
    save
        Path of a PNG to write.

    Returns
    -------
    The figure.
    """
    if not isinstance(importance, pd.Series) or importance.empty:
        raise ValueError("importance must be a non-empty pandas Series indexed by gene name.")
    top = importance.astype(float).nlargest(n_top)[::-1]
    with style():
        fig, ax = plt.subplots(figsize=(4.5, 0.6 + 0.25 * len(top)))
        ax.barh(range(len(top)), top.to_numpy(), color="#d62728")
        ax.set_yticks(range(len(top)), top.index)
        ax.set_xlabel("importance")
        ax.set_title(title if title is not None else str(importance.name or "feature importance"))
    return finish(fig, save)
