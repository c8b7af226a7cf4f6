import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scvi
import torch
from lightning.pytorch.callbacks import Callback

import celltyper as ct
from celltyper.benchmark import knn_accuracy

QUIET = {"enable_progress_bar": False, "accelerator": "cpu"}


class TrainModeProbe(Callback):
    """Records whether the module is in train mode at each training batch."""

    def __init__(self):
        self.modes = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.modes.append(all(module.training for module in pl_module.module.modules()))


def _model(adata, **kwargs):
    ct.CountVAE.setup_anndata(adata, layer="counts", batch_key="condition")
    return ct.CountVAE(adata, **kwargs)


@pytest.mark.parametrize("likelihood", ["zinb", "nb", "poisson", "gaussian"])
def test_each_likelihood_trains_and_its_loss_falls(kang_small, likelihood):
    model = _model(kang_small, gene_likelihood=likelihood)
    model.train(max_epochs=8, **QUIET)
    for key in ("elbo_train", "reconstruction_loss_train", "elbo_validation", "reconstruction_loss_validation"):
        curve = model.history[key].to_numpy(dtype=float).ravel()
        assert len(curve) == 8 and np.all(np.isfinite(curve)), key
    train = model.history["reconstruction_loss_train"].to_numpy(dtype=float).ravel()
    val = model.history["reconstruction_loss_validation"].to_numpy(dtype=float).ravel()
    assert train[-1] < 0.9 * train[0]
    assert val[-1] < val[0]
    assert model.is_trained


def test_latent_shape_and_determinism_under_scvi_seed(kang_small):
    latents = []
    for _ in range(2):
        scvi.settings.seed = 7
        model = _model(kang_small.copy(), n_latent=6, gene_likelihood="nb")
        model.train(max_epochs=2, **QUIET)
        latents.append(model.get_latent_representation())
    assert latents[0].shape == (kang_small.n_obs, 6)
    np.testing.assert_array_equal(latents[0], latents[1])


def test_latent_separates_cell_types(kang_small):
    model = _model(kang_small, gene_likelihood="nb")
    model.train(max_epochs=30, **QUIET)
    accuracy = knn_accuracy(model.get_latent_representation(), kang_small.obs["cell_type"])
    majority = kang_small.obs["cell_type"].value_counts(normalize=True).iloc[0]
    assert accuracy > 0.75 > majority + 0.4


def test_save_load_gives_identical_latent(kang_small, tmp_path):
    model = _model(kang_small, gene_likelihood="zinb", dispersion="gene-batch")
    model.train(max_epochs=2, **QUIET)
    latent = model.get_latent_representation()
    model.save(tmp_path / "vae")
    loaded = ct.CountVAE.load(tmp_path / "vae", adata=kang_small)
    np.testing.assert_allclose(loaded.get_latent_representation(), latent, rtol=1e-6, atol=1e-6)
    assert loaded.module.dispersion == "gene-batch"
    assert loaded.history["elbo_train"].shape == model.history["elbo_train"].shape


@pytest.mark.parametrize("likelihood", ["zinb", "gaussian"])
def test_normalized_expression_is_positive_proportions(kang_small, likelihood):
    model = _model(kang_small, gene_likelihood=likelihood)
    model.train(max_epochs=1, **QUIET)
    expression = model.get_normalized_expression()
    assert expression.shape == kang_small.shape
    values = expression.to_numpy()
    assert np.all(values >= 0) and np.all(np.isfinite(values))
    if likelihood == "zinb":
        assert np.all(values > 0)
    np.testing.assert_allclose(values.sum(1), 1.0, rtol=1e-4)
    per_10k = model.get_normalized_expression(library_size=1e4)
    np.testing.assert_allclose(per_10k.to_numpy().sum(1), 1e4, rtol=1e-4)


def test_transform_batch_changes_the_decoded_expression(kang_small):
    model = _model(kang_small, gene_likelihood="nb")
    model.train(max_epochs=3, **QUIET)
    as_control = model.get_normalized_expression(transform_batch="control").to_numpy()
    as_stim = model.get_normalized_expression(transform_batch="stimulated").to_numpy()
    assert np.abs(as_control - as_stim).max() > 1e-4


