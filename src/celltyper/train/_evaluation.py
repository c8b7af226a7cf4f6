"""How well a trained classifier names labelled cells: the metrics and figures of a held-out evaluation.

:func:`evaluate_classifier` predicts with a trained model (:class:`~celltyper.CellTypeTransformer`,
:class:`~celltyper.SemiSupervisedCountVAE`), writes the predictions to ``obs`` as ``annotate`` does, and scores them;
:func:`evaluate_predictions` scores predictions already in ``obs`` (a streamed file, an annotator's output).
Evaluation closes a training run, so it lives beside the training loop rather than in :mod:`celltyper.tl`
(annotation) or :mod:`celltyper.benchmark` (the comparison of methods, whose metric functions it reuses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.figure import Figure

from celltyper import _keys as keys


class SoftClassifier(Protocol):
    """A trained model whose ``predict(adata, soft=True)`` returns a ``DataFrame`` cells × cell types."""

    def predict(self, adata: AnnData | None = None, soft: bool = False) -> Any: ...


@dataclass
class ClassifierEvaluation:
    """What :func:`evaluate_classifier` measured.

    Attributes
    ----------
    metrics
        ``accuracy``, ``macro_f1``, ``per_class_f1``, ``ece`` (expected calibration error of the top probability),
        ``n_cells`` and ``mean_confidence``; plain numbers, ready for JSON.
    probabilities
        The model's probabilities, cells × cell types.
    figures
        ``"confusion_matrix"`` and ``"f1_per_class"`` (:func:`celltyper.pl.confusion_matrix`,
        :func:`celltyper.pl.f1_bars`); empty with ``figures=False``.
    """

    metrics: dict[str, Any]
    probabilities: pd.DataFrame = field(repr=False)
    figures: dict[str, Figure] = field(default_factory=dict, repr=False)


def evaluate_predictions(
    adata: AnnData, labels_key: str, probabilities: pd.DataFrame, key_added: str = keys.KEY_ADDED
) -> dict[str, Any]:
    """Score the predictions in ``adata.obs`` against the known labels in ``adata.obs[labels_key]``.

    Parameters
    ----------
    adata
        Cells with ``obs[labels_key]`` and the ``f"{key_added}_prediction"`` / ``_confidence`` columns.
    labels_key
        Column of ``adata.obs`` with the known cell types; every type present is scored (``"Unknown"`` predictions
        count as wrong).
    probabilities
        Cells × cell types the classifier knows; the calibration error is measured on the cells of those types.
    key_added
        Prefix of the prediction columns.

    Returns
    -------
    The metrics described in :class:`ClassifierEvaluation`.
    """
    from celltyper.benchmark._metrics import classification_metrics  # the harness is not imported with the package
    from celltyper.tl._calibration import expected_calibration_error

    truth = adata.obs[labels_key].astype(str).to_numpy()
    predicted = adata.obs[keys.prediction_key(key_added)].astype(str).to_numpy()
    metrics = classification_metrics(truth, predicted, labels=sorted(set(truth)))
    known = np.isin(truth, probabilities.columns)
    metrics["ece"] = expected_calibration_error(
        truth[known], probabilities.to_numpy()[known], list(probabilities.columns)
    )
    metrics["n_cells"] = int(len(truth))
    metrics["mean_confidence"] = float(adata.obs[keys.confidence_key(key_added)].mean())
    return metrics


def evaluate_classifier(
    model: SoftClassifier,
    adata: AnnData,
    labels_key: str,
    *,
    key_added: str = keys.KEY_ADDED,
    figures: bool = True,
) -> ClassifierEvaluation:
    """Predict the cells of ``adata`` with ``model``, write the predictions to ``obs`` and score them.

    Parameters
    ----------
    model
        A trained classifier (:class:`~celltyper.CellTypeTransformer`, :class:`~celltyper.SemiSupervisedCountVAE`).
    adata
        Labelled cells the model was not trained on, with the counts the model reads.
    labels_key
        Column of ``adata.obs`` with their known cell types.
    key_added
        Prefix of the ``obs`` columns written: ``f"{key_added}_prediction"`` (most probable type, categorical) and
        ``f"{key_added}_confidence"`` (its probability).
    figures
        Also draw the confusion matrix and the per-class F1 bars.

    Returns
    -------
    The metrics, the probabilities and the figures.

    Examples
    --------
    >>> from celltyper.train import evaluate_classifier
    >>> evaluation = evaluate_classifier(model, held_out, "cell_type")
    >>> evaluation.metrics["macro_f1"]
    >>> evaluation.figures["confusion_matrix"].savefig("confusion.png")
    """
    if labels_key not in adata.obs:
        raise KeyError(f"adata.obs has no column {labels_key!r}; columns are {list(adata.obs.columns)}.")
    probabilities = model.predict(adata, soft=True)
    values = probabilities.to_numpy()
    adata.obs[keys.prediction_key(key_added)] = pd.Categorical(
        probabilities.columns[values.argmax(1)], categories=probabilities.columns
    )
    adata.obs[keys.confidence_key(key_added)] = values.max(1)
    evaluation = ClassifierEvaluation(evaluate_predictions(adata, labels_key, probabilities, key_added), probabilities)
    if figures:
        from celltyper import pl  # pl imports scanpy, which the models (importing this package) do not need

        prediction = keys.prediction_key(key_added)
        evaluation.figures = {
            "confusion_matrix": pl.confusion_matrix(adata, labels_key, prediction),
            "f1_per_class": pl.f1_bars(adata, labels_key, prediction),
        }
    return evaluation


def last_epoch_values(history: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The last logged value of every per-epoch metric of a model's ``history`` (``*_step`` metrics left out)."""
    values = {}
    for key, frame in history.items():
        if key.endswith("_step") or len(frame) == 0:
            continue
        value = pd.to_numeric(frame.iloc[:, 0], errors="coerce").dropna()
        if len(value):
            values[key] = float(value.iloc[-1])
    return values
