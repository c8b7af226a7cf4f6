"""Temperature scaling: softens over-confident probabilities, lowers the ECE, never changes the predicted class."""

from __future__ import annotations

import numpy as np
import pytest

from celltyper.tl import fit_temperature


def _overconfident(n: int = 2000, seed: int = 0):
    """Probabilities of 0.99 on the predicted class, which is right only 70 % of the time."""
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c"]
    truth = rng.integers(0, 3, n)
    predicted = np.where(rng.random(n) < 0.7, truth, (truth + 1) % 3)
    probabilities = np.full((n, 3), 0.005)
    probabilities[np.arange(n), predicted] = 0.99
    return probabilities, np.asarray(classes)[truth], classes


def test_softens_overconfident_probabilities():
    probabilities, labels, classes = _overconfident()
    calibration = fit_temperature(probabilities, labels, classes)
    calibrated = calibration.transform(probabilities)

    assert calibration.temperature > 1
    assert calibration.ece_before > 0.25
    assert calibration.ece_after < 0.05
    assert calibrated.max(1).mean() == pytest.approx(0.7, abs=0.03)
    np.testing.assert_array_equal(calibrated.argmax(1), probabilities.argmax(1))
    np.testing.assert_allclose(calibrated.sum(1), 1.0)


def test_rejects_labels_outside_the_classes():
    probabilities, labels, classes = _overconfident(10)
    labels = labels.astype(object)
    labels[0] = "novel"
    with pytest.raises(ValueError, match="novel"):
        fit_temperature(probabilities, labels, classes)
