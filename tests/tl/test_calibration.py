"""Temperature scaling: softens over-confident probabilities, lowers the ECE, never changes the predicted class."""

from __future__ import annotations

import numpy as np
import pytest

from celltyper.tl import fit_temperature
from celltyper.tl._calibration import expected_calibration_error


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


@pytest.mark.parametrize("seed", range(3))
def test_ece_matches_torchmetrics(seed):
    """Same 15 equal-width bins of the top-class probability, L1 (torchmetrics computes in float32)."""
    torch = pytest.importorskip("torch")
    from torchmetrics.functional.classification import multiclass_calibration_error

    rng = np.random.default_rng(seed)
    n, k = 3000, 7
    logits = rng.normal(size=(n, k)) * 3
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    target = np.where(rng.random(n) < 0.6, probabilities.argmax(1), rng.integers(0, k, n))
    classes = [f"type {i}" for i in range(k)]
    reference = multiclass_calibration_error(
        torch.as_tensor(probabilities), torch.as_tensor(target), num_classes=k, n_bins=15, norm="l1"
    )
    ece = expected_calibration_error(np.asarray(classes)[target], probabilities, classes)
    assert ece == pytest.approx(float(reference), abs=1e-5)


def test_ece_counts_labels_outside_the_classes_as_wrong():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1]])  # both in the 0.9 bin, one right, one a novel type
    assert expected_calibration_error(["a", "novel"], probabilities, ["a", "b"]) == pytest.approx(0.4)


def test_temperature_matches_scikit_learn():
    """Same T as ``CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")`` on the same held-out cells."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.datasets import make_classification
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(3000, 20, n_informative=10, n_classes=4, class_sep=0.8, random_state=0)
    classifier = LogisticRegression(C=100, max_iter=1000).fit(x[:1000], y[:1000])
    reference = CalibratedClassifierCV(FrozenEstimator(classifier), method="temperature").fit(x[1000:], y[1000:])
    classes = [str(c) for c in classifier.classes_]
    calibration = fit_temperature(classifier.predict_proba(x[1000:]), np.asarray(classes)[y[1000:]], classes)
    beta = reference.calibrated_classifiers_[0].calibrators[0].beta_  # scikit-learn fits the inverse temperature
    assert calibration.temperature != pytest.approx(1.0, abs=0.02)
    assert calibration.temperature == pytest.approx(1 / beta, rel=1e-3)
    np.testing.assert_allclose(
        calibration.transform(classifier.predict_proba(x[:1000])), reference.predict_proba(x[:1000]), atol=1e-5
    )
