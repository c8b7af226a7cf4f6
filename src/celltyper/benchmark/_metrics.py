"""Metrics shared by every benchmark: classification scores and the kNN accuracy of a latent space.

The calibration error lives with the calibration it measures (``celltyper.tl._calibration``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None) -> dict:
    """Accuracy, macro-F1 and per-class F1 over ``labels`` (default: the classes present in ``y_true``)."""
    truth, predicted = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    labels = list(labels) if labels is not None else sorted(set(truth))
    per_class = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(np.mean(per_class)),
        "per_class_f1": {str(label): float(f) for label, f in zip(labels, per_class, strict=True)},
    }


def knn_accuracy(
    latent: np.ndarray, labels: Sequence[str], n_neighbors: int = 15, n_splits: int = 5, seed: int = 0
) -> float:
    """Mean accuracy of a kNN classifier on ``latent``, stratified ``n_splits``-fold cross-validation."""
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=n_neighbors), latent, np.asarray(labels), cv=folds)
    return float(scores.mean())
