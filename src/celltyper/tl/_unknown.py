"""The one rule that turns a cell's confidence and novelty into "Unknown", shared by every annotation path."""

from __future__ import annotations

import numpy as np

#: Defaults, chosen on the validation suite by their worst case (docs/transfer.md, *"Unknown"*): a cluster unlike the
#: type it was called is Unknown; a low confidence alone is not (it marks cells between two known types).
UNKNOWN_THRESHOLD, NOVELTY_THRESHOLD = 0.0, 0.95


def check_thresholds(unknown_threshold: float, novelty_threshold: float = NOVELTY_THRESHOLD) -> None:
    """Raise a ``ValueError`` for thresholds outside their ranges."""
    if not 0 <= unknown_threshold < 1:
        raise ValueError(f"unknown_threshold must be in [0, 1), not {unknown_threshold}.")
    if not 0 < novelty_threshold <= 1:
        raise ValueError(f"novelty_threshold must be in (0, 1], not {novelty_threshold}.")


def unknown_calls(
    confidence: np.ndarray,
    novelty: np.ndarray | None = None,
    *,
    unknown_threshold: float = UNKNOWN_THRESHOLD,
    novelty_threshold: float = NOVELTY_THRESHOLD,
) -> np.ndarray:
    """Which cells are "Unknown": confidence below ``unknown_threshold`` or novelty above ``novelty_threshold``.

    Parameters
    ----------
    confidence
        Probability of each cell's predicted type.
    novelty
        How unlike its predicted type each cell's cluster is (``None`` where it was not computed, e.g. when cells
        are streamed chunk by chunk).
    unknown_threshold, novelty_threshold
        The thresholds (see :func:`~celltyper.tl.transfer_labels`).
    """
    check_thresholds(unknown_threshold, novelty_threshold)
    unknown = np.asarray(confidence) < unknown_threshold
    if novelty is not None:
        unknown |= np.asarray(novelty) > novelty_threshold
    return unknown
