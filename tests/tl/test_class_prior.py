"""change_class_prior: Bayes' rule for a new class prior."""

from __future__ import annotations

import numpy as np
import pytest

from celltyper.tl import change_class_prior


def _posterior(likelihood: np.ndarray, prior: np.ndarray) -> np.ndarray:
    joint = likelihood * prior
    return joint / joint.sum(axis=1, keepdims=True)


def test_swaps_the_prior_and_keeps_the_likelihood():
    likelihood = np.random.default_rng(0).random((50, 4))
    trained, new = np.array([0.6, 0.2, 0.15, 0.05]), np.full(4, 0.25)

    moved = change_class_prior(_posterior(likelihood, trained), trained, new)

    np.testing.assert_allclose(moved, _posterior(likelihood, new), rtol=1e-12)
    np.testing.assert_allclose(change_class_prior(moved, new, trained), _posterior(likelihood, trained), rtol=1e-12)


def test_refuses_a_class_the_classifier_never_saw():
    with pytest.raises(ValueError, match="trained_prior must be positive"):
        change_class_prior(np.full((2, 2), 0.5), np.array([1.0, 0.0]), np.full(2, 0.5))


@pytest.mark.parametrize(
    ("trained", "new", "match"),
    [
        (np.full(3, 1 / 3), np.full(2, 0.5), "one value per class"),
        (np.full(2, 0.5), np.array([1.5, -0.5]), "new_prior must be non-negative"),
        (np.full(2, 0.5), np.zeros(2), "at least one positive class"),
    ],
)
def test_refuses_priors_that_do_not_fit(trained, new, match):
    with pytest.raises(ValueError, match=match):
        change_class_prior(np.full((2, 2), 0.5), trained, new)
