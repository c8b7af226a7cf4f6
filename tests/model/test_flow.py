"""SemiSupervisedCountVAE with latent_hierarchy / latent_flow: it trains, saves, loads and maps queries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from celltyper.model import SemiSupervisedCountVAE

QUIET = {"enable_progress_bar": False, "accelerator": "cpu"}


def _model(adata, **kwargs) -> SemiSupervisedCountVAE:
    SemiSupervisedCountVAE.setup_anndata(adata, labels_key="cell_type", layer="counts", batch_key="condition")
    return SemiSupervisedCountVAE(adata, n_hidden=16, n_latent=4, **kwargs)


@pytest.mark.parametrize("kind", ["iaf", "planar"])
def test_training_with_a_flow_lowers_the_loss(kang_small, kind):
    model = _model(kang_small, latent_hierarchy=True, latent_flow=kind, n_flow_layers=2)
    before = {name: p.detach().clone() for name, p in model.module.flow.named_parameters()}
    model.train(max_epochs=6, n_epochs_kl_warmup=1, **QUIET)
    elbo = model.history["elbo_train"]["elbo_train"].to_numpy()  # negative ELBO at KL weight 1, every epoch
    assert elbo[-1] < elbo[1]
    moved = [name for name, p in model.module.flow.named_parameters() if not torch.equal(p, before[name])]
    assert moved  # the flow itself learned


def test_save_load_round_trips_the_flow_and_hierarchy(kang_small, tmp_path):
    model = _model(kang_small, latent_hierarchy=True, latent_flow="iaf", n_flow_layers=3)
    model.train(max_epochs=2, **QUIET)
    model.save(tmp_path / "model")
    loaded = SemiSupervisedCountVAE.load(tmp_path / "model", adata=kang_small)
    assert loaded.init_params_["non_kwargs"]["latent_flow"] == "iaf"
    assert len(loaded.module.flow.transforms) == 3 and loaded.module.latent_hierarchy
    for name, tensor in model.module.state_dict().items():
        torch.testing.assert_close(loaded.module.state_dict()[name], tensor, rtol=0, atol=0)
    np.testing.assert_array_equal(loaded.predict(soft=True).to_numpy(), model.predict(soft=True).to_numpy())
    np.testing.assert_array_equal(loaded.get_latent_representation(), model.get_latent_representation())


def test_latent_is_the_flow_image_of_the_posterior_mean(kang_small):
    model = _model(kang_small, latent_flow="planar", n_flow_layers=2)
    model.train(max_epochs=1, **QUIET)
    base = model.get_latent_representation(give_mean=True, return_dist=False, batch_size=4096)
    qz_mean = super(SemiSupervisedCountVAE, model).get_latent_representation()
    with torch.inference_mode():
        expected = model.module.flow(torch.as_tensor(qz_mean))[0].numpy()
    np.testing.assert_allclose(base, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(base, qz_mean)
    with pytest.raises(ValueError, match="not a Normal"):
        model.get_latent_representation(return_dist=True)


def test_query_mapping_keeps_the_flow_frozen(kang_small, tmp_path):
    kang_small.obs["cell_type"] = kang_small.obs["cell_type"].astype(str)
    reference = kang_small[kang_small.obs["condition"] == "control"].copy()
    query = kang_small[kang_small.obs["condition"] != "control"].copy()
    query.obs["cell_type"] = "Unknown"
    model = _model(reference, encode_covariates=True, latent_hierarchy=True, latent_flow="iaf", n_flow_layers=2)
    model.train(max_epochs=2, **QUIET)
    model.save(tmp_path / "reference")
    query_model = SemiSupervisedCountVAE.load_query_data(query, str(tmp_path / "reference"))
    assert not any(p.requires_grad for p in query_model.module.flow.parameters())
    flow_before = {k: v.clone() for k, v in query_model.module.flow.state_dict().items()}
    query_model.train(max_epochs=1, weight_decay=0.0, **QUIET)
    for name, tensor in query_model.module.flow.state_dict().items():
        torch.testing.assert_close(tensor, flow_before[name], rtol=0, atol=0)
    assert query_model.predict(query).shape == (query.n_obs,)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"latent_flow": "maf"}, ValueError, r"latent_flow must be None or one of \['iaf', 'planar', 'radial'\]"),
        ({"latent_flow": "iaf", "n_flow_layers": 0}, ValueError, "n_flow_layers must be an integer of at least 1"),
        ({"latent_flow": "iaf", "n_flow_layers": 2.5}, TypeError, "n_flow_layers must be an integer"),
        ({"latent_hierarchy": "yes"}, TypeError, "latent_hierarchy must be True or False"),
    ],
)
def test_bad_options_are_clear_errors(kang_small, kwargs, error, message):
    with pytest.raises(error, match=message):
        _model(kang_small, **kwargs)
