from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

import celltyper as ct


@pytest.fixture(scope="module")
def _zheng_small() -> ad.AnnData:
    adata = ct.datasets.zheng_sorted()
    keep = np.random.default_rng(0).choice(adata.n_obs, 400, replace=False)
    return adata[np.sort(keep)].copy()


@pytest.fixture
def zheng_small(_zheng_small) -> ad.AnnData:
    """400 sorted PBMC with all genes (12 of them mitochondrial); a fresh copy per test."""
    return _zheng_small.copy()


def test_prepare_writes_what_the_docstring_says(zheng_small):
    counts = zheng_small.X.copy()
    summary = ct.pp.prepare(zheng_small, n_top_genes=500, n_pcs=20, umap=False, min_cells=3)

    assert isinstance(summary, ct.pp.PrepareSummary)
    assert summary.n_cells_after == zheng_small.n_obs and summary.n_genes_after == zheng_small.n_vars
    assert summary.n_genes_before == counts.shape[1]
    assert summary.genes_failing_min_cells == counts.shape[1] - zheng_small.n_vars > 0
    assert summary.n_mt_genes == 12
    # raw counts are kept, X is log1p(CP10k)
    assert sp.issparse(zheng_small.layers["counts"])
    np.testing.assert_allclose(np.expm1(zheng_small.X.toarray()).sum(1), 1e4, rtol=1e-3)
    np.testing.assert_array_equal(zheng_small.layers["counts"].sum(1), zheng_small.obs[["total_counts"]].to_numpy())
    assert (zheng_small.obs["pct_counts_mt"] > 0).all()
    assert zheng_small.var["highly_variable"].sum() == 500
    assert zheng_small.obsm["X_pca"].shape == (zheng_small.n_obs, 20)
    assert "X_umap" not in zheng_small.obsm
    stored = zheng_small.uns["celltyper_prepare"]
    assert stored["summary"]["n_cells_after"] == zheng_small.n_obs
    assert len(stored["qc_before"]["total_counts"]) == summary.n_cells_before


def test_filters_remove_exactly_the_failing_cells(zheng_small):
    total = np.asarray(zheng_small.X.sum(1)).ravel()
    mt = zheng_small.var_names.str.startswith("MT-")
    pct_mt = 100 * np.asarray(zheng_small.X[:, mt].sum(1)).ravel() / total
    limit = float(np.percentile(pct_mt, 80))
    summary = ct.pp.prepare(zheng_small, max_pct_mt=limit, min_counts=2500, n_top_genes=300, umap=False)

    expected = (pct_mt <= limit) & (total >= 2500)
    assert summary.n_cells_after == expected.sum() < summary.n_cells_before
    assert summary.cells_failing["max_pct_mt"] == (pct_mt > limit).sum()
    assert summary.cells_failing["min_counts"] == (total < 2500).sum()
    # QC columns are recomputed on the genes that remain, so allow for genes dropped by min_cells
    assert (zheng_small.obs["total_counts"] >= 2500 - 50).all()
    assert "removed" in str(summary)


def test_refuses_data_that_are_not_counts_and_reads_a_counts_layer(zheng_small):
    ct.pp.prepare(zheng_small, n_top_genes=300, umap=False)
    with pytest.raises(ValueError, match="does not hold raw counts"):
        ct.pp.prepare(zheng_small)
    again = ct.pp.prepare(zheng_small, layer="counts", n_top_genes=300, umap=False, copy=True)
    assert again.n_obs == zheng_small.n_obs


def test_clear_errors_for_wrong_keys_and_values(zheng_small):
    with pytest.raises(KeyError, match="batch_key='donor' is not a column"):
        ct.pp.prepare(zheng_small, batch_key="donor")
    with pytest.raises(KeyError, match="layer='raw'"):
        ct.pp.prepare(zheng_small, layer="raw")
    with pytest.raises(ValueError, match="combat=True needs batch_key"):
        ct.pp.prepare(zheng_small, combat=True)
    with pytest.raises(ValueError, match="Every cell fails"):
        ct.pp.prepare(zheng_small, min_genes=10**6)


def test_copy_leaves_the_input_untouched(zheng_small):
    before = zheng_small.X.copy()
    prepared = ct.pp.prepare(zheng_small, n_top_genes=300, umap=False, copy=True)
    assert isinstance(prepared, ad.AnnData)
    assert (zheng_small.X != before).nnz == 0
    assert "celltyper_prepare" not in zheng_small.uns and "celltyper_prepare" in prepared.uns


def test_no_mitochondrial_warning_without_the_mitochondrial_filter(kang_small):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        summary = ct.pp.prepare(kang_small[:300].copy(), max_pct_mt=None, n_top_genes=200, umap=False, min_genes=50)
    assert summary.n_mt_genes == 0 and "max_pct_mt" not in summary.cells_failing


def test_batch_aware_genes_combat_and_umap(kang_small):
    adata = kang_small[:600].copy()
    with pytest.warns(UserWarning, match="No gene name starts with 'MT-'"):
        summary = ct.pp.prepare(adata, batch_key="condition", combat=True, n_top_genes=200, n_pcs=10, min_genes=50)
    assert "combat" in summary.steps
    assert "highly_variable_nbatches" in adata.var
    assert isinstance(adata.X, np.ndarray) and sp.issparse(adata.layers["log1p"])
    # ComBat moves the per-batch gene means together
    gap = lambda X: np.abs(  # noqa: E731
        np.asarray(X[adata.obs["condition"].to_numpy() == "control"].mean(0)).ravel()
        - np.asarray(X[adata.obs["condition"].to_numpy() == "stimulated"].mean(0)).ravel()
    ).mean()
    assert gap(adata.X) < gap(adata.layers["log1p"])
    assert adata.obsm["X_umap"].shape == (adata.n_obs, 2)
    assert "connectivities" in adata.obsp
