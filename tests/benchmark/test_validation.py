"""Scoring of the validation suite: "Unknown" is a miss, small types are not scored, AUROC ranks novel cells."""

from __future__ import annotations

import numpy as np
import pytest

from celltyper.benchmark._suite import PBMC_LABELS
from celltyper.benchmark._validation_scores import novel_type_scores, transfer_scores


def test_unknown_counts_as_a_miss_and_types_under_ten_cells_are_not_scored():
    truth = np.array(["a"] * 20 + ["b"] * 20 + ["c"] * 5)
    prediction = truth.copy().astype(object)
    prediction[:4] = "Unknown"  # 4 of 20 "a" cells
    scores = transfer_scores(truth, prediction)
    f1_a = 2 * 16 / (2 * 16 + 4)  # precision 1, recall 16/20
    assert scores["macro_f1"] == pytest.approx((f1_a + 1.0) / 2)  # "c" (5 cells) not scored
    assert scores["unknown"] == pytest.approx(4 / 45)
    assert scores["worst_type_unknown"] == pytest.approx(0.2) and scores["worst_type"] == "a"


def test_novel_type_scores_rank_and_cost():
    truth = np.array(["new"] * 10 + ["old"] * 30)
    score = np.r_[np.linspace(0.6, 1.0, 10), np.linspace(0.0, 0.7, 30)]
    unknown = score > 0.65
    result = novel_type_scores(truth == "new", score, unknown, truth)
    assert 0.9 < result["auroc"] < 1.0
    assert result["novel_called_unknown"] == pytest.approx(0.8)  # 0.6 and 0.64 are below 0.65
    assert result["known_called_unknown"] == pytest.approx(3 / 30)
    assert result["worst_known_type_unknown"] == pytest.approx(3 / 30)


def test_pbmc_labels_are_harmonised_to_one_vocabulary():
    assert set(PBMC_LABELS.values()) == {
        "B",
        "CD4 T",
        "CD8 T",
        "NK",
        "CD14 Mono",
        "FCGR3A Mono",
        "DC",
        "Megakaryocyte",
        "Monocyte",
    }
