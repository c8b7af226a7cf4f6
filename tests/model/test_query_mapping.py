"""scArches query mapping of CountVAE / SemiSupervisedCountVAE: the new batch's weights learn, the reference's don't."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scvi.model.base import SemisupervisedTrainingMixin

import celltyper as ct
from celltyper.model import SemiSupervisedCountVAE

ENCODER_FIRST = "z_encoder.encoder.fc_layers.Layer 0.0.weight"
DECODER_FIRST = "px_decoder.fc_layers.Layer 0.0.weight"


@pytest.fixture(scope="module")
def split():
    adata = ct.datasets.simulate(n_cells=360, n_genes=400, n_types=3, n_batches=3, seed=1)
    reference = adata[adata.obs["batch"] != "batch_2"].copy()
    query = adata[adata.obs["batch"] == "batch_2"].copy()
    return reference, query


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.module.state_dict().items() if "num_batches_tracked" not in k}


def _changed(before, model) -> set[str]:
    after = model.module.state_dict()
    return {k for k, v in before.items() if not torch.equal(v, after[k])}


def _assert_only_new_batch_moved(before, query_model, n_reference_batches: int) -> set[str]:
    after = query_model.module.state_dict()
    for key in (ENCODER_FIRST, DECODER_FIRST):
        old, new = before[key], after[key]
        assert not torch.equal(old[:, -1], new[:, -1]), f"{key}: the new batch's column did not train"
        torch.testing.assert_close(old[:, :-1], new[:, :-1], rtol=0, atol=0)  # genes / z and reference batches
    changed = _changed(before, query_model)
    assert changed <= {ENCODER_FIRST, DECODER_FIRST, "px_r"}, f"reference weights moved: {changed}"
    return changed


def test_countvae_surgery_trains_only_the_new_batch_including_its_dispersion(split):
    reference, query = split[0].copy(), split[1].copy()
    ct.CountVAE.setup_anndata(reference, layer="counts", batch_key="batch")
    model = ct.CountVAE(reference, encode_covariates=True, dispersion="gene-batch", n_hidden=32)
    model.train(max_epochs=2, enable_progress_bar=False)

    query_model = ct.CountVAE.load_query_data(query, model, freeze_batchnorm_decoder=True)
    before = _snapshot(query_model)
    assert before["px_r"].shape[1] == 3
    query_model.train(max_epochs=3, plan_kwargs={"weight_decay": 0.0}, enable_progress_bar=False)

    changed = _assert_only_new_batch_moved(before, query_model, n_reference_batches=2)
    assert "px_r" in changed, "scvi-tools froze the new batch's dispersion; celltyper must let it learn"
    px_r = query_model.module.px_r.detach()
    torch.testing.assert_close(px_r[:, :2], before["px_r"][:, :2], rtol=0, atol=0)
    # The reference model itself is untouched by the query training.
    assert model.module.px_r.shape[1] == 2


def test_semisupervised_surgery_keeps_the_classifier_and_predicts(split, tmp_path):
    reference, query = split[0].copy(), split[1].copy()
    truth = query.obs["cell_type"].astype(str).to_numpy()
    query.obs["cell_type"] = "Unknown"
    SemiSupervisedCountVAE.setup_anndata(reference, labels_key="cell_type", layer="counts", batch_key="batch")
    model = SemiSupervisedCountVAE(reference, encode_covariates=True, n_hidden=32)
    model.train(max_epochs=15, enable_progress_bar=False)
    assert "train_classification_loss" in model.history
    # Saved and loaded, it predicts the same; the query is mapped from the saved folder.
    model.save(tmp_path / "reference")
    loaded = SemiSupervisedCountVAE.load(tmp_path / "reference", adata=reference)
    np.testing.assert_allclose(loaded.predict(soft=True).to_numpy(), model.predict(soft=True).to_numpy(), rtol=1e-5)

    query_model = SemiSupervisedCountVAE.load_query_data(
        query, str(tmp_path / "reference"), freeze_batchnorm_decoder=True
    )
    before = _snapshot(query_model)
    query_model.train(max_epochs=3, weight_decay=0.0, enable_progress_bar=False)

    changed = _assert_only_new_batch_moved(before, query_model, n_reference_batches=2)
    assert not any(k.startswith("classifier") for k in changed)
    probabilities = query_model.predict(query, soft=True)
    assert list(probabilities.columns) == ["type_0", "type_1", "type_2"]
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)
    assert (probabilities.idxmax(axis=1).to_numpy() == truth).mean() > 0.6  # chance: 1/3
    # celltyper's direct predict gives scvi-tools' numbers, for all cells and for a subset in any order
    scvi_probabilities = SemisupervisedTrainingMixin.predict(query_model, query, soft=True)
    pd.testing.assert_frame_equal(probabilities, scvi_probabilities, rtol=1e-5)
    subset = [7, 2, 40]
    np.testing.assert_array_equal(
        query_model.predict(query, indices=subset),
        SemisupervisedTrainingMixin.predict(query_model, query, indices=subset),
    )


def test_refuses_covariates_that_surgery_would_misalign(split):
    reference, query = split[0].copy(), split[1].copy()
    reference.obs["site"] = np.where(np.arange(reference.n_obs) % 2, "a", "b")
    query.obs["site"] = "a"
    ct.CountVAE.setup_anndata(reference, layer="counts", batch_key="batch", categorical_covariate_keys=["site"])
    model = ct.CountVAE(reference, n_hidden=16)
    model.train(max_epochs=1, enable_progress_bar=False)
    with pytest.raises(ValueError, match="categorical covariates.*misalign"):
        ct.CountVAE.load_query_data(query, model)


def test_a_query_lacking_genes_is_mapped_with_them_read_as_zero(split):
    """As scvi-tools' prepare_query_anndata pads a query, missing genes read as zero; too few are refused."""
    reference, query = split[0].copy(), split[1].copy()
    ct.CountVAE.setup_anndata(reference, layer="counts", batch_key="batch")
    model = ct.CountVAE(reference, n_hidden=16)
    model.train(max_epochs=1, enable_progress_bar=False)
    lacking = query[:, 10:].copy()
    query_model = ct.CountVAE.load_query_data(lacking, model)
    assert query_model.adata.var_names.equals(reference.var_names)
    padded = query_model.adata.layers["counts"]
    assert padded[:, :10].nnz == 0
    np.testing.assert_array_equal(padded[:, 10:].toarray(), lacking.layers["counts"].toarray())
    with pytest.raises(ValueError, match="The query has only 40 of the 400 genes the model reads"):
        ct.CountVAE.load_query_data(query[:, 360:].copy(), model)
