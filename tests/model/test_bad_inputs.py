"""Issue 19, item 4: every bad input found by the adversarial test gets a clear error before training (or works)."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import celltyper as ct
from celltyper.model import SemiSupervisedCountVAE

QUIET = {"enable_progress_bar": False}


def _adata(n_cells: int = 40, n_genes: int = 30, labels=None, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    adata = ad.AnnData(X=rng.poisson(3, (n_cells, n_genes)).astype(np.float32))
    adata.obs_names = [f"c{i}" for i in range(n_cells)]
    adata.var_names = [f"g{i}" for i in range(n_genes)]
    adata.obs["cell_type"] = labels if labels is not None else np.where(np.arange(n_cells) % 2, "A", "B")
    return adata


CLASSIFIERS = [ct.CellTypeTransformer, SemiSupervisedCountVAE]
BAD_LABELS = {
    "int": (np.arange(40) % 3, "holds int64 values; cell types must be strings"),
    "float": ((np.arange(40) % 3).astype(float), "holds float64 values; cell types must be strings"),
    "bool": (np.arange(40) % 2 == 0, "holds bool values; cell types must be strings"),
    "NaN": (np.where(np.arange(40) % 2 == 0, None, "A").astype(object), r"20 cells have no label \(NaN\)"),
}


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", list(BAD_LABELS))
def test_labels_that_are_not_strings_get_one_sentence_and_leave_adata_as_it_was(cls, case):
    labels, message = BAD_LABELS[case]
    adata = _adata(labels=labels)
    before = adata.obs.copy()
    with pytest.raises(ValueError, match=message):
        cls.setup_anndata(adata, labels_key="cell_type")
    pd.testing.assert_frame_equal(adata.obs, before)
    assert not adata.uns


def test_string_labels_as_categorical_work():
    adata = _adata(labels=pd.Categorical(np.where(np.arange(40) % 2, "A", "B")))
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    assert list(ct.CellTypeTransformer(adata, n_genes=10).cell_types) == ["A", "B"]


def test_a_failed_setup_leaves_obs_and_uns_as_they_were():
    adata = _adata()
    adata.obs["batch"] = "b0"
    before = adata.obs.copy()
    with pytest.raises(KeyError):  # scvi-tools fails on the covariate after registering the batch
        ct.CountVAE.setup_anndata(adata, batch_key="batch", continuous_covariate_keys=["missing"])
    pd.testing.assert_frame_equal(adata.obs, before)
    assert not adata.uns


def test_nan_batch_is_refused_up_front():
    adata = _adata()
    adata.obs["batch"] = np.where(np.arange(40) < 5, None, "b0").astype(object)
    with pytest.raises(ValueError, match=r"5 cells have no batch \(NaN\)"):
        ct.CountVAE.setup_anndata(adata, batch_key="batch")


@pytest.mark.parametrize("n_cells", [3, 5, 9])
def test_countvae_trains_on_a_few_cells_without_validation(n_cells):
    adata = _adata(n_cells)
    ct.CountVAE.setup_anndata(adata)
    model = ct.CountVAE(adata, n_hidden=8)
    model.train(max_epochs=1, **QUIET)  # was a dataloader TypeError: no validation cell below 10 cells
    assert model.is_trained


@pytest.mark.parametrize("n_cells", [1, 2])
def test_countvae_on_one_or_two_cells_says_so(n_cells):
    adata = _adata(n_cells)
    ct.CountVAE.setup_anndata(adata)
    with pytest.raises(ValueError, match="at least 2 training cells"):
        ct.CountVAE(adata, n_hidden=8).train(max_epochs=1, **QUIET)


def test_early_stopping_without_validation_cells_says_so():
    adata = _adata(5)
    ct.CountVAE.setup_anndata(adata)
    with pytest.raises(ValueError, match="early_stopping needs validation cells"):
        ct.CountVAE(adata, n_hidden=8).train(max_epochs=1, early_stopping=True, **QUIET)


@pytest.mark.parametrize("cls", [ct.CountVAE, SemiSupervisedCountVAE], ids=lambda c: c.__name__)
@pytest.mark.parametrize(("argument", "value"), [("max_epochs", 0), ("max_epochs", -1), ("batch_size", 1)])
def test_vae_train_arguments_are_checked_before_training(cls, argument, value):
    adata = _adata()
    setup = {"labels_key": "cell_type"} if cls is SemiSupervisedCountVAE else {}
    cls.setup_anndata(adata, **setup)
    model = cls(adata, n_hidden=8)
    with pytest.raises(ValueError, match=argument):
        model.train(**{"max_epochs": 1, argument: value}, **QUIET)
    assert not model.is_trained


@pytest.mark.parametrize(("argument", "value"), [("max_epochs", 0), ("batch_size", 0)])
def test_transformer_train_arguments_are_checked(argument, value):
    adata = _adata()
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    model = ct.CellTypeTransformer(adata, n_genes=10)
    with pytest.raises(ValueError, match=argument):
        model.train(**{"max_epochs": 1, argument: value}, **QUIET)


@pytest.mark.parametrize(
    ("argument", "value"), [("n_latent", 0), ("n_hidden", 0), ("n_layers", 0), ("dropout_rate", 1.0)]
)
def test_countvae_architecture_is_checked(argument, value):
    adata = _adata()
    ct.CountVAE.setup_anndata(adata)
    with pytest.raises(ValueError, match=argument):
        ct.CountVAE(adata, **{argument: value})


@pytest.mark.parametrize(
    ("argument", "value"),
    [("gene_dropout", 1.0), ("dropout", -0.1), ("n_genes", 0), ("n_tokens", 0)],
)
def test_transformer_architecture_is_checked(argument, value):
    adata = _adata()
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    with pytest.raises(ValueError, match=argument):
        ct.CellTypeTransformer(adata, **{argument: value})


@pytest.fixture(scope="module")
def trained_transformer() -> ct.CellTypeTransformer:
    adata = _adata(60)
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    model = ct.CellTypeTransformer(adata, n_genes=10, d_model=8, n_heads=2, n_tokens=8)
    model.train(max_epochs=1, **QUIET)
    return model


def test_transformer_refuses_query_cells_without_counts_as_the_vaes_do(trained_transformer):
    query = _adata(10, seed=1)
    query.X[:3] = 0
    with pytest.raises(ValueError, match="3 cells of rows 0–9 have no counts on the model's genes"):
        trained_transformer.predict(query)
    adata = _adata(10, seed=1)
    adata.X[:3] = 0
    ct.CountVAE.setup_anndata(adata)
    with pytest.raises(ValueError, match="3 cells have no counts"):
        ct.CountVAE(adata)


def test_untrained_transformer_refuses_to_predict():
    adata = _adata()
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    with pytest.raises(RuntimeError, match="not trained"):
        ct.CellTypeTransformer(adata, n_genes=10).predict()


def test_gaussian_on_small_integers_warns_that_they_are_taken_as_normalized():
    adata = _adata()
    adata.X = np.minimum(adata.X, 20)
    ct.CountVAE.setup_anndata(adata)
    with pytest.warns(UserWarning, match="raw counts of a shallow assay, or normalized values"):
        model = ct.CountVAE(adata, gene_likelihood="gaussian")
    assert not model.module.log_normalize
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ct.CountVAE(adata, gene_likelihood="gaussian", log_normalize=False)  # said explicitly: no warning
