"""The held-out cells of ``celltyper train``: a stratified split of the labelled cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


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
