"""Fit a reference classifier with a calibrated confidence: held-out cells for the temperature, then a refit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

from celltyper._keys import UNKNOWN

from ._calibration import TemperatureScaling, fit_temperature
from ._class_prior import change_class_prior
from ._classifiers import LABELS, ReferenceClassifier
from ._transfer_data import CALIBRATION, TRUE_LABELS


@dataclass(frozen=True)
class HeldOut:
    """The held-out reference cells the temperature was fitted on, as a classifier trained without them saw them.

    Attributes
    ----------
    cells
        Their names.
    labels
        Their cell types.
    probabilities
        Their calibrated probabilities under the annotator's class prior, ``(cells, classes)``.
    """

    cells: pd.Index
    labels: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class CalibratedClassifier:
    """A fitted classifier, the class priors its probabilities are moved between, and its temperature."""

    classifier: ReferenceClassifier
    trained_prior: np.ndarray
    target_prior: np.ndarray
    calibration: TemperatureScaling
    held_out: HeldOut

    def probabilities(self, raw: np.ndarray) -> np.ndarray:
        """The classifier's probabilities under the target prior, calibrated."""
        return calibrated(raw, self.trained_prior, self.target_prior, self.calibration)


def calibrated(
    raw: np.ndarray, trained_prior: np.ndarray, target_prior: np.ndarray, calibration: TemperatureScaling
) -> np.ndarray:
    """Probabilities moved from ``trained_prior`` to ``target_prior``, then tempered by ``calibration``."""
    return calibration.transform(change_class_prior(raw, trained_prior, target_prior))


def calibrated_classifier(
    make_classifier: Callable[[], ReferenceClassifier], reference_data: AnnData, class_prior: str
) -> CalibratedClassifier:
    """Fit the classifier and a temperature on the held-out reference cells (``obs[CALIBRATION]``).

    The held-out cells are predicted by a classifier trained without them; a cheap classifier is then fitted again on
    every labelled cell for the queries (as scikit-learn's ``CalibratedClassifierCV(ensemble=False)``).
    """
    held_out = reference_data.obs[CALIBRATION].to_numpy()
    twin = make_classifier().fit(reference_data)
    classes = twin.classes
    held_out_p = twin.predict_proba(reference_data[held_out])
    if twin.refit_on_every_cell:
        every_cell = reference_data.copy()
        every_cell.obs[LABELS] = every_cell.obs[TRUE_LABELS]
        classifier = make_classifier().fit(every_cell)
    else:
        classifier = twin

    labels = reference_data.obs[TRUE_LABELS].to_numpy()
    frequencies = pd.Series(labels[labels != UNKNOWN]).value_counts(normalize=True).reindex(classes).to_numpy()
    uniform = np.full(len(classes), 1 / len(classes))
    trained = frequencies if classifier.learns_frequencies else uniform
    target = uniform if class_prior == "balanced" else frequencies
    calibration = fit_temperature(change_class_prior(held_out_p, trained, target), labels[held_out], classes)
    cells = HeldOut(
        reference_data.obs_names[held_out], labels[held_out], calibrated(held_out_p, trained, target, calibration)
    )
    return CalibratedClassifier(classifier, trained, target, calibration, cells)
