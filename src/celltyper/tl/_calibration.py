"""Temperature scaling of class probabilities, fitted on held-out labelled cells (Guo et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

_EPS = 1e-12


def expected_calibration_error(
    y_true: Sequence[str] | np.ndarray, probabilities, classes: Sequence[str], n_bins: int = 15
) -> float:
    """ECE of the top-class confidence: ``Σ_b |B_b|/n · |accuracy(B_b) − confidence(B_b)|`` over equal-width bins.

    The same number as torchmetrics' ``multiclass_calibration_error(n_bins=15, norm="l1")`` (which computes in
    float32), but on class names: a label outside ``classes`` (a query type the reference lacks) counts as wrong.
    ``docs/design/libraries.md`` says why this is not delegated.

    Parameters
    ----------
    y_true
        True label of each cell.
    probabilities
        ``(cells, classes)`` predicted probabilities.
    classes
        Class of each column of ``probabilities``.
    n_bins
        Number of equal-width confidence bins over ``[0, 1]``.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    class_names = np.asarray(classes, dtype=object)
    confidence = probabilities.max(1)
    correct = class_names[probabilities.argmax(1)] == np.asarray(y_true, dtype=object)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def _tempered_log_probabilities(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``log softmax(log p / T)``: the classifier's logits (up to a constant per cell) divided by ``T``."""
    return log_softmax(np.log(np.clip(probabilities, _EPS, 1.0)) / temperature, axis=1)


@dataclass(frozen=True)
class TemperatureScaling:
    """A fitted temperature ``T``: calibrated probabilities are ``softmax(log p / T)``.

    ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens under-confident ones; the predicted class
    never changes. ``ece_before`` / ``ece_after`` are the expected calibration errors (15 bins) of the top-class
    probability on the ``n_cells`` held-out cells the temperature was fitted on.
    """

    temperature: float
    ece_before: float
    ece_after: float
    n_cells: int

    def transform(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, ``(cells, classes)``."""
        return np.exp(_tempered_log_probabilities(np.asarray(probabilities, dtype=float), self.temperature))


def fit_temperature(
    probabilities: np.ndarray,
    labels: Sequence[str],
    classes: Sequence[str],
    bounds: tuple[float, float] = (0.05, 20.0),
) -> TemperatureScaling:
    """Fit ``T`` by minimizing the negative log-likelihood of ``labels`` under ``softmax(log probabilities / T)``.

    The same ``T`` as scikit-learn's ``CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")``, but fitted
    on probabilities rather than through an estimator's ``predict_proba``: label transfer calibrates the probabilities
    of any classifier after a change of class priors (``docs/design/libraries.md``).

    Parameters
    ----------
    probabilities
        ``(cells, classes)`` predicted probabilities of held-out labelled cells.
    labels
        Their true labels; each must be one of ``classes``.
    classes
        Class of each column of ``probabilities``.
    bounds
        Range searched for ``T``.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    truth = np.asarray(labels, dtype=object)
    classes = list(classes)
    unknown = sorted(set(truth) - set(classes))
    if unknown:
        raise ValueError(f"Calibration labels {unknown} are not among the classifier's classes {classes}.")
    if probabilities.shape != (truth.size, len(classes)):
        raise ValueError(f"probabilities has shape {probabilities.shape}; expected ({truth.size}, {len(classes)}).")
    target = np.array([classes.index(label) for label in truth])

    def negative_log_likelihood(log_temperature: float) -> float:
        log_p = _tempered_log_probabilities(probabilities, float(np.exp(log_temperature)))
        return float(-log_p[np.arange(target.size), target].mean())

    fit = minimize_scalar(negative_log_likelihood, bounds=np.log(bounds), method="bounded")
    temperature = float(np.exp(fit.x))
    calibrated = np.exp(_tempered_log_probabilities(probabilities, temperature))
    return TemperatureScaling(
        temperature=temperature,
        ece_before=expected_calibration_error(truth, probabilities, classes),
        ece_after=expected_calibration_error(truth, calibrated, classes),
        n_cells=int(truth.size),
    )
