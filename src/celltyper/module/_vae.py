"""CountVAEModule: the equations of celltyper's variational autoencoder, with nothing about AnnData.

q(z | x, s) = Normal(encoder(x)), p(z) = Normal(0, I), p(x | z, s) = likelihood(decoder(z, s)), where s are the
batch and the optional categorical / continuous covariates. Four likelihoods:

- ``"nb"`` / ``"zinb"`` / ``"poisson"`` model raw counts. The decoder outputs per-gene proportions (a softmax) that
  are scaled by the cell's observed library size, as in scVI.
- ``"gaussian"`` models log1p-normalized expression, ``log1p(1e4 · x / library)``: a Normal with a per-gene (or
  per-gene and batch / label) standard deviation — the MSE VAE of people who think in normalized data. Given counts,
  the module normalizes them itself (``log_normalize=True``); given data that is already log-normalized it uses
  them as they are.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.distributions import Normal as ScviNormal
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from scvi.nn import Encoder, FCLayers
from torch import nn
from torch.distributions import Normal, kl_divergence

from ._likelihoods import LogSpaceNegativeBinomial, LogSpacePoisson, LogSpaceZeroInflatedNegativeBinomial

GeneLikelihood = Literal["gaussian", "nb", "zinb", "poisson"]
Dispersion = Literal["gene", "gene-batch", "gene-label"]
TARGET_SUM = 1e4


def log_normalize(x: torch.Tensor, library: torch.Tensor) -> torch.Tensor:
    """``log1p(1e4 · x / library)``: scanpy's ``normalize_total(target_sum=1e4)`` followed by ``log1p``."""
    return torch.log1p(x * (TARGET_SUM / library.clamp(min=1.0)))


