"""Count likelihoods evaluated in log space, touching only the non-zero counts where they can.

These subclass the distributions of :mod:`scvi.distributions`, so sampling, ``mean`` and ``get_normalized`` behave
exactly as in scvi-tools, but ``log_prob`` takes the decoder's log-mean and the log inverse-dispersion directly and
exploits the sparsity of single-cell counts. At a zero count the negative-binomial log-likelihood is just
``θ log(θ / (θ + μ))``; the terms ``x log(μ / (θ + μ)) + lgamma(x + θ) - lgamma(θ) - lgamma(x + 1)`` are zero there, so
they are computed only at the non-zero entries (typically 5–20 % of a UMI matrix). Their backward pass (digamma) is
the most expensive operation of a CPU training step, and skipping it on the zeros makes the NB likelihood's forward
and backward about 2× and the ZINB's about 1.5× faster than scvi-tools' ``log_nb_positive`` / ``log_zinb_positive``
(measured on 128 cells × 6998 Kang genes, one thread), with the same values and gradients (``tests/module``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scvi.distributions import NegativeBinomial, Poisson, ZeroInflatedNegativeBinomial


def _nonzero_terms(
    x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor, log_theta_mu: torch.Tensor
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Indices of the non-zero counts and ``x log(μ/(θ+μ)) + lgamma(x+θ) - lgamma(θ) - lgamma(x+1)`` there."""
    x = x.expand_as(log_mu)
    index = (x > 0).nonzero(as_tuple=True)
    x_nz = x[index]
    theta_nz = log_theta.expand_as(log_mu)[index].exp()
    with torch.no_grad():
        log_x_factorial = torch.lgamma(x_nz + 1)
    terms = x_nz * (log_mu[index] - log_theta_mu[index]) + torch.lgamma(x_nz + theta_nz) - torch.lgamma(theta_nz)
    return index, terms - log_x_factorial


def nb_log_prob(x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor) -> torch.Tensor:
    """Negative-binomial log-likelihood of counts ``x``, element-wise, shaped like ``log_mu``.

    ``log_theta`` is ``(1, genes)`` or shaped like ``log_mu``; ``x`` broadcasts against ``log_mu``.
    """
    log_theta_mu = torch.logaddexp(log_theta, log_mu)  # log(θ + μ)
    at_zero = log_theta.exp() * (log_theta - log_theta_mu)  # log NB(0) = θ log(θ / (θ + μ))
    index, terms = _nonzero_terms(x, log_mu, log_theta, log_theta_mu)
    return at_zero.index_put(index, terms, accumulate=True)


def zinb_log_prob(
    x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor, zi_logits: torch.Tensor
) -> torch.Tensor:
    """Zero-inflated negative-binomial log-likelihood; ``zi_logits`` are the logits of the dropout probability π.

    With ``nb0 = log NB(0)``: ``log(π + (1-π) NB(0)) = softplus(nb0 - logit π) - softplus(-logit π)`` at a zero, and
    ``log(1-π) + log NB(x) = log NB(x) - logit π - softplus(-logit π)`` elsewhere.
    """
    log_theta_mu = torch.logaddexp(log_theta, log_mu)
    nb_at_zero = log_theta.exp() * (log_theta - log_theta_mu)
    log_keep = -zi_logits - F.softplus(-zi_logits)  # log(1 - π)
    at_zero = F.softplus(nb_at_zero - zi_logits) - F.softplus(-zi_logits)
    index, terms = _nonzero_terms(x, log_mu, log_theta, log_theta_mu)
    return at_zero.index_put(index, nb_at_zero[index] + terms + log_keep[index])


class LogSpaceNegativeBinomial(NegativeBinomial):
    """:class:`scvi.distributions.NegativeBinomial` from ``log_mu`` / ``log_theta``, with a faster ``log_prob``."""

    def __init__(self, log_mu: torch.Tensor, log_theta: torch.Tensor, scale: torch.Tensor):
        super().__init__(mu=log_mu.exp(), theta=log_theta.exp(), scale=scale)
        self.log_mu, self.log_theta = log_mu, log_theta

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return nb_log_prob(value, self.log_mu, self.log_theta)


class LogSpaceZeroInflatedNegativeBinomial(ZeroInflatedNegativeBinomial):
    """:class:`scvi.distributions.ZeroInflatedNegativeBinomial` from log parameters, with a faster ``log_prob``."""

    def __init__(self, log_mu: torch.Tensor, log_theta: torch.Tensor, zi_logits: torch.Tensor, scale: torch.Tensor):
        super().__init__(mu=log_mu.exp(), theta=log_theta.exp(), zi_logits=zi_logits, scale=scale)
        self.log_mu, self.log_theta = log_mu, log_theta

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return zinb_log_prob(value, self.log_mu, self.log_theta, self.zi_logits)


class LogSpacePoisson(Poisson):
    """:class:`scvi.distributions.Poisson` built from ``log_rate``."""

    def __init__(self, log_rate: torch.Tensor, scale: torch.Tensor):
        super().__init__(rate=log_rate.exp(), scale=scale)
        self.log_rate = log_rate

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            log_x_factorial = torch.lgamma(value + 1)
        return value * self.log_rate - self.rate - log_x_factorial