def test_elbo_reconstruction_error_and_posterior_predictive(kang_small):
    model = _model(kang_small, gene_likelihood="zinb")
    model.train(max_epochs=2, **QUIET)
    assert np.isfinite(model.get_elbo())
    assert np.isfinite(model.get_reconstruction_error()["reconstruction_loss"])
    samples = model.posterior_predictive_sample(n_samples=2)
    assert samples.shape == (kang_small.n_obs, kang_small.n_vars, 2)
    values = samples.todense() if hasattr(samples, "todense") else np.asarray(samples)
    assert np.all(values >= 0) and np.all(values == np.round(values))


def test_covariates_are_registered_and_used(kang_small):
    kang_small.obs["depth"] = np.log(np.asarray(kang_small.layers["counts"].sum(1)).ravel())
    kang_small.obs["half"] = np.where(np.arange(kang_small.n_obs) % 2, "a", "b")
    ct.CountVAE.setup_anndata(
        kang_small,
        layer="counts",
        batch_key="condition",
        categorical_covariate_keys=["half"],
        continuous_covariate_keys=["depth"],
    )
    model = ct.CountVAE(kang_small, gene_likelihood="nb", encode_covariates=True)
    model.train(max_epochs=2, **QUIET)
    assert model.module.px_decoder.n_cat_list == [2, 2]
    assert model.get_latent_representation().shape == (kang_small.n_obs, 10)


def test_gene_label_dispersion_needs_labels(kang_small):
    with pytest.raises(ValueError, match="labels_key"):
        _model(kang_small, dispersion="gene-label")
    ct.CountVAE.setup_anndata(kang_small, layer="counts", labels_key="cell_type")
    model = ct.CountVAE(kang_small, dispersion="gene-label", gene_likelihood="nb")
    assert model.module.px_r.shape == (kang_small.n_vars, 7)


def test_split_comes_from_scvi_datasplitter_and_history_is_filled(kang_small):
    model = _model(kang_small, gene_likelihood="nb")
    model.train(max_epochs=2, train_size=0.8, **QUIET)
    train, val = model.train_indices, model.validation_indices
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == kang_small.n_obs
    assert abs(len(val) - 0.2 * kang_small.n_obs) <= 2
    assert {"train_loss", "elbo_train", "elbo_validation", "kl_weight"} <= set(model.history)


def test_second_train_and_train_after_load_run_in_train_mode(kang_small, tmp_path):
    model = _model(kang_small, gene_likelihood="nb")
    model.train(max_epochs=1, **QUIET)
    assert not model.module.training  # scvi-tools leaves the module in eval mode after training
    probe = TrainModeProbe()
    model.train(max_epochs=1, callbacks=[probe], **QUIET)
    assert probe.modes and all(probe.modes)

    model.save(tmp_path / "vae")
    loaded = ct.CountVAE.load(tmp_path / "vae", adata=kang_small)
    probe = TrainModeProbe()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*in eval mode at the start of training")
        loaded.train(max_epochs=1, callbacks=[probe], **QUIET)
    assert probe.modes and all(probe.modes)


def test_kl_warmup_defaults_to_half_the_epochs(kang_small):
    model = _model(kang_small, gene_likelihood="nb")
    model.train(max_epochs=4, **QUIET)
    kl_weight = model.history["kl_weight"].to_numpy(dtype=float).ravel()
    np.testing.assert_allclose(kl_weight, [0.0, 0.5, 1.0, 1.0])


def test_training_never_changes_the_users_data(kang_small):
    before_x = kang_small.X.copy()
    before_counts = kang_small.layers["counts"].copy()
    model = _model(kang_small, gene_likelihood="zinb")
    model.train(max_epochs=1, **QUIET)
    model.get_latent_representation()
    assert (kang_small.X != before_x).nnz == 0
    assert (kang_small.layers["counts"] != before_counts).nnz == 0
    assert set(kang_small.layers) == {"counts"}


# --- bad input -------------------------------------------------------------------------------------------------------
def _with_layer(adata, name, matrix):
    adata.layers[name] = matrix
    return adata


