"""One stratified hold-out split, for every place that sets cells aside by label (benchmarks, evaluation, training).

scikit-learn's ``train_test_split`` stratified by label, with the two cases it refuses handled the same way
everywhere: a label with a single cell stays in training, and a fraction of 0 holds nothing out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


def holdout_split(labels: Sequence | np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and the held-out cells, ``fraction`` of every label held out.

    Parameters
    ----------
    labels
        One label per cell.
    fraction
        Share of the cells to hold out, in [0, 1).
    seed
        ``random_state`` of the split.

    Returns
    -------
    Sorted positions of the training cells and of the held-out cells. Labels with a single cell stay in training.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1) (a share of the cells), not {fraction}.")
    values = pd.Series(np.asarray(labels, dtype=object))
    positions = np.arange(len(values))
    if fraction == 0:
        return positions, positions[:0]
    stratifiable = values.map(values.value_counts()).to_numpy() >= 2
    train, held_out = train_test_split(
        positions[stratifiable], test_size=fraction, stratify=values.to_numpy()[stratifiable], random_state=seed
    )
    return np.sort(np.concatenate([train, positions[~stratifiable]])), np.sort(held_out)
