import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from celltyper._split import holdout_split


def test_holdout_split_is_stratified_and_partitions_the_cells():
    labels = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    train, held_out = holdout_split(labels, 0.2, seed=0)
    assert np.array_equal(np.sort(np.concatenate([train, held_out])), np.arange(100))
    assert {label: int((labels[held_out] == label).sum()) for label in "abc"} == {"a": 10, "b": 6, "c": 4}


def test_holdout_split_matches_train_test_split_when_every_label_has_two_cells():
    labels = np.array(["x", "y"] * 20 + ["z"] * 7)
    _, expected = train_test_split(np.arange(len(labels)), test_size=0.25, stratify=labels, random_state=3)
    assert np.array_equal(holdout_split(labels, 0.25, seed=3)[1], np.sort(expected))


def test_holdout_split_keeps_single_cell_labels_in_training_and_handles_zero():
    labels = ["a"] * 10 + ["b"] * 10 + ["lonely"]
    train, held_out = holdout_split(labels, 0.3, seed=1)
    assert 20 in train and 20 not in held_out
    train, held_out = holdout_split(labels, 0.0, seed=1)
    assert len(train) == 21 and len(held_out) == 0


def test_holdout_split_rejects_a_fraction_outside_0_1():
    with pytest.raises(ValueError, match="fraction must be in"):
        holdout_split(["a", "b"], 1.0, seed=0)
