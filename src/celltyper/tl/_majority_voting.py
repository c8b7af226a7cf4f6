"""Majority voting: give every cell of a Leiden cluster the label most of its cells were predicted as."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData


def leiden_clusters(
    latent: np.ndarray, *, resolution: float = 1.0, n_neighbors: int = 15, random_state: int = 0
) -> np.ndarray:
    """Leiden clusters (igraph flavour) of the kNN graph of ``latent``, computed on a throw-away AnnData."""
    holder = AnnData(obsm={"latent": np.asarray(latent, dtype=np.float32)}, shape=(latent.shape[0], 0))
    sc.pp.neighbors(holder, use_rep="latent", n_neighbors=n_neighbors, random_state=random_state)
    sc.tl.leiden(
        holder, resolution=resolution, flavor="igraph", n_iterations=2, directed=False, random_state=random_state
    )
    return holder.obs["leiden"].astype(str).to_numpy()


def majority_vote(predictions: Sequence[str], clusters: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
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
