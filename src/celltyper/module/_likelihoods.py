"""Count likelihoods evaluated in log space.

These subclass the distributions of :mod:`scvi.distributions`, so sampling, ``mean`` and ``get_normalized`` behave
exactly as in scvi-tools, but ``log_prob`` takes the decoder's log-mean and the per-gene log inverse-dispersion
directly. Compared with scvi-tools' ``log_nb_positive`` this avoids ``log(mu + eps)`` on the cells × genes matrix and
evaluates ``lgamma(theta)`` and ``theta * log(theta)`` once per gene instead of once per cell and gene — the terms
whose backward pass (digamma) dominates a CPU training step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scvi.distributions import NegativeBinomial, Poisson, ZeroInflatedNegativeBinomial


def nb_log_prob(x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor) -> torch.Tensor:
    """Negative-binomial log-likelihood of counts ``x`` (cells × genes).

    ``log_theta`` may be ``(genes,)``, ``(1, genes)`` or ``(cells, genes)``; terms that depend on θ alone are
    evaluated at its own shape and broadcast.
    """
    theta = log_theta.exp()
    log_theta_mu = torch.logaddexp(log_theta, log_mu)  # log(θ + μ)
    with torch.no_grad():
        log_x_factorial = torch.lgamma(x + 1)
    return (
        theta * log_theta
        - torch.lgamma(theta)
        - theta * log_theta_mu
        + x * (log_mu - log_theta_mu)
        + torch.lgamma(x + theta)
        - log_x_factorial
    )


def zinb_log_prob(
    x: torch.Tensor, log_mu: torch.Tensor, log_theta: torch.Tensor, zi_logits: torch.Tensor
) -> torch.Tensor:
    """Zero-inflated negative-binomial log-likelihood; ``zi_logits`` are the logits of the dropout probability π.

    With ``nb`` the NB log-likelihood: ``log(π + (1-π) NB(0)) = softplus(nb - logit π) - softplus(-logit π)`` at
    zero, and ``log(1-π) + nb = nb - logit π - softplus(-logit π)`` elsewhere.
    """
    nb = nb_log_prob(x, log_mu, log_theta)
    shifted = nb - zi_logits
    return torch.where(x > 0, shifted, F.softplus(shifted)) - F.softplus(-zi_logits)


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
