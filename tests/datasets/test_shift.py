"""shift_technology: the same cells as another platform would count them — thinned counts, gene by gene."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import celltyper as ct


@pytest.fixture(scope="module")
def kang():
    return ct.datasets.kang_ifnb()


def test_counts_are_thinned_gene_by_gene_and_the_input_is_untouched(kang):
    before = kang.layers["counts"].copy()
    shifted = ct.datasets.shift_technology(kang, layer="counts", capture_sd=0.7, depth=0.5, lost_fraction=0.1, seed=0)

    counts, original = shifted.layers["counts"], kang.layers["counts"]
    assert (kang.layers["counts"] != before).nnz == 0  # nothing changed in place
    assert shifted.obs_names.equals(kang.obs_names) and shifted.var_names.equals(kang.var_names)
    assert (shifted.X != counts).nnz == 0 and np.all(counts.data == np.round(counts.data))
    assert ((original - counts).toarray() >= 0).all()  # thinning only removes counts

    capture = shifted.var["capture_rate"].to_numpy()
    kept = np.asarray(counts.sum(0)).ravel() / np.maximum(np.asarray(original.sum(0)).ravel(), 1)
    abundant = np.asarray(original.sum(0)).ravel() > 500
    np.testing.assert_allclose(kept[abundant], capture[abundant], atol=0.1)  # each gene kept at its own rate
    assert np.median(capture[capture > 0]) == pytest.approx(0.5, abs=0.1)  # around the new depth
    assert np.std(np.log(capture[(capture > 0) & (capture < 1)])) > 0.4  # log-normal spread between genes

    mean = np.asarray(original.mean(0)).ravel()
    detected = np.flatnonzero(mean > 0)
    lost = detected[np.argsort(mean[detected], kind="stable")[: round(0.1 * detected.size)]]
    assert (capture[lost] == 0).all() and np.asarray(counts[:, lost].sum()) == 0  # weakest genes not detected
    assert sp.issparse(shifted.X)


def test_same_seed_same_platform(kang):
    a = ct.datasets.shift_technology(kang, layer="counts", seed=3)
    b = ct.datasets.shift_technology(kang, layer="counts", seed=3)
    c = ct.datasets.shift_technology(kang, layer="counts", seed=4)
    assert (a.X != b.X).nnz == 0 and (a.X != c.X).nnz > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 1.5}, "depth"),
        ({"depth": 0.0}, "depth"),
        ({"capture_sd": -1.0}, "capture_sd"),
        ({"lost_fraction": 1.0}, "lost_fraction"),
        ({"layer": "raw"}, "layer 'raw'"),
    ],
)
def test_bad_arguments_are_clear_errors(kang, kwargs, match):
    with pytest.raises((ValueError, KeyError), match=match):
        ct.datasets.shift_technology(kang, **kwargs)


def test_normalized_values_are_refused(kang):
    normalized = kang.copy()
    normalized.X = normalized.X * 0.5
    with pytest.raises(ValueError, match="non-negative integers"):
        ct.datasets.shift_technology(normalized)
