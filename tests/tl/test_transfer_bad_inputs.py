"""Issue 19, item 4: transfer_labels finds bad inputs before it trains anything, and empty query cells are Unknown."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest

import celltyper as ct
from celltyper.tl import _annotator_fit, _latent


def _adata(n_cells: int = 60, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    types = np.where(np.arange(n_cells) % 2, "A", "B")
    rates = np.where(
        (types == "A")[:, None], np.r_[np.full(20, 6.0), np.full(20, 1.0)], np.r_[np.full(20, 1.0), np.full(20, 6.0)]
    )
    adata = ad.AnnData(X=rng.poisson(rates).astype(np.float32))
    adata.obs_names = [f"c{i}" for i in range(n_cells)]
    adata.var_names = [f"g{i}" for i in range(40)]
    adata.obs["cell_type"] = types
    return adata


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if transfer_labels starts training a model."""

    def refuse(*args, **kwargs):
        raise AssertionError("transfer_labels trained a model before finding the bad input")

    monkeypatch.setattr(_latent, "train_reference_model", refuse)
    monkeypatch.setattr(_annotator_fit, "train_reference_model", refuse)


def _float_query(query):
    query.X = query.X + 0.5


def _nan_query(query):
    query.X[0, 0] = np.nan


def _one_cell_class(reference):
    reference.obs["cell_type"] = reference.obs["cell_type"].astype(object)
    reference.obs.iloc[0, reference.obs.columns.get_loc("cell_type")] = "C"


@pytest.mark.parametrize(
    ("spoil", "which", "message"),
    [
        (_float_query, "query", "non-integer values"),
        (_nan_query, "query", "NaN or infinite"),
        (_one_cell_class, "reference", "single reference cell"),
    ],
    ids=["float query", "NaN query", "one-cell class"],
)
def test_bad_inputs_are_found_before_training(no_training, spoil, which, message):
    reference, query = _adata(), _adata(30, seed=1)
    spoil(reference if which == "reference" else query)
    with pytest.raises(ValueError, match=message):
        ct.tl.transfer_labels(reference, query, "cell_type", progress_bar=False, n_top_genes=None)


def test_query_cells_without_counts_are_unknown_with_confidence_zero():
    reference, query = _adata(), _adata(30, seed=1)
    query.X[:4] = 0
    with pytest.warns(UserWarning, match="4 query cells have no counts"):
        ct.tl.transfer_labels(
            reference, query, "cell_type", latent=False, progress_bar=False, n_top_genes=None, max_gene_shift=None
        )
    assert (query.obs["celltyper_prediction"].iloc[:4] == "Unknown").all()
    assert (query.obs["celltyper_confidence"].iloc[:4] == 0).all()
    assert (query.obs["celltyper_prediction"].iloc[4:] != "Unknown").all()


def test_a_query_without_any_counts_is_refused(no_training):
    reference, query = _adata(), _adata(30, seed=1)
    query.X[:] = 0
    with pytest.raises(ValueError, match="None of the query's cells has counts"):
        ct.tl.transfer_labels(reference, query, "cell_type", progress_bar=False, n_top_genes=None)
