"""Label transfer's gene check: enough genes shared, counted on the smaller gene set, so that gene panels pass."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from anndata import AnnData

from celltyper.tl._genes import match_genes
from celltyper.tl._transfer_data import check_shared_genes


def _check(reference_genes: list[str], query_genes: list[str], minimum: float = 0.25) -> None:
    reference, query = (AnnData(var=pd.DataFrame(index=genes)) for genes in (reference_genes, query_genes))
    positions, _ = match_genes(reference, query)
    check_shared_genes(reference.var_names, query.var_names, positions, minimum)


def test_a_query_on_a_gene_panel_passes_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check([f"g{i}" for i in range(100)], ["g3", "g50", "g70", "g99"])  # 4 % of the reference, all of the query


def test_a_panel_query_sharing_too_few_genes_is_refused_by_its_own_count():
    with pytest.raises(ValueError, match=r"^The reference has only 1 of the 5 query genes \(20\.0%\); at least 25%"):
        _check([f"g{i}" for i in range(100)], ["g3", "x1", "x2", "x3", "x4"])


def test_a_smaller_reference_is_counted_on_its_genes():
    with pytest.raises(ValueError, match=r"^The query has only 1 of the 5 reference genes \(20\.0%\).*Missing genes"):
        _check(["g0", "x1", "x2", "x3", "x4"], [f"g{i}" for i in range(100)])
    _check(["g0", "x1", "x2", "x3", "x4"], [f"g{i}" for i in range(100)], minimum=0.2)
