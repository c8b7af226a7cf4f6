"""How unlike its predicted reference type a query cell's cluster is: the signal behind "Unknown" beside confidence.

A softmax classifier must share every cell out among the types it knows, so a cell of a type the reference lacks can
still be called confidently. Its cluster in the query, though, does not look like the type it was called: the
cluster's mean expression profile, against the query's own average, does not correlate with the reference type's
profile against the reference's average. Both profiles are centred within their own data set (each type counting
once, so composition does not matter), so that a shift every query cell shares — another donor, platform or
protocol — cancels out instead of reading as novelty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._majority_voting import expression_embedding, leiden_clusters

#: A type needs this many cells (reference, and predicted in the query) to count in the centring.
MIN_TYPE_CELLS = 10


def _type_means(matrix: sp.csr_matrix, labels: np.ndarray, types: Sequence[str]) -> np.ndarray:
    return np.vstack([np.asarray(matrix[labels == t].mean(axis=0)).ravel() for t in types])


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two vectors (0 where either is constant)."""
    a, b = a - a.mean(), b - b.mean()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0


@dataclass(frozen=True)
class TypeProfiles:
    """What novelty needs of the reference: each type's mean log-normalized profile and its number of cells.

    Attributes
    ----------
    means
        ``(types, genes)`` mean log-normalized expression of each reference type.
    counts
        Reference cells of each type, in the order of ``means``' rows.
    """

    means: pd.DataFrame
    counts: pd.Series

    @classmethod
    def from_cells(cls, reference: sp.csr_matrix, labels: np.ndarray, types: Sequence[str]) -> TypeProfiles:
        """The profiles of ``types`` from log-normalized reference cells and their ``labels``."""
        labels = np.asarray(labels, dtype=object)
        counts = pd.Series(labels).value_counts().reindex(list(types), fill_value=0)
        return cls(pd.DataFrame(_type_means(reference, labels, types), index=list(types)), counts)


def profile_match(
    query: sp.csr_matrix, clusters: np.ndarray, predictions: np.ndarray, profiles: TypeProfiles
) -> np.ndarray:
    """:func:`cluster_type_match` against reference :class:`TypeProfiles` instead of the reference's cells."""
    predictions = np.asarray(predictions, dtype=object)
    predicted = pd.Series(predictions).value_counts()
    common = [
        t for t in predicted.index if predicted[t] >= MIN_TYPE_CELLS and profiles.counts.get(t, 0) >= MIN_TYPE_CELLS
    ]
    if len(common) < 3:
        return np.ones(len(predictions))
    types = sorted(set(predictions))
    reference_profiles = profiles.means.loc[types].to_numpy()
    reference_profiles -= profiles.means.loc[common].to_numpy().mean(0)
    query_centre = _type_means(query, predictions, common).mean(0)

    match = np.empty(len(predictions))
    for cluster in np.unique(clusters):
        cells = np.flatnonzero(clusters == cluster)
        profile = np.asarray(query[cells].mean(axis=0)).ravel() - query_centre
        majority = pd.Series(predictions[cells]).value_counts().index[0]
        match[cells] = _correlation(profile, reference_profiles[types.index(majority)])
    return match


def cluster_type_match(
    query: sp.csr_matrix,
    clusters: np.ndarray,
    predictions: np.ndarray,
    reference: sp.csr_matrix,
    reference_labels: np.ndarray,
) -> np.ndarray:
    """Per query cell: correlation of its cluster's centred profile with that of the type most of the cluster got.

    The match is the cluster's, so a cell called a neighbouring type inside a cluster that matches its own type well
    (an ambiguous cell, not a novel one) is not singled out.

    Parameters
    ----------
    query, reference
        Cells × genes log-normalized expression on the same genes.
    clusters
        Cluster of each query cell (computed on the query alone).
    predictions
        Predicted reference type of each query cell.
    reference_labels
        Type of each reference cell (``"Unknown"`` cells and types without a query prediction are not used).

    Returns
    -------
    ``(cells,)``; ``1`` for every cell when fewer than three types are predicted with at least
    :data:`MIN_TYPE_CELLS` cells each (a centred profile then says nothing).
    """
    types = sorted(set(np.asarray(predictions, dtype=object)))
    profiles = TypeProfiles.from_cells(reference, reference_labels, types)
    return profile_match(query, clusters, predictions, profiles)


def query_novelty(
    query: sp.csr_matrix,
    predictions: np.ndarray,
    profiles: TypeProfiles,
    resolution: float = 1.0,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Leiden clusters of the query (on a PCA of its own expression) and each cell's novelty, 1 − its cluster's match.

    The arguments are those of :func:`profile_match`, and Leiden's ``resolution``. Returns ``(clusters, novelty)``,
    novelty in [0, 1]: 0 for a cluster whose profile is its type's, 1 for one uncorrelated or anti-correlated with it.
    """
    embedding = expression_embedding(query, random_state=random_state)
    clusters = leiden_clusters(embedding, resolution=resolution, random_state=random_state)
    match = profile_match(query, clusters, predictions, profiles)
    return clusters, 1 - np.clip(match, 0, 1)
