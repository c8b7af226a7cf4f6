"""The one raw-counts check: which values it refuses, with the caller's advice, on dense and sparse matrices."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp

from celltyper._counts import RAW_COUNTS_HINT, check_raw_counts, require_counts, summarize_matrix, warn_noninteger

HINT = "Pass layer='counts'."
LAYOUTS = [np.asarray, sp.csr_matrix, sp.csc_matrix]


def _counts() -> np.ndarray:
    return np.array([[0, 3, 1], [2, 0, 0], [0, 0, 7]], dtype=np.float32)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_raw_counts_pass_and_are_summarized(layout):
    summary = check_raw_counts(layout(_counts()), "adata.X", HINT)
    assert summary.is_integer and summary.max_value == 7 and summary.n_zero_cells == 0


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("value", "found"),
    [(np.nan, "1 NaN or infinite value"), (np.inf, "1 NaN or infinite value"), (-2.0, "1 negative value")],
)
def test_nan_inf_and_negative_values_are_refused_with_the_callers_hint(layout, value, found):
    X = _counts()
    X[0, 1] = value
    with pytest.raises(ValueError, match=rf"^adata\.layers\['counts'\] does not hold raw counts: it has {found}\. "):
        check_raw_counts(layout(X), "adata.layers['counts']", HINT)
    with pytest.raises(ValueError, match=f"{found}. {HINT}$"):
        check_raw_counts(layout(X), "adata.X", HINT, allow_noninteger=True)  # refused either way


@pytest.mark.parametrize("layout", LAYOUTS)
def test_non_integers_are_refused_unless_allowed_and_then_counted(layout):
    X = np.log1p(_counts())
    with pytest.raises(ValueError, match=rf"it has 4 non-integer values\. {HINT}"):
        check_raw_counts(layout(X), "adata.X", HINT)
    assert check_raw_counts(layout(X), "adata.X", HINT, allow_noninteger=True).n_noninteger == 4


def test_every_kind_of_bad_value_is_listed():
    X = np.array([[np.nan, -1.0, 0.5, -0.5]])
    with pytest.raises(ValueError, match=r"1 NaN or infinite value, 2 negative values and 2 non-integer values\."):
        check_raw_counts(X, "adata.X", HINT)


@pytest.mark.parametrize("X", [np.zeros((0, 3)), np.zeros((3, 0)), sp.csr_matrix((0, 3)), sp.csr_matrix((4, 2))])
def test_empty_matrices_pass(X):
    assert check_raw_counts(X, "adata.X").n_nonfinite == 0


def test_the_default_hint_says_what_to_do():
    with pytest.raises(ValueError, match=re.escape(RAW_COUNTS_HINT)):
        check_raw_counts(np.array([[0.5]]), "adata.X")


def test_require_counts_reads_a_summary_and_the_warning_names_the_count():
    summary = summarize_matrix(sp.csr_matrix(np.array([[0.5, 1.5, 2.0]])))
    require_counts(summary, "adata.X", HINT, allow_noninteger=True)
    with pytest.warns(UserWarning, match=r"adata\.X holds 2 non-integer values, so it is probably not raw counts\. "):
        warn_noninteger(summary.n_noninteger, "adata.X", HINT)
