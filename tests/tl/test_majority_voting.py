"""Majority voting over Leiden clusters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from celltyper.tl import leiden_clusters, majority_vote


def test_majority_vote_per_cluster():
    voted, share = majority_vote(["a", "a", "b", "Unknown", "Unknown", "c"], ["0", "0", "0", "1", "1", "1"])
    assert list(voted) == ["a", "a", "a", "Unknown", "Unknown", "Unknown"]
    np.testing.assert_allclose(share, [2 / 3] * 6)


def test_leiden_separates_distant_groups():
    rng = np.random.default_rng(0)
    latent = np.concatenate([rng.normal(0, 1, (60, 5)), rng.normal(20, 1, (60, 5))])
    clusters = leiden_clusters(latent, resolution=0.1)
    assert len(set(clusters[:60]) & set(clusters[60:])) == 0


def test_leiden_clusters_are_the_same_in_any_thread():
    latent = np.random.default_rng(0).normal(size=(400, 10)).astype(np.float32)
    in_main = leiden_clusters(latent, random_state=3)
    with ThreadPoolExecutor(2) as pool:
        in_threads = list(pool.map(lambda _: leiden_clusters(latent, random_state=3), range(3)))
    for clusters in in_threads:
        np.testing.assert_array_equal(clusters, in_main)
