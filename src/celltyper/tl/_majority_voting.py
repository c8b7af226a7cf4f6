"""Clusters of the query on its own, and majority voting: every cell of a cluster gets the label most of it got."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

import igraph
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

#: igraph's random number generator is one for the whole process: one clustering at a time sets and uses it.
_IGRAPH_RNG_LOCK = threading.Lock()


def leiden_clusters(
    latent: np.ndarray, *, resolution: float = 1.0, n_neighbors: int = 15, random_state: int = 0
) -> np.ndarray:
    """Leiden clusters (igraph, modularity) of the symmetrised kNN graph of ``latent`` (scikit-learn neighbours).

    The graph and the clustering are what ``sc.pp.neighbors`` + ``sc.tl.leiden(flavor="igraph")`` compute, without
    numba: no compilation on first use, which took longer than the clustering itself on 2 cores.
    """
    latent = np.asarray(latent, dtype=np.float32)
    n_neighbors = min(n_neighbors, latent.shape[0] - 1)
    if n_neighbors < 1:
        return np.zeros(latent.shape[0], dtype=int).astype(str)
    graph = NearestNeighbors(n_neighbors=n_neighbors).fit(latent).kneighbors_graph(mode="connectivity")
    graph = graph.maximum(graph.T).tocoo()
    upper = graph.row < graph.col
    edges = np.column_stack([graph.row[upper], graph.col[upper]])
    # igraph draws from the generator set here; set on every call (and seeded) so that the clusters are the same in
    # any thread: igraph's default generator is Python's ``random`` only in the thread that imported igraph.
    with _IGRAPH_RNG_LOCK:
        igraph.set_random_number_generator(random.Random(random_state))
        partition = igraph.Graph(n=latent.shape[0], edges=edges.tolist()).community_leiden(
            objective_function="modularity", resolution=resolution, n_iterations=2
        )
        igraph.set_random_number_generator(random)
    return np.asarray(partition.membership).astype(str)


def expression_embedding(normalized: sp.csr_matrix, n_components: int = 30, random_state: int = 0) -> np.ndarray:
    """PCA of log-normalized expression with every gene scaled to unit variance, computed on the sparse matrix.

    scikit-learn's ARPACK solver centres implicitly, so the matrix is never made dense; a gene's standard deviation
    is floored at 0.1 so that a gene seen in a handful of cells cannot dominate.
    """
    matrix = sp.csr_matrix(normalized, dtype=np.float32)
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    variance = np.asarray(matrix.multiply(matrix).mean(axis=0)).ravel() - mean**2
    scaled = matrix @ sp.diags(1 / np.maximum(np.sqrt(np.maximum(variance, 0)), 0.1)).astype(np.float32)
    n_components = max(1, min(n_components, *scaled.shape) - 1)
    return PCA(n_components, svd_solver="arpack", random_state=random_state).fit_transform(scaled)


def majority_vote(
    predictions: Sequence[str] | np.ndarray, clusters: Sequence[str] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: the most frequent prediction of its cluster, and that label's share of the cluster.

    ``"Unknown"`` votes like any label, so a cluster mostly called ``"Unknown"`` stays ``"Unknown"``. Ties go to the
    label first in sorted order.
    """
    frame = pd.DataFrame({"prediction": np.asarray(predictions, dtype=object), "cluster": np.asarray(clusters)})
    counts = frame.groupby(["cluster", "prediction"]).size().rename("n").reset_index()
    counts = counts.sort_values(["cluster", "n", "prediction"], ascending=[True, False, True])
    winner = counts.drop_duplicates("cluster").set_index("cluster")
    share = winner["n"] / frame.groupby("cluster").size()
    return (
        frame["cluster"].map(winner["prediction"]).to_numpy(dtype=object),
        frame["cluster"].map(share).to_numpy(dtype=float),
    )
