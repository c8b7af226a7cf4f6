"""log1p_cp10k: scanpy's normalize_total(target_sum=1e4) + log1p, or a given library per cell."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
import scipy.sparse as sp

from celltyper._normalization import log1p_cp10k


def _counts(seed: int = 0) -> sp.csr_matrix:
    X = sp.random(60, 40, density=0.3, format="csr", dtype=np.float32, random_state=seed)
    X.data = np.ceil(X.data * 20)
    keep = np.ones(X.shape[0], dtype=np.float32)
    keep[3] = 0  # a cell without counts stays zero
    X = sp.csr_matrix(sp.diags(keep) @ X)
    X.eliminate_zeros()
    return X


def test_matches_scanpy_and_leaves_the_input_alone():
    X = _counts()
    before = X.copy()
    adata = ad.AnnData(X.copy())
    with pytest.warns(UserWarning, match="zero counts"):
        sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)

    out = log1p_cp10k(X)

    assert out.dtype == np.float32 and sp.isspmatrix_csr(out)
    np.testing.assert_allclose(out.toarray(), adata.X.toarray(), rtol=1e-6)
    np.testing.assert_array_equal(X.toarray(), before.toarray())
    assert out[3].nnz == 0 and out.nnz == X.nnz


def test_divides_by_the_given_library():
    X = _counts(1)
    library = np.asarray(X.sum(1)).ravel() * 3 + 5  # totals over more genes than X holds
    expected = np.log1p(X.toarray() / np.maximum(library, 1)[:, None] * 1e4)
    np.testing.assert_allclose(log1p_cp10k(X.toarray(), library).toarray(), expected, rtol=1e-5)
