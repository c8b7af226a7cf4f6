"""evaluate_classifier / evaluate_predictions: the held-out scores a trained classifier is reported with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

from celltyper.train import evaluate_classifier, evaluate_predictions, last_epoch_values


class FixedClassifier:
    """A 'trained model' whose probabilities are given: A for the first cells, B for the rest."""

    def __init__(self, probabilities: np.ndarray):
        self.probabilities = probabilities

    def predict(self, adata: AnnData | None = None, soft: bool = False) -> pd.DataFrame:
        assert soft
        return pd.DataFrame(self.probabilities, index=adata.obs_names, columns=["A", "B"])


@pytest.fixture
def cells() -> tuple[AnnData, FixedClassifier]:
    """Ten cells, six A and four B; the model calls the first seven A (one B wrong) with confidence 0.9."""
    truth = ["A"] * 6 + ["B"] * 4
    adata = AnnData(obs=pd.DataFrame({"cell_type": truth}, index=[f"c{i}" for i in range(10)]))
    probabilities = np.array([[0.9, 0.1]] * 7 + [[0.2, 0.8]] * 3)
    return adata, FixedClassifier(probabilities)


def test_evaluate_classifier_writes_the_predictions_and_scores_them(cells):
    adata, model = cells
    evaluation = evaluate_classifier(model, adata, "cell_type", key_added="held_out")
    assert list(adata.obs["held_out_prediction"]) == ["A"] * 7 + ["B"] * 3
    np.testing.assert_allclose(adata.obs["held_out_confidence"], [0.9] * 7 + [0.8] * 3)
    metrics = evaluation.metrics
    assert metrics["accuracy"] == pytest.approx(0.9) and metrics["n_cells"] == 10
    f1_a, f1_b = 2 * 6 / (2 * 6 + 1), 2 * 3 / (2 * 3 + 1)
    assert metrics["per_class_f1"] == pytest.approx({"A": f1_a, "B": f1_b})
    assert metrics["macro_f1"] == pytest.approx((f1_a + f1_b) / 2)
    # ECE: the 0.9 bin is 6/7 right (gap 0.9 - 6/7), the 0.8 bin all right (gap 0.2)
    assert metrics["ece"] == pytest.approx(0.7 * abs(0.9 - 6 / 7) + 0.3 * 0.2)
    assert metrics["mean_confidence"] == pytest.approx(0.87)
    assert set(evaluation.figures) == {"confusion_matrix", "f1_per_class"}
    assert list(evaluation.probabilities.columns) == ["A", "B"]


def test_evaluate_predictions_scores_unknown_as_wrong_and_calibration_on_known_types(cells):
    adata, model = cells
    evaluation = evaluate_classifier(model, adata, "cell_type", figures=False)
    assert evaluation.figures == {}
    adata.obs["celltyper_prediction"] = adata.obs["celltyper_prediction"].cat.add_categories(["Unknown"])
    adata.obs.loc["c0", "celltyper_prediction"] = "Unknown"
    metrics = evaluate_predictions(adata, "cell_type", evaluation.probabilities)
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["ece"] == pytest.approx(evaluation.metrics["ece"])  # from the probabilities, not the labels


def test_evaluate_classifier_names_a_missing_labels_column(cells):
    adata, model = cells
    with pytest.raises(KeyError, match="no column 'celltype'"):
        evaluate_classifier(model, adata, "celltype")


def test_last_epoch_values_skips_step_metrics_and_empty_histories():
    history = {
        "train_loss_epoch": pd.DataFrame({"train_loss_epoch": [3.0, 2.0, 1.5]}),
        "train_loss_step": pd.DataFrame({"train_loss_step": [9.0]}),
        "validation_loss": pd.DataFrame({"validation_loss": [2.5, np.nan]}),
        "lr": pd.DataFrame({"lr": []}),
    }
    assert last_epoch_values(history) == {"train_loss_epoch": 1.5, "validation_loss": 2.5}
