"""Training curves from a model's ``history`` (train and validation in the same panel)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ._utils import finish, style


def _split_key(key: str) -> tuple[str, str] | None:
    """``"elbo_train"`` → ``("elbo", "train")``; ``"validation_loss"`` → ``("loss", "validation")``; steps → None."""
    if key.endswith("_step"):
        return None
    key = key.removesuffix("_epoch")
    for split in ("train", "validation"):
        if key.endswith(f"_{split}"):
            return key.removesuffix(f"_{split}"), split
        if key.startswith(f"{split}_"):
            return key.removeprefix(f"{split}_"), split
    return key, ""


def training_curves(
    history,
    keys: Sequence[str] | None = None,
    *,
    ncols: int = 3,
    save: str | Path | None = None,
) -> Figure:
    """One panel per metric of a training history, train and validation curves over epochs.

    Parameters
    ----------
    history
        ``model.history`` (a dict of one-column DataFrames indexed by epoch, as scvi-tools keeps it) or the
        model itself.
    keys
        Metrics to draw, without the split (``"elbo"``, ``"loss"``, ``"reconstruction_loss"``, ``"accuracy"`` …);
        ``None``: every metric logged per epoch, except those that are 0 at every epoch (such as ``kl_global`` of a
        model without a global prior), which have nothing to show.
    ncols
        Panels per row.
    save
        Path of a PNG to write.

    Returns
    -------
    The figure.
    """
    history = getattr(history, "history", history)
    if not isinstance(history, Mapping) or not history:
        raise ValueError("No training history: train the model first (model.history is empty).")
    curves: dict[str, dict[str, pd.Series]] = {}
    for key, frame in history.items():
        split = _split_key(key)
        series = frame.iloc[:, 0] if isinstance(frame, pd.DataFrame) else pd.Series(frame)
        series = pd.to_numeric(series, errors="coerce").dropna()
        if split is None or series.empty:
            continue
        curves.setdefault(split[0], {})[split[1] or "value"] = series
    if keys is not None:
        unknown = [key for key in keys if key not in curves]
        if unknown:
            raise KeyError(f"{unknown} not in the history; it has {sorted(curves)}.")
        curves = {key: curves[key] for key in keys}
    else:
        curves = {key: splits for key, splits in curves.items() if any(s.ne(0).any() for s in splits.values())}
        if not curves:
            raise ValueError("Every metric of the training history is 0 at every epoch: nothing to show.")
    n_rows = math.ceil(len(curves) / ncols)
    with style():
        fig, axes = plt.subplots(
            n_rows, min(ncols, len(curves)), figsize=(3.6 * min(ncols, len(curves)), 2.9 * n_rows), squeeze=False
        )
        for ax, (name, splits) in zip(axes.flat, curves.items(), strict=False):
            for split_name, series in sorted(splits.items(), key=lambda item: (item[0] != "train", item[0])):
                ax.plot(
                    series.index, series.to_numpy(), marker="o" if len(series) < 15 else None, ms=3, label=split_name
                )
            only = next(iter(splits)) if len(splits) == 1 else "value"
            ax.set_title(name.replace("_", " ") + ("" if only == "value" else f" ({only})"))
            ax.set_xlabel("epoch")
            if len(splits) > 1:
                ax.legend(fontsize=8)
        for ax in axes.flat[len(curves) :]:
            ax.set_visible(False)
    return finish(fig, save)
