"""LatentFlow: a normalizing flow on the posterior q(z | x), built from pyro's transforms.

A sample of the diagonal Gaussian posterior, z_0 ~ q_0(z | x), is pushed through K invertible maps,
z_K = f_K ∘ … ∘ f_1(z_0), so that by the change of variables

    log q_K(z_K | x) = log q_0(z_0 | x) − Σ_k log |det ∂f_k / ∂z_{k−1}|,

a posterior that is no longer forced to be a diagonal Gaussian (Rezende & Mohamed 2015; Kingma et al. 2016). The
flow is not conditioned on x: the cell enters through q_0. Three kinds, from :mod:`pyro.distributions.transforms`:

- ``"iaf"``: inverse autoregressive flow (``AffineAutoregressive`` on a MADE network), each layer with the reverse
  variable order of the one before, initialised to the identity so that training starts from the flow-less model;
- ``"planar"`` and ``"radial"``: the planar and radial flows of Rezende & Mohamed, one hyperplane / centre per layer.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import torch
from pyro.distributions.transforms import AffineAutoregressive, Planar, Radial
from pyro.nn import AutoRegressiveNN
from torch import nn

FlowKind = Literal["iaf", "planar", "radial"]
FLOW_KINDS: tuple[str, ...] = ("iaf", "planar", "radial")


def _iaf_layer(n_latent: int, reverse: bool) -> AffineAutoregressive:
    order = torch.arange(n_latent)
    permutation = cast(torch.LongTensor, order.flip(0) if reverse else order)
    network = AutoRegressiveNN(n_latent, [3 * n_latent + 1], permutation=permutation)
    output = cast(nn.Linear, network.layers[-1])  # zero output layer: shift 0, log-scale 0, the identity map
    nn.init.zeros_(output.weight)
    nn.init.zeros_(output.bias)
    return AffineAutoregressive(network)


class LatentFlow(nn.Module):
    """``n_layers`` pyro transforms of kind ``kind`` applied one after the other to latent vectors.

    Parameters
    ----------
    n_latent
        Dimension of z (at least 2 for ``"iaf"``, whose first variable would otherwise see nothing).
    kind
        ``"iaf"``, ``"planar"`` or ``"radial"``.
    n_layers
        Number of transforms (at least 1).
    """

    def __init__(self, n_latent: int, kind: FlowKind = "iaf", n_layers: int = 4):
        super().__init__()
        if kind not in FLOW_KINDS:
            raise ValueError(f"latent_flow must be one of {list(FLOW_KINDS)} or None, not {kind!r}.")
        if not isinstance(n_layers, int) or isinstance(n_layers, bool) or n_layers < 1:
            raise ValueError(f"n_flow_layers must be an integer of at least 1, not {n_layers!r}.")
        if kind == "iaf" and n_latent < 2:
            raise ValueError(f"latent_flow='iaf' needs n_latent of at least 2, not {n_latent}.")
        self.kind = kind
        layers: list[nn.Module]
        if kind == "iaf":
            layers = [_iaf_layer(n_latent, reverse=i % 2 == 1) for i in range(n_layers)]
        else:
            layers = [(Planar if kind == "planar" else Radial)(n_latent) for _ in range(n_layers)]
        self.transforms = nn.ModuleList(layers)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z_K`` and ``Σ_k log |det J_k|`` (shape ``z.shape[:-1]``) of latent vectors ``z`` (last dimension)."""
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for transform in self.transforms:
            z_next = transform(z)
            log_det = log_det + cast(Any, transform).log_abs_det_jacobian(z, z_next)
            z = z_next
        return z, log_det