@pytest.mark.parametrize("likelihood", ["nb", "zinb", "poisson"])
def test_count_likelihoods_refuse_log_normalized_data(kang_small, likelihood):
    lognorm = kang_small.layers["counts"].copy()
    lognorm.data = np.log1p(lognorm.data / 3.0)
    _with_layer(kang_small, "lognorm", lognorm)
    ct.CountVAE.setup_anndata(kang_small, layer="lognorm")
    with pytest.raises(ValueError, match=r"adata\.layers\['lognorm'\].*non-integer.*layer='counts'"):
        ct.CountVAE(kang_small, gene_likelihood=likelihood)


def test_count_likelihoods_refuse_negative_values(kang_small):
    bad = kang_small.layers["counts"].copy()
    bad.data[0] = -3
    _with_layer(kang_small, "bad", bad)
    ct.CountVAE.setup_anndata(kang_small, layer="bad")
    with pytest.raises(ValueError, match="1 negative"):
        ct.CountVAE(kang_small, gene_likelihood="nb")


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("likelihood", ["nb", "gaussian"])
def test_non_finite_values_are_refused(kang_small, value, likelihood):
    bad = kang_small.layers["counts"].copy()
    bad.data[5] = value
    _with_layer(kang_small, "bad", bad)
    ct.CountVAE.setup_anndata(kang_small, layer="bad")
    with pytest.raises(ValueError, match="NaN or infinite"):
        ct.CountVAE(kang_small, gene_likelihood=likelihood)


def test_all_zero_cells_are_refused_with_advice(kang_small):
    counts = kang_small.layers["counts"].tolil()
    counts[3, :] = 0
    _with_layer(kang_small, "counts", sp.csr_matrix(counts))
    ct.CountVAE.setup_anndata(kang_small, layer="counts")
    with pytest.raises(ValueError, match="1 cells have no counts.*filter_cells"):
        ct.CountVAE(kang_small, gene_likelihood="zinb")


def test_gaussian_decides_normalization_from_the_data(kang_small):
    ct.CountVAE.setup_anndata(kang_small, layer="counts")
    assert ct.CountVAE(kang_small, gene_likelihood="gaussian").module.log_normalize

    lognorm = kang_small.layers["counts"].copy()
    lognorm.data = np.log1p(lognorm.data)
    _with_layer(kang_small, "lognorm", lognorm)
    ct.CountVAE.setup_anndata(kang_small, layer="lognorm")
    model = ct.CountVAE(kang_small, gene_likelihood="gaussian")
    assert not model.module.log_normalize
    model.train(max_epochs=1, **QUIET)


def test_gaussian_on_raw_counts_without_normalization_warns(kang_small):
    ct.CountVAE.setup_anndata(kang_small, layer="counts")
    with pytest.warns(UserWarning, match="looks like raw counts"):
        ct.CountVAE(kang_small, gene_likelihood="gaussian", log_normalize=False)


def test_unknown_likelihood_is_refused(kang_small):
    ct.CountVAE.setup_anndata(kang_small, layer="counts")
    with pytest.raises(ValueError, match="gene_likelihood must be"):
        ct.CountVAE(kang_small, gene_likelihood="normal")


def test_new_data_with_bad_values_is_refused_at_inference(kang_small):
    model = _model(kang_small.copy(), gene_likelihood="nb")
    model.train(max_epochs=1, **QUIET)
    query = kang_small.copy()
    query.layers["counts"] = query.layers["counts"].copy()
    query.layers["counts"].data[:10] = 0.5
    with pytest.raises(ValueError, match="non-integer"):
        model.get_latent_representation(query)


def test_module_runs_on_the_registered_tensors(kang_small):
    model = _model(kang_small, gene_likelihood="zinb")
    batch = next(iter(model._make_data_loader(kang_small, batch_size=32)))
    inference, generative, loss = model.module(batch)
    assert inference["z"].shape == (32, 10)
    assert generative["px"].mu.shape == (32, kang_small.n_vars)
    assert torch.isfinite(loss.loss)


def test_early_stopping_on_the_validation_elbo(kang_small):
    model = _model(kang_small, gene_likelihood="nb")
    model.train(max_epochs=200, early_stopping=True, early_stopping_patience=2, early_stopping_min_delta=50.0, **QUIET)
    n_epochs = len(model.history["elbo_validation"])
    assert 3 <= n_epochs < 200
