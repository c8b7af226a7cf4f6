"""Models set up on a backed h5ad (anndata's backed="r"): same model as in memory, training and inference work."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_selection import f_classif

import celltyper as ct
from celltyper._counts import summarize_matrix
from celltyper._normalization import log1p_cp10k
from celltyper.model import SemiSupervisedCountVAE
from celltyper.model._streaming import ClassStatistics, row_block, row_chunks, rows_at

SMALL = {"n_genes": 100, "n_tokens": 16, "d_model": 16, "n_layers": 1}


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    """Simulated counts in X of an h5ad file, and the same cells in memory."""
    adata = ct.datasets.simulate(n_cells=300, n_genes=150, n_types=3, seed=1)
    del adata.layers["counts"]
    path = tmp_path_factory.mktemp("backed") / "cells.h5ad"
    adata.write_h5ad(path)
    return path, adata


def test_chunked_f_statistic_matches_scikit_learn(on_disk):
    _, adata = on_disk
    codes = adata.obs["cell_type"].cat.codes.to_numpy().copy()
    codes[::5] = 3  # unlabeled cells are skipped
    chunks = ((log1p_cp10k(chunk), codes[rows]) for rows, chunk in row_chunks(adata.X, chunk_size=70))
    statistics = ClassStatistics.accumulate(chunks, 3)
    labelled = codes < 3
    e = log1p_cp10k(adata.X[labelled])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.nan_to_num(f_classif(e.astype(np.float64), codes[labelled])[0], nan=-1.0)
    np.testing.assert_allclose(statistics.f_statistic(), expected, rtol=1e-4)
    np.testing.assert_allclose(statistics.mean(), np.asarray(e.mean(0)).ravel(), rtol=1e-5)
    assert statistics.n.tolist() == np.bincount(codes[labelled], minlength=3).tolist()


def test_transformer_on_backed_file(on_disk):
    path, adata = on_disk
    backed = ad.read_h5ad(path, backed="r")
    ct.CellTypeTransformer.setup_anndata(backed, labels_key="cell_type")
    model = ct.CellTypeTransformer(backed, **SMALL)
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    in_memory = ct.CellTypeTransformer(adata, **SMALL)
    assert (model.module.gene_index == in_memory.module.gene_index).all()
    np.testing.assert_allclose(model.module.gene_mean, in_memory.module.gene_mean, rtol=1e-5)

    model.train(max_epochs=2, enable_progress_bar=False)
    probabilities = model.predict(soft=True, batch_size=64)  # the backed reference, read 64 cells at a time
    np.testing.assert_allclose(probabilities.to_numpy(), model.predict(adata, soft=True).to_numpy(), atol=1e-5)
    assert backed.isbacked


def test_countvae_on_backed_file(on_disk):
    path, adata = on_disk
    backed = ad.read_h5ad(path, backed="r")
    ct.CountVAE.setup_anndata(backed, batch_key="batch")
    model = ct.CountVAE(backed, n_hidden=16, gene_likelihood="nb")
    model.train(max_epochs=2, enable_progress_bar=False)
    latent = model.get_latent_representation()
    assert latent.shape == (300, 10) and np.isfinite(latent).all()
    np.testing.assert_allclose(latent, model.get_latent_representation(adata.copy()), atol=1e-5)


def test_semisupervised_predict_on_backed_file_keeps_cells_in_order(on_disk):
    path, adata = on_disk
    backed = ad.read_h5ad(path, backed="r")
    SemiSupervisedCountVAE.setup_anndata(backed, labels_key="cell_type")
    model = SemiSupervisedCountVAE(backed, n_hidden=16)
    model.train(max_epochs=2, enable_progress_bar=False)
    in_memory = model.predict(adata.copy(), soft=True)
    np.testing.assert_allclose(model.predict(soft=True).to_numpy(), in_memory.to_numpy(), atol=1e-5)
    rows = [250, 3, 77, 4]  # not increasing: h5py reads them sorted; each cell must keep its own probabilities
    subset = model.predict(indices=rows, soft=True)
    assert subset.index.tolist() == adata.obs_names[rows].tolist()
    np.testing.assert_allclose(subset.to_numpy(), in_memory.iloc[rows].to_numpy(), atol=1e-5)


def test_row_blocks_and_value_checks_agree_with_plain_slicing():
    X = sp.random(300, 40, density=0.3, format="csr", random_state=0, dtype=np.float32)
    X.data = np.round(X.data * 10) + 1
    for start, stop in ((0, 64), (256, 400), (100, 100)):
        np.testing.assert_array_equal(row_block(X, start, stop).toarray(), X[start:stop].toarray())
    rows = np.array([250, 3, 77, 4])
    np.testing.assert_array_equal(rows_at(X, rows).toarray(), X[rows].toarray())
    X.data[[3, 4, 5, 7]] = [np.nan, np.inf, -2, 0.5]
    X[10] = 0  # a cell without counts
    for matrix in (X, X.toarray()):
        summary = summarize_matrix(matrix, chunk_size=64)
        assert (summary.n_nonfinite, summary.n_negative, summary.n_noninteger, summary.n_zero_cells) == (2, 1, 1, 1)
        assert summary.max_value == 11


@pytest.mark.parametrize(
    ("rows", "n_zero_cells"),
    [
        ([[1, 2], [0, 0], [3, 0]], 1),  # positive values: an empty row
        ([[1, 2], [0, 0], [5, -5]], 2),  # a negative value: a row that sums to 0
    ],
)
def test_zero_cells_of_csr_with_and_without_stored_zeros(rows, n_zero_cells):
    X = sp.csr_matrix(np.array(rows, dtype=np.float32))
    stored_zero = X.copy()
    stored_zero.data[0] = 0  # a stored 0 makes the first row [0, 2]: not empty of counts either
    with_stored_zero_row = sp.csr_matrix((np.zeros(1, np.float32), [0], [0, 1, 1, 1]), shape=(3, 2))
    assert summarize_matrix(X).n_zero_cells == n_zero_cells
    assert summarize_matrix(stored_zero).n_zero_cells == n_zero_cells
    assert summarize_matrix(with_stored_zero_row).n_zero_cells == 3
