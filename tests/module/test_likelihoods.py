import pytest
import torch
from scvi.distributions._negative_binomial import log_nb_positive, log_zinb_positive

from celltyper.module._likelihoods import LogSpacePoisson, nb_log_prob, zinb_log_prob


@pytest.fixture
def params():
    g = torch.Generator().manual_seed(0)
    x = torch.poisson(torch.rand(64, 30, generator=g) * 5) * (torch.rand(64, 30, generator=g) > 0.4)
    log_mu = torch.randn(64, 30, generator=g)
    log_theta = torch.randn(1, 30, generator=g)
    zi_logits = torch.randn(64, 30, generator=g)
    return x, log_mu, log_theta, zi_logits


def test_nb_log_prob_matches_scvi(params):
    x, log_mu, log_theta, _ = params
    expected = log_nb_positive(x, log_mu.exp(), log_theta.exp().expand_as(x))
    torch.testing.assert_close(nb_log_prob(x, log_mu, log_theta), expected, atol=1e-4, rtol=1e-5)


def test_zinb_log_prob_matches_scvi(params):
    x, log_mu, log_theta, zi_logits = params
    expected = log_zinb_positive(x, log_mu.exp(), log_theta.exp().expand_as(x), zi_logits)
    torch.testing.assert_close(zinb_log_prob(x, log_mu, log_theta, zi_logits), expected, atol=1e-4, rtol=1e-5)


def test_poisson_log_prob_matches_torch(params):
    x, log_mu, _, _ = params
    expected = torch.distributions.Poisson(log_mu.exp()).log_prob(x)
    actual = LogSpacePoisson(log_mu, scale=torch.softmax(log_mu, -1)).log_prob(x)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-5)


def test_nb_gradients_match_scvi(params):
    x, log_mu, log_theta, _ = params
    ours = [log_mu.clone().requires_grad_(), log_theta.clone().requires_grad_()]
    theirs = [log_mu.clone().requires_grad_(), log_theta.clone().requires_grad_()]
    nb_log_prob(x, *ours).sum().backward()
    log_nb_positive(x, theirs[0].exp(), theirs[1].exp().expand_as(x)).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-3, rtol=1e-4)


def test_per_cell_dispersion_and_posterior_samples_broadcast(params):
    x, log_mu, _, zi_logits = params
    log_theta = torch.randn(64, 30)  # gene-batch / gene-label dispersion: one θ per cell and gene
    expected = log_zinb_positive(x, log_mu.exp(), log_theta.exp(), zi_logits)
    torch.testing.assert_close(zinb_log_prob(x, log_mu, log_theta, zi_logits), expected, atol=1e-4, rtol=1e-5)
    samples = torch.stack([log_mu, log_mu + 0.5])  # (n_samples, cells, genes) against x of (cells, genes)
    out = nb_log_prob(x, samples, log_theta)
    assert out.shape == (2, 64, 30)
    torch.testing.assert_close(out[1], log_nb_positive(x, (log_mu + 0.5).exp(), log_theta.exp()), atol=1e-4, rtol=1e-5)


def test_zinb_gradients_match_scvi(params):
    x, log_mu, log_theta, zi_logits = params
    ours = [t.clone().requires_grad_() for t in (log_mu, log_theta, zi_logits)]
    theirs = [t.clone().requires_grad_() for t in (log_mu, log_theta, zi_logits)]
    zinb_log_prob(x, *ours).sum().backward()
    log_zinb_positive(x, theirs[0].exp(), theirs[1].exp().expand_as(x), theirs[2]).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-3, rtol=1e-4)
