"""Type distances and novelty: a cluster the reference lacks is far from every type; typical cells score ~0.5."""

from __future__ import annotations

import numpy as np
import pytest

from celltyper.tl import TypeDistance, novelty


def _clusters(rng, centres, n=200):
    latent = np.concatenate([rng.normal(c, 1.0, size=(n, 3)) for c in centres])
    labels = np.repeat([f"type_{i}" for i in range(len(centres))], n)
    return latent, labels


def test_a_type_missing_from_the_reference_is_far_and_novel():
    rng = np.random.default_rng(0)
    latent, labels = _clusters(rng, [(0, 0, 0), (8, 0, 0)])
    distances = TypeDistance(latent, labels)
    held_out, _ = _clusters(rng, [(0, 0, 0), (8, 0, 0)], n=100)
    known, _ = _clusters(rng, [(0, 0, 0), (8, 0, 0)], n=100)
    unseen = rng.normal((0, 8, 0), 1.0, size=(100, 3))

    calibration = distances.distance(held_out)
    novelty_known = novelty(distances.distance(known), calibration)
    novelty_unseen = novelty(distances.distance(unseen), calibration)

    assert 0.35 < np.median(novelty_known) < 0.65  # as typical as the held-out reference cells
    assert (novelty_unseen > 0.99).mean() > 0.95
    assert ((novelty_known >= 0) & (novelty_known <= 1)).all()


def test_distance_is_to_the_nearest_type():
    latent = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [10.0, 10.0], [10.0, 11.0], [11.0, 10.0]])
    labels = ["a", "a", "a", "b", "b", "b"]
    distances = TypeDistance(latent, labels)
    near_a, near_b = distances.distance(np.array([[0.3, 0.3], [10.3, 10.3]]))
    assert near_a == pytest.approx(near_b, rel=1e-6)  # both at the same spot relative to their own type
    assert distances.distance(np.array([[5.0, 5.0]]))[0] > near_a


def test_a_type_with_one_cell_is_refused():
    with pytest.raises(ValueError, match="fewer than 2 reference cells"):
        TypeDistance(np.zeros((3, 2)), ["a", "a", "b"])
