"""LatentFlow and the ELBO of SemiSupervisedCountVAEModule with a flow and / or the z1 / z2 hierarchy."""

from __future__ import annotations

import pytest
import torch
from scvi import REGISTRY_KEYS
from torch.distributions import Normal

from celltyper.module import SemiSupervisedCountVAEModule
from celltyper.module._flows import FLOW_KINDS, LatentFlow

N_GENES, N_LABELS = 30, 4  # three classes and the unlabelled category


def _tensors(n_cells: int = 16) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        REGISTRY_KEYS.X_KEY: torch.poisson(torch.full((n_cells, N_GENES), 3.0), generator=generator),
        REGISTRY_KEYS.BATCH_KEY: torch.zeros(n_cells, 1, dtype=torch.long),
        REGISTRY_KEYS.LABELS_KEY: torch.randint(0, N_LABELS, (n_cells, 1), generator=generator),
    }


def _module(**kwargs) -> SemiSupervisedCountVAEModule:
    torch.manual_seed(0)
    return SemiSupervisedCountVAEModule(N_GENES, n_labels=N_LABELS, n_hidden=16, n_latent=3, **kwargs)


def _elbo(module: SemiSupervisedCountVAEModule, tensors, seed: int = 1, **inference_kwargs):
    torch.manual_seed(seed)
    inference = module.inference(**module._get_inference_input(tensors), **inference_kwargs)
    generative = module.generative(**module._get_generative_input(tensors, inference))
    return module.elbo_loss(tensors, inference, generative), inference


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_log_det_is_the_change_of_variables_of_the_jacobian(kind):
    torch.manual_seed(0)
    flow = LatentFlow(2, kind, n_layers=3).double()
    with torch.no_grad():  # away from the identity that "iaf" starts at
        for parameter in flow.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    z0 = torch.randn(6, 2, dtype=torch.float64)
    _, log_det = flow(z0)
    jacobians = [torch.autograd.functional.jacobian(lambda v: flow(v)[0], z) for z in z0]
    expected = torch.stack([torch.linalg.det(j).abs().log() for j in jacobians])
    assert not torch.allclose(expected, torch.zeros_like(expected))
    torch.testing.assert_close(log_det, expected)
    # the density of z_K: a Normal base pushed through the flow, log q_K(z_K) = log q_0(z_0) − log|det J|
    base = Normal(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    log_q = base.log_prob(z0).sum(-1) - log_det
    torch.testing.assert_close(log_q.exp(), base.log_prob(z0).sum(-1).exp() / torch.stack(jacobians).det().abs())


def test_flow_layers_apply_to_batches_of_posterior_samples():
    flow = LatentFlow(4, "planar", n_layers=2)
    z = torch.randn(5, 7, 4)
    z_k, log_det = flow(z)
    assert z_k.shape == z.shape and log_det.shape == (5, 7)
    torch.testing.assert_close(log_det[2], flow(z[2])[1])


@pytest.mark.parametrize("hierarchy", [False, True])
def test_identity_flow_gives_the_flowless_elbo(hierarchy):
    tensors = _tensors()
    flowless = _module(latent_hierarchy=hierarchy).eval()
    with_flow = _module(latent_hierarchy=hierarchy, latent_flow="iaf").eval()  # iaf starts as the identity
    missing, unexpected = with_flow.load_state_dict(flowless.state_dict(), strict=False)
    assert not unexpected and missing and all(name.startswith("flow.") for name in missing)
    reference, _ = _elbo(flowless, tensors)
    elbo, inference = _elbo(with_flow, tensors)
    torch.testing.assert_close(inference["z"], inference["z0"])
    torch.testing.assert_close(elbo.loss, reference.loss)
    for key, value in reference.kl_local.items():
        torch.testing.assert_close(elbo.kl_local[key], value)
    # moved off the identity, the flow changes the ELBO
    with torch.no_grad():
        with_flow.flow.transforms[0].arn.layers[-1].bias.add_(0.3)
    assert not torch.allclose(_elbo(with_flow, tensors)[0].loss, reference.loss)


def test_flow_kl_estimate_is_unbiased():
    """Mean over posterior samples of the KL estimate = mean of the plain one-sample log q_K(z_K) − log p(z_K)."""
    module = _module(latent_flow="planar").eval()
    elbo, inference = _elbo(module, _tensors(4), n_samples=4000)
    log_q = inference["qz"].log_prob(inference["z0"]).sum(-1) - inference["log_det"]
    plain = log_q - Normal(0.0, 1.0).log_prob(inference["z"]).sum(-1)
    estimate = elbo.kl_local["kl_divergence_z"]
    assert estimate.shape == plain.shape == (4000, 4)
    torch.testing.assert_close(estimate.mean(0), plain.mean(0), atol=0.1, rtol=0)
    assert (estimate != plain).all()  # two estimators, one expectation


def test_hierarchical_elbo_terms():
    module = _module(latent_hierarchy=True, latent_flow="radial").eval()
    elbo, _ = _elbo(module, _tensors())
    assert set(elbo.kl_local) == {"kl_divergence_z", "kl_divergence_z2", "kl_divergence_y"}
    assert (elbo.kl_local["kl_divergence_z2"] >= 0).all() and (elbo.kl_local["kl_divergence_y"] >= 0).all()
    # KL(q(y | z1) ‖ uniform) ≤ log K
    assert (elbo.kl_local["kl_divergence_y"] <= torch.log(torch.tensor(N_LABELS - 1.0)) + 1e-5).all()
    total = elbo.reconstruction_loss["reconstruction_loss"] + sum(elbo.kl_local.values())
    torch.testing.assert_close(elbo.loss, total.mean())


def test_kl_weight_scales_every_kl_term_of_the_hierarchy():
    module, tensors = _module(latent_hierarchy=True, latent_flow="iaf").eval(), _tensors()
    inference = module.inference(**module._get_inference_input(tensors))
    generative = module.generative(**module._get_generative_input(tensors, inference))
    torch.manual_seed(2)  # the same z2 sample in both
    full = module.elbo_loss(tensors, inference, generative, kl_weight=1.0)
    torch.manual_seed(2)
    half = module.elbo_loss(tensors, inference, generative, kl_weight=0.5)
    kl = sum(full.kl_local.values()).mean()
    torch.testing.assert_close(full.loss - half.loss, 0.5 * kl)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"latent_flow": "maf"}, ValueError, "latent_flow must be one of"),
        ({"latent_flow": "iaf", "n_flow_layers": 0}, ValueError, "n_flow_layers must be an integer of at least 1"),
    ],
)
def test_bad_flow_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        _module(**kwargs)


def test_iaf_needs_two_latent_dimensions():
    with pytest.raises(ValueError, match="needs n_latent of at least 2"):
        LatentFlow(1, "iaf", 1)
