"""The one gene-overlap check: an error under the minimum, a warning under 80 %, silence above; one message."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from celltyper._gene_overlap import MIN_GENE_OVERLAP, WARN_GENE_OVERLAP, check_gene_overlap

GENES = pd.Index([f"gene_{i}" for i in range(100)])


def _found(n: int) -> np.ndarray:
    return np.arange(len(GENES)) < n


def test_the_thresholds():
    assert (MIN_GENE_OVERLAP, WARN_GENE_OVERLAP) == (0.25, 0.8)


@pytest.mark.parametrize("n_found", [0, 24])
def test_under_the_minimum_is_an_error_naming_the_numbers_the_missing_genes_and_the_cause(n_found):
    with pytest.raises(ValueError) as error:
        check_gene_overlap(GENES, _found(n_found), "genes the model reads")
    message = str(error.value)
    assert message.startswith(f"The query has only {n_found} of the 100 genes the model reads ({n_found:.1f}%)")
    assert "at least 25% are needed" in message and f"gene_{n_found}, " in message and ", …" in message
    assert "symbols or Ensembl ids" in message


@pytest.mark.parametrize("n_found", [25, 79])
def test_from_the_minimum_to_the_warning_level_is_a_warning(n_found):
    with pytest.warns(UserWarning, match=rf"The query lacks {100 - n_found} of the 100 genes the model reads"):
        check_gene_overlap(GENES, _found(n_found), "genes the model reads")


@pytest.mark.parametrize("n_found", [80, 100])
def test_from_the_warning_level_on_it_is_silent(n_found):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_gene_overlap(GENES, _found(n_found), "genes the model reads")


def test_the_caller_sets_the_thresholds_and_the_wording():
    with pytest.raises(ValueError, match=r"^The reference has only 49 of the 100 query genes \(49\.0%\); at least 50%"):
        check_gene_overlap(GENES, _found(49), "query genes", searched="the reference", minimum=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_gene_overlap(GENES, _found(1), "query genes", minimum=0, warn_below=0)


def test_an_unordered_mask_names_the_genes_that_are_missing():
    found = np.ones(len(GENES), dtype=bool)
    found[[3, 50]] = False
    with pytest.warns(UserWarning, match=r"lacks 2 of .*missing: gene_3, gene_50\)"):
        check_gene_overlap(GENES, found, "genes the annotator reads", warn_below=0.99)
