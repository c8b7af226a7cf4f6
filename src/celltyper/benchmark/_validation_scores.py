"""Scores of the validation suite: transfers by macro-F1 with "Unknown" a miss, novel types by AUROC and cost.

Types with few query cells are left out of the F1 (their F1 is noise) and of the per-type "Unknown" checks, so that
the worst case is a real type's, not a handful of cells'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, roc_auc_score

from celltyper._keys import UNKNOWN

if TYPE_CHECKING:
    from ._suite import Transfer
    from ._validation_runs import Run

#: Types with fewer query cells are not scored (their F1 is noise); types with fewer are not checked for "Unknown".
MIN_SCORED_CELLS, MIN_CHECKED_CELLS = 10, 20


def transfer_scores(truth: np.ndarray, prediction: np.ndarray) -> dict:
    """Macro-F1 and accuracy ("Unknown" a miss), the share of cells called "Unknown" and the worst type's share."""
    truth, prediction = np.asarray(truth, dtype=object), np.asarray(prediction, dtype=object)
    sizes = pd.Series(truth).value_counts()
    scored = sorted(sizes.index[sizes >= MIN_SCORED_CELLS])
    unknown = pd.Series(prediction == UNKNOWN).groupby(truth).mean()
    checked = sizes.index[sizes >= MIN_CHECKED_CELLS]
    return {
        "macro_f1": float(f1_score(truth, prediction, labels=scored, average="macro", zero_division=0)),
        "accuracy": float((truth == prediction).mean()),
        "unknown": float((prediction == UNKNOWN).mean()),
        "worst_type_unknown": float(unknown[checked].max()) if len(checked) else 0.0,
        "worst_type": str(unknown[checked].idxmax()) if len(checked) else "",
    }


def novel_type_scores(is_novel: np.ndarray, score: np.ndarray, unknown: np.ndarray, truth: np.ndarray) -> dict:
    """How ``score`` ranks the novel cells first (AUROC), and what the ``unknown`` calls catch and cost."""
    known = ~is_novel
    per_type = pd.Series(unknown[known]).groupby(truth[known]).mean()
    sizes = pd.Series(truth[known]).value_counts()
    checked = sizes.index[sizes >= MIN_CHECKED_CELLS]
    return {
        "auroc": float(roc_auc_score(is_novel, score)),
        "novel_called_unknown": float(unknown[is_novel].mean()),
        "known_called_unknown": float(unknown[known].mean()),
        "worst_known_type_unknown": float(per_type[checked].max()) if len(checked) else 0.0,
    }


def score_novel_type(transfer: Transfer, run: Run) -> dict:
    """A leave-one-type-out run scored for its left-out type, with each of the method's scores behind "Unknown"."""
    cells = run.cells
    truth = cells["truth"].to_numpy(dtype=object)
    is_novel = truth == transfer.novel_type
    unknown = cells["unknown"].to_numpy()
    scores = {"1 - confidence": novel_type_scores(is_novel, 1 - cells["confidence"].to_numpy(), unknown, truth)}
    if "novelty" in cells:
        scores["novelty"] = novel_type_scores(is_novel, cells["novelty"].to_numpy(), unknown, truth)
    return scores
