"""How far a cell lies from every reference cell type in the latent space: a novelty signal beside the softmax."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.covariance import LedoitWolf


class TypeDistance:
    """Per-type Gaussians of the reference's latent space; a cell's distance is to the nearest type.

    Each cell type gets a mean and a Ledoit-Wolf shrunk covariance (scikit-learn) of its reference cells' latent
    positions; :meth:`distance` is the smallest Mahalanobis distance of a cell to any of them. A softmax classifier
    must share a cell out among the types it knows, so a cell of a type the reference lacks can still get a high top
    probability; its distance to the nearest known type is large regardless.

    Parameters
    ----------
    latent
        ``(cells, dimensions)`` reference latent positions.
    labels
        Cell type of each row.
    """

    def __init__(self, latent: np.ndarray, labels: Sequence[str]):
        latent, labels = np.asarray(latent, dtype=float), np.asarray(labels, dtype=object)
        if latent.shape[0] != labels.size:
            raise ValueError(f"latent has {latent.shape[0]} rows but there are {labels.size} labels.")
        self.types = sorted(set(labels))
        small = [t for t in self.types if (labels == t).sum() < 2]
        if small:
            raise ValueError(f"Cell types {small} have fewer than 2 reference cells; a covariance needs at least 2.")
        self._gaussians = [LedoitWolf().fit(latent[labels == t]) for t in self.types]

    def distance(self, latent: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``latent`` to the nearest reference cell type, ``(cells,)``."""
        latent = np.asarray(latent, dtype=float)
        squared = np.column_stack([gaussian.mahalanobis(latent) for gaussian in self._gaussians])
        return np.sqrt(squared.min(axis=1))


def novelty(distance: np.ndarray, calibration_distance: np.ndarray) -> np.ndarray:
    """Share of the held-out reference cells that lie closer to their nearest type than each cell, in [0, 1].

    ``calibration_distance`` are :meth:`TypeDistance.distance` values of reference cells the Gaussians were not fitted
    on. A query cell as typical as the reference gets about 0.5; one further out than every held-out reference cell
    gets 1.
    """
    ordered = np.sort(np.asarray(calibration_distance, dtype=float))
    if ordered.size == 0:
        raise ValueError("novelty needs at least one held-out reference cell.")
    return np.searchsorted(ordered, np.asarray(distance, dtype=float), side="left") / ordered.size
