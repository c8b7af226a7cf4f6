"""Evaluation artefacts of a trained model: metrics.json numbers and the figures that go with them."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from sklearn.model_selection import train_test_split

from celltyper import pl
from celltyper.benchmark import classification_metrics, expected_calibration_error, knn_accuracy


def holdout_split(labels: pd.Series, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of training and held-out cells, stratified by label (classes with one cell stay in training)."""
    positions = np.arange(len(labels))
    if fraction <= 0:
        return positions, positions[:0]
    if not 0 < fraction < 1:
        raise ValueError(f"holdout must be between 0 and 1 (a fraction of the cells), not {fraction}.")
    counts = labels.value_counts()
    stratifiable = labels.map(counts).to_numpy() >= 2
    train, test = train_test_split(
        positions[stratifiable],
        test_size=fraction,
        random_state=seed,
        stratify=labels.to_numpy()[stratifiable],
    )
    return np.sort(np.concatenate([train, positions[~stratifiable]])), np.sort(test)


def classifier_metrics(adata: AnnData, labels_key: str, probabilities: pd.DataFrame) -> dict:
    """Accuracy, macro-F1, per-class F1 and calibration (ECE) of ``obs["celltyper_prediction"]``."""
    truth = adata.obs[labels_key].astype(str).to_numpy()
    predicted = adata.obs["celltyper_prediction"].astype(str).to_numpy()
    metrics = classification_metrics(truth, predicted, labels=sorted(set(truth)))
    known = np.isin(truth, probabilities.columns)
    metrics["ece"] = expected_calibration_error(
        truth[known], probabilities.to_numpy()[known], list(probabilities.columns)
    )
    metrics["n_cells"] = int(len(truth))
    metrics["mean_confidence"] = float(adata.obs["celltyper_confidence"].mean())
    return metrics


def classifier_figures(adata: AnnData, labels_key: str, figures: Path) -> list[Path]:
    """Confusion matrix and per-class F1 bars of the predictions in ``adata.obs``."""
    written = [figures / "confusion_matrix.png", figures / "f1_per_class.png"]
    pl.confusion_matrix(adata, labels_key, save=written[0])
    pl.f1_bars(adata, labels_key, save=written[1])
    plt.close("all")
    return written


def latent_metrics(latent: np.ndarray, labels: pd.Series | None, seed: int) -> dict:
    """KNN accuracy (5-fold) of the cell types in a latent space, when labels are known."""
    if labels is None:
        return {}
    return {"knn_accuracy": knn_accuracy(latent, labels.astype(str).to_numpy(), seed=seed)}


def last_values(history: dict) -> dict:
    """The last logged value of every per-epoch metric of a model's history."""
    values = {}
    for key, frame in history.items():
        if key.endswith("_step") or len(frame) == 0:
            continue
        value = pd.to_numeric(frame.iloc[:, 0], errors="coerce").dropna()
        if len(value):
            values[key] = float(value.iloc[-1])
    return values
