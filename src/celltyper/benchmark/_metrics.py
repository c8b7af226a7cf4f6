"""Metrics shared by every benchmark: classification scores, calibration, kNN accuracy of a latent space."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None) -> dict:
    """Accuracy, macro-F1 and per-class F1 over ``labels`` (default: the classes present in ``y_true``)."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    labels = list(labels) if labels is not None else sorted(set(y_true))
    per_class = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(np.mean(per_class)),
        "per_class_f1": {str(label): float(f) for label, f in zip(labels, per_class, strict=True)},
    }


def expected_calibration_error(y_true: Sequence[str], probabilities, classes: Sequence[str], n_bins: int = 15) -> float:
    """ECE of the top-class confidence: ``Σ_b |B_b|/n · |accuracy(B_b) − confidence(B_b)|`` over equal-width bins."""
    probabilities = np.asarray(probabilities, dtype=float)
    classes = np.asarray(classes, dtype=object)
    confidence = probabilities.max(1)
    correct = classes[probabilities.argmax(1)] == np.asarray(y_true, dtype=object)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def knn_accuracy(
    latent: np.ndarray, labels: Sequence[str], n_neighbors: int = 15, n_splits: int = 5, seed: int = 0
) -> float:
    """Mean accuracy of a kNN classifier on ``latent``, stratified ``n_splits``-fold cross-validation."""
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=n_neighbors), latent, np.asarray(labels), cv=folds)
    return float(scores.mean())
