"""Genes are matched by name: another order gives the same numbers, missing genes read as zero, too few an error."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

import celltyper as ct
from celltyper.model import SemiSupervisedCountVAE

QUIET = {"enable_progress_bar": False, "accelerator": "cpu"}


@pytest.fixture(scope="module")
def data():
    return ct.datasets.simulate(n_cells=300, n_genes=200, n_types=3, n_batches=2, seed=2)


@pytest.fixture(scope="module")
def countvae(data):
    reference = data.copy()
    ct.CountVAE.setup_anndata(reference, layer="counts", batch_key="batch")
    model = ct.CountVAE(reference, n_hidden=16, n_latent=4)
    model.train(max_epochs=5, **QUIET)
    return model


@pytest.fixture(scope="module")
def transformer(data):
    reference = data.copy()
    ct.CellTypeTransformer.setup_anndata(reference, labels_key="cell_type", layer="counts")
    model = ct.CellTypeTransformer(reference, n_genes=100, n_tokens=8, d_model=16, n_layers=1)
    model.train(max_epochs=10, **QUIET)
    return model


def _shuffled(adata, seed: int = 0, extra: bool = False):
    """``adata`` with its genes in a random order (and, with ``extra``, 20 genes the model does not know)."""
    shuffled = adata[:, np.random.default_rng(seed).permutation(adata.n_vars)].copy()
    if extra:
        other = adata[:, :20].copy()
        other.var_names = [f"other_{i}" for i in range(20)]
        shuffled = ad.concat([shuffled, other], axis=1, merge="first")
        shuffled.obs = adata.obs.copy()
    return shuffled


def test_countvae_latent_does_not_depend_on_the_gene_order(countvae, data, tmp_path):
    latent = countvae.get_latent_representation(data.copy())
    for query in (_shuffled(data), _shuffled(data, seed=1, extra=True), countvae.adata[:, ::-1].copy()):
        np.testing.assert_allclose(countvae.get_latent_representation(query), latent, rtol=1e-5, atol=1e-6)
    countvae.save(tmp_path / "model")
    loaded = ct.CountVAE.load(tmp_path / "model", adata=_shuffled(data, seed=2), accelerator="cpu")
    np.testing.assert_allclose(loaded.get_latent_representation(), latent, rtol=1e-5, atol=1e-6)
    assert loaded.adata.var_names.equals(countvae.adata.var_names)


def test_semisupervised_predictions_do_not_depend_on_the_gene_order(data, tmp_path):
    reference = data.copy()
    SemiSupervisedCountVAE.setup_anndata(reference, labels_key="cell_type", layer="counts", batch_key="batch")
    model = SemiSupervisedCountVAE(reference, n_hidden=16, n_latent=4)
    model.train(max_epochs=5, **QUIET)
    expected = model.predict(data.copy(), soft=True)
    shuffled = _shuffled(data, extra=True)
    got = model.predict(shuffled, soft=True)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-6)
    assert got.index.equals(data.obs_names)
    model.save(tmp_path / "model")
    loaded = SemiSupervisedCountVAE.load(tmp_path / "model", adata=shuffled, accelerator="cpu")
    np.testing.assert_allclose(loaded.predict(soft=True).to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-6)


def test_query_mapping_reads_the_query_by_gene_name(countvae, data):
    query = data[data.obs["batch"] == "batch_1"].copy()
    query.obs["batch"] = "new_batch"
    in_order = ct.CountVAE.load_query_data(query.copy(), countvae)
    shuffled = ct.CountVAE.load_query_data(_shuffled(query), countvae)
    assert shuffled.adata.var_names.equals(countvae.adata.var_names)
    in_order.module.load_state_dict(shuffled.module.state_dict())  # the same weights, fresh columns included
    in_order.is_trained_ = shuffled.is_trained_ = True  # the latent of the mapped, not yet trained, weights
    np.testing.assert_allclose(
        shuffled.get_latent_representation(), in_order.get_latent_representation(), rtol=1e-5, atol=1e-6
    )


def test_transformer_loaded_onto_reordered_genes_predicts_the_same(transformer, data, tmp_path):
    expected = transformer.predict(data, soft=True)
    accuracy = (expected.idxmax(axis=1) == data.obs["cell_type"].astype(str)).mean()
    assert accuracy > 0.9
    transformer.save(tmp_path / "model")
    for onto in (data[:, ::-1].copy(), _shuffled(data, extra=True)):
        loaded = ct.CellTypeTransformer.load(tmp_path / "model", adata=onto, accelerator="cpu")
        for query in (data, _shuffled(data, seed=3)):
            np.testing.assert_allclose(loaded.predict(query, soft=True).to_numpy(), expected.to_numpy(), atol=1e-6)


def _zeroed(adata, genes):
    """``adata`` with the counts of ``genes`` set to zero: what a query lacking them is read as."""
    zeroed = adata.copy()
    keep = (~zeroed.var_names.isin(genes)).astype(np.float32)
    zeroed.layers["counts"] = sp.csr_matrix(zeroed.layers["counts"] @ sp.diags(keep))
    return zeroed


def test_countvae_reads_missing_genes_as_zero(countvae, data):
    """A query lacking a few genes reads as one with their counts zero, in latents and in loading onto it."""
    missing = data.var_names[:5]
    without = data[:, 5:].copy()
    expected = countvae.get_latent_representation(_zeroed(data, missing))
    np.testing.assert_allclose(countvae.get_latent_representation(without), expected, atol=1e-5)
    with pytest.warns(UserWarning, match=r"lacks 60 of the 200 genes the model reads \(70.0% found"):
        countvae.get_latent_representation(data[:, 60:].copy())


@pytest.mark.parametrize("model_name", ["countvae", "transformer"])
def test_too_few_genes_are_a_clear_error(model_name, data, tmp_path, request):
    model = request.getfixturevalue(model_name)
    cls = type(model)
    model.save(tmp_path / "model")
    loaded = cls.load(tmp_path / "model", adata=data[:, 5:].copy(), accelerator="cpu")  # 5 missing: read as zero
    assert loaded.adata.var_names.equals(data.var_names)
    few = data[:, 160:].copy()
    with pytest.raises(ValueError, match=r"adata has only 40 of the 200 genes the model reads \(20.0%\); at least 25%"):
        cls.load(tmp_path / "model", adata=few)
    duplicated = data.copy()
    duplicated.var_names = ["gene_0", *data.var_names[1:-1], "gene_0"]
    with pytest.raises(ValueError, match="var_names has duplicates"):
        cls.load(tmp_path / "model", adata=duplicated)
    if cls is ct.CountVAE:
        with pytest.raises(ValueError, match="at least 25%"):
            model.get_latent_representation(few)