class CountVAEModule(BaseModuleClass):
    """Variational autoencoder for single-cell expression.

    Parameters
    ----------
    n_input
        Number of genes.
    n_batch
        Number of batches (1 = no batch conditioning).
    n_labels
        Number of labels; used only by ``dispersion="gene-label"``.
    n_hidden, n_latent, n_layers, dropout_rate
        Width of the hidden layers, dimension of z, hidden layers in encoder and decoder, dropout probability.
    gene_likelihood
        ``"nb"``, ``"zinb"``, ``"poisson"`` (raw counts) or ``"gaussian"`` (log-normalized expression).
    dispersion
        Whether the inverse dispersion (NB / ZINB) or standard deviation (Gaussian) is shared by all cells of a gene
        (``"gene"``), or differs per batch (``"gene-batch"``) or per label (``"gene-label"``).
    n_cats_per_cov
        Number of categories of each extra categorical covariate.
    n_continuous_cov
        Number of extra continuous covariates.
    encode_covariates
        Also give batch and covariates to the encoder (recommended before query mapping).
    log_normalize
        Gaussian only: whether the input is counts that the module must log-normalize.
    use_batch_norm, use_layer_norm
        Normalization of the hidden layers (``"encoder"``, ``"decoder"``, ``"both"`` or ``"none"``).
    """

    def __init__(
        self,
        n_input: int,
        n_batch: int = 1,
        n_labels: int = 1,
        n_hidden: int = 128,
        n_latent: int = 10,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        gene_likelihood: GeneLikelihood = "zinb",
        dispersion: Dispersion = "gene",
        n_cats_per_cov: list[int] | None = None,
        n_continuous_cov: int = 0,
        encode_covariates: bool = False,
        log_normalize: bool = False,
        use_batch_norm: Literal["encoder", "decoder", "both", "none"] = "both",
        use_layer_norm: Literal["encoder", "decoder", "both", "none"] = "none",
    ):
        super().__init__()
        if gene_likelihood not in ("gaussian", "nb", "zinb", "poisson"):
            raise ValueError(f"gene_likelihood must be 'gaussian', 'nb', 'zinb' or 'poisson', not {gene_likelihood!r}.")
        if dispersion not in ("gene", "gene-batch", "gene-label"):
            raise ValueError(f"dispersion must be 'gene', 'gene-batch' or 'gene-label', not {dispersion!r}.")
        self.gene_likelihood = gene_likelihood
        self.dispersion = dispersion
        self.n_batch, self.n_labels, self.n_latent = n_batch, n_labels, n_latent
        self.log_normalize = log_normalize
        self.encode_covariates = encode_covariates

        # Dispersion: log θ (NB/ZINB) or log σ (Gaussian), one column per batch / label when asked for.
        n_dispersion_columns = {"gene": 1, "gene-batch": n_batch, "gene-label": n_labels}[dispersion]
        self.px_r = nn.Parameter(torch.zeros(n_input, n_dispersion_columns))

        cat_list = [n_batch] + list(n_cats_per_cov or [])
        batch_norm = {
            "encoder": use_batch_norm in ("encoder", "both"),
            "decoder": use_batch_norm in ("decoder", "both"),
        }
        layer_norm = {
            "encoder": use_layer_norm in ("encoder", "both"),
            "decoder": use_layer_norm in ("decoder", "both"),
        }
        self.z_encoder = Encoder(
            n_input + n_continuous_cov * encode_covariates,
            n_latent,
            n_cat_list=cat_list if encode_covariates else None,
            n_layers=n_layers,
            n_hidden=n_hidden,
            dropout_rate=dropout_rate,
            return_dist=True,
            use_batch_norm=batch_norm["encoder"],
            use_layer_norm=layer_norm["encoder"],
        )
        self.px_decoder = FCLayers(
            n_in=n_latent + n_continuous_cov,
            n_out=n_hidden,
            n_cat_list=cat_list,
            n_layers=n_layers,
            n_hidden=n_hidden,
            dropout_rate=0.0,
            use_batch_norm=batch_norm["decoder"],
            use_layer_norm=layer_norm["decoder"],
        )
        # Gaussian: mean of log-normalized expression; counts: logits of the per-gene proportions.
        self.px_mean_decoder = nn.Linear(n_hidden, n_input)
        self.px_dropout_decoder = nn.Linear(n_hidden, n_input) if gene_likelihood == "zinb" else None

    # --- plumbing between the registry's tensors and inference / generative ---------------------------------------
    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
        return {
            "x": tensors[REGISTRY_KEYS.X_KEY],
            "batch_index": tensors[REGISTRY_KEYS.BATCH_KEY],
            "cat_covs": tensors.get(REGISTRY_KEYS.CAT_COVS_KEY),
            "cont_covs": tensors.get(REGISTRY_KEYS.CONT_COVS_KEY),
        }

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor | None]:
        return {
            "z": inference_outputs["z"],
            "library": inference_outputs["library"],
            "batch_index": tensors[REGISTRY_KEYS.BATCH_KEY],
            "y": tensors.get(REGISTRY_KEYS.LABELS_KEY),
            "cat_covs": tensors.get(REGISTRY_KEYS.CAT_COVS_KEY),
            "cont_covs": tensors.get(REGISTRY_KEYS.CONT_COVS_KEY),
        }

    def model_input(self, x: torch.Tensor, library: torch.Tensor) -> torch.Tensor:
        """What the encoder reads and the Gaussian likelihood models: log1p counts, or log-normalized expression."""
        if self.gene_likelihood != "gaussian":
            return torch.log1p(x)
        return log_normalize(x, library) if self.log_normalize else x

    @staticmethod
    def _categorical_input(batch_index: torch.Tensor, cat_covs: torch.Tensor | None) -> list[torch.Tensor]:
        return [batch_index, *(torch.split(cat_covs, 1, dim=1) if cat_covs is not None else [])]

    # --- the model ---------------------------------------------------------------------------------------------------
    @auto_move_data
    def inference(
        self,
        x: torch.Tensor,
        batch_index: torch.Tensor,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        n_samples: int = 1,
    ) -> dict[str, torch.Tensor | Normal]:
        """q(z | x): returns ``z`` (a sample), ``qz`` (the posterior) and the observed log ``library`` size."""
        library = torch.log(x.sum(-1, keepdim=True).clamp(min=1.0))  # (B, 1)
        return self.encode(self.model_input(x, library.exp()), library, batch_index, cat_covs, cont_covs, n_samples)

    def encode(
        self,
        encoder_input: torch.Tensor,
        library: torch.Tensor,
        batch_index: torch.Tensor,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        n_samples: int = 1,
    ) -> dict[str, torch.Tensor | Normal]:
        """:meth:`inference` from what the encoder reads, :meth:`model_input` of the counts, and the log library.

        A caller holding sparse counts can apply :meth:`model_input`, which maps 0 to 0, to the stored values alone
        and densify afterwards; the result is the same as :meth:`inference` of the dense counts.
        """
        categorical = self._categorical_input(batch_index, cat_covs)
        if self.encode_covariates:
            if cont_covs is not None:
                encoder_input = torch.cat([encoder_input, cont_covs], dim=-1)
            qz, z = self.z_encoder(encoder_input, *categorical)
        else:
            qz, z = self.z_encoder(encoder_input)
        if n_samples > 1:
            z = qz.rsample((n_samples,))  # (S, B, n_latent)
            library = library.expand(n_samples, *library.shape)
        return {"z": z, "qz": qz, "library": library}

    @auto_move_data
    def generative(
        self,
        z: torch.Tensor,
        library: torch.Tensor,
        batch_index: torch.Tensor,
        y: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        transform_batch: int | None = None,
    ) -> dict[str, torch.distributions.Distribution]:
        """p(x | z, s): the likelihood ``px`` and the prior ``pz``; ``transform_batch`` decodes as that batch."""
        if transform_batch is not None:
            batch_index = torch.full_like(batch_index, int(transform_batch))
        decoder_input = z
        if cont_covs is not None:
            if z.dim() == 3:  # (S, B, n_latent): one copy of the covariates per posterior sample
                cont_covs = cont_covs.expand(z.size(0), *cont_covs.shape)
            decoder_input = torch.cat([z, cont_covs], dim=-1)
        hidden = self.px_decoder(decoder_input, *self._categorical_input(batch_index, cat_covs))
        mean_head = self.px_mean_decoder(hidden)  # (…, B, G)
        px_r = self._dispersion(batch_index, y)  # (1, G) or (B, G)

        if self.gene_likelihood == "gaussian":
            proportions = torch.expm1(mean_head).clamp(min=0)
            proportions = proportions / proportions.sum(-1, keepdim=True).clamp(min=1e-8)
            sd = px_r.exp().expand_as(mean_head)
            px = ScviNormal(mean_head, sd, normal_mu=proportions)
        else:
            log_scale = F.log_softmax(mean_head, dim=-1)
            log_mu = library + log_scale
            if self.gene_likelihood == "nb":
                px = LogSpaceNegativeBinomial(log_mu, px_r, scale=log_scale.exp())
            elif self.gene_likelihood == "zinb":
                assert self.px_dropout_decoder is not None  # built for zinb alone
                px = LogSpaceZeroInflatedNegativeBinomial(
                    log_mu, px_r, zi_logits=self.px_dropout_decoder(hidden), scale=log_scale.exp()
                )
            else:
                px = LogSpacePoisson(log_mu, scale=log_scale.exp())
        pz = Normal(torch.zeros_like(z), torch.ones_like(z))
        return {"px": px, "pz": pz}

    def _dispersion(self, batch_index: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Log θ (or log σ) as ``(1, G)``, or ``(B, G)`` for the batch / label of each cell."""
        if self.dispersion == "gene":
            return self.px_r.T
        index = batch_index if self.dispersion == "gene-batch" else y
        if index is None:
            raise ValueError("dispersion='gene-label' needs labels: pass labels_key to setup_anndata.")
        return self.px_r.T[index.view(-1)]

    def reconstruction_loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.distributions.Distribution],
    ) -> torch.Tensor:
        """−log p(x | z, s) of each cell (of each posterior sample), summed over genes."""
        x = tensors[REGISTRY_KEYS.X_KEY]
        target = self.model_input(x, inference_outputs["library"].exp()) if self.gene_likelihood == "gaussian" else x
        return -generative_outputs["px"].log_prob(target).sum(-1)

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, Any],
        generative_outputs: dict[str, torch.distributions.Distribution],
        kl_weight: float = 1.0,
    ) -> LossOutput:
        """Negative ELBO: reconstruction NLL + ``kl_weight`` · KL(q(z|x) ‖ p(z)), averaged over the minibatch."""
        reconstruction_loss = self.reconstruction_loss(tensors, inference_outputs, generative_outputs)
        kl_z = kl_divergence(inference_outputs["qz"], generative_outputs["pz"]).sum(-1)
        loss = torch.mean(reconstruction_loss + kl_weight * kl_z)
        return LossOutput(loss=loss, reconstruction_loss=reconstruction_loss, kl_local={"kl_divergence_z": kl_z})

    @torch.inference_mode()
    def sample(
        self,
        tensors: dict[str, torch.Tensor],
        n_samples: int = 1,
        generative_kwargs: dict | None = None,
    ) -> torch.Tensor:
        """Draw from the posterior predictive: ``(cells, genes)`` or ``(cells, genes, n_samples)``, on the CPU."""
        _, generative_outputs = self.forward(
            tensors,
            inference_kwargs={"n_samples": n_samples},
            generative_kwargs=generative_kwargs,
            compute_loss=False,
        )
        samples = generative_outputs["px"].sample()
        if n_samples > 1:
            samples = samples.permute(1, 2, 0)
        return samples.cpu()
