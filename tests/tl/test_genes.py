"""Gene alignment: matching by symbol or Ensembl id, zero-filling, the overlap threshold, the query left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata import AnnData

from celltyper.tl import align_genes


def _adata(genes: list[str], values: np.ndarray, ids: list[str] | None = None) -> AnnData:
    var = pd.DataFrame(index=genes)
    if ids is not None:
        var["gene_ids"] = ids
    adata = AnnData(X=sp.csr_matrix(values.astype(np.float32)), var=var)
    adata.layers["counts"] = adata.X.copy()
    return adata


def test_aligns_reorders_and_zero_fills_without_touching_the_query():
    reference = _adata(["A", "B", "C", "D"], np.zeros((2, 4)))
    query = _adata(["D", "X", "B", "A"], np.array([[1, 2, 3, 4], [5, 6, 7, 8]]))
    before = query.layers["counts"].toarray().copy(), list(query.var_names)

    with pytest.warns(UserWarning, match="lacks 1 of the 4 reference genes"):
        aligned, overlap = align_genes(query, reference, layer="counts")

    assert list(aligned.var_names) == ["A", "B", "C", "D"]
    np.testing.assert_array_equal(aligned.layers["counts"].toarray(), [[4, 3, 0, 1], [8, 7, 0, 5]])
    assert overlap.n_found == 3 and overlap.fraction == pytest.approx(0.75) and overlap.missing == ["C"]
    np.testing.assert_array_equal(query.layers["counts"].toarray(), before[0])
    assert list(query.var_names) == before[1]


def test_matches_by_ensembl_id_when_symbols_differ():
    reference = _adata(["CD3E", "MS4A1"], np.zeros((1, 2)), ids=["ENSG00000198851", "ENSG00000156738"])
    query = _adata(["MS4A1-alias", "CD3E-alias"], np.array([[7, 9]]), ids=["ENSG00000156738.5", "ENSG00000198851"])

    aligned, overlap = align_genes(query, reference, layer="counts")

    np.testing.assert_array_equal(aligned.layers["counts"].toarray(), [[9, 7]])
    assert overlap.fraction == 1.0 and overlap.matched_by.startswith("Ensembl")


def test_refuses_a_low_overlap_and_names_the_numbers():
    reference = _adata([f"g{i}" for i in range(10)], np.zeros((1, 10)))
    query = _adata(["g0", "g1", "other"], np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"The query has only 2 of the 10 reference genes \(20.0%\).*at least 25%"):
        align_genes(query, reference, layer="counts")
    with pytest.warns(UserWarning, match="lacks 8 of the 10 reference genes"):
        aligned, overlap = align_genes(query, reference, layer="counts", min_gene_overlap=0.2)
    assert overlap.n_found == 2 and aligned.shape == (1, 10)


def test_missing_layer_is_a_clear_error():
    reference = _adata(["A"], np.zeros((1, 1)))
    with pytest.raises(KeyError, match="layer 'raw'"):
        align_genes(reference, reference, layer="raw")
