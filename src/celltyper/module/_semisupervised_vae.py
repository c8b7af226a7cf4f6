"""SemiSupervisedCountVAEModule: CountVAE plus a classifier q(y | z) trained together with the ELBO.

The M2 / scANVI idea: the encoder q(z1 | x, s) is shared; a classifier q(y | z1) reads the posterior mean of z1,
and on labelled cells the loss adds ``α · cross-entropy(q(y | z1), y)`` to the negative ELBO of all cells
(``α`` = ``classification_ratio`` of :class:`scvi.train.SemiSupervisedTrainingPlan`). The gradient of the
cross-entropy reaches the encoder, so z1 is shaped to separate the cell types while still reconstructing the counts.

Two options bring it closer to M2:

- ``latent_hierarchy``: the prior of z1 is p(z1 | z2, y) p(z2) p(y), with q(z2 | z1, y) (scANVI's ELBO). Every cell's
  ELBO sums over y weighted by q(y | z1): E_q[log p(x | z1) − log q(z1 | x) + Σ_y q(y | z1)(log p(z1 | z2, y)
  − KL(q(z2 | z1, y) ‖ p(z2)))] − KL(q(y | z1) ‖ p(y)), p(y) uniform. Unlike scANVI, ``kl_weight`` (the warm-up) scales
  all three KL terms, z1's included, as it scales the flat model's KL.
- ``latent_flow``: a normalizing flow (:class:`~celltyper.module._flows.LatentFlow`) on q(z1 | x); z1 is the flow's
  output, log q(z1 | x) = log q_0(z_0 | x) − Σ log |det J|. Without the hierarchy the KL is estimated as
  KL(q_0 ‖ p) + log p(z_0) − log p(z1) − Σ log |det J| (closed form plus a one-sample correction: unbiased, and
  exactly the flow-less KL when the flow is the identity).
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.module import Classifier
from scvi.module.base import LossOutput, auto_move_data
from scvi.nn import Decoder, Encoder
from torch.distributions import Categorical, Normal, kl_divergence

from ._flows import FlowKind, LatentFlow
from ._vae import CountVAEModule


class SemiSupervisedCountVAEModule(CountVAEModule):
    """:class:`CountVAEModule` with a classifier head on the latent space.

    Parameters
    ----------
    n_input, n_batch, **kwargs
        As for :class:`CountVAEModule`.
    n_labels
        Number of label categories *including* the unlabelled one, which scvi-tools' ``LabelsWithUnlabeledObsField``
        always puts last; the classifier predicts the ``n_labels - 1`` others.
    classifier_n_hidden
        Units of the classifier's hidden layer (0: a linear classifier on z).
    classifier_n_layers
        Hidden layers of the classifier.
    classifier_dropout_rate
        Dropout in the classifier's hidden layers.
    latent_hierarchy
        Add z2 and the prior p(z1 | z2, y) (M2 / scANVI); the networks of q(z2 | z1, y) and p(z1 | z2, y) have the
        encoder's ``n_hidden`` and ``n_layers``, with layer norm.
    latent_flow
        ``None`` (a diagonal Gaussian posterior), or a normalizing flow on q(z1 | x): ``"iaf"``, ``"planar"`` or
        ``"radial"``.
    n_flow_layers
        Transforms of the flow (used only with ``latent_flow``).
    """

    def __init__(
        self,
        n_input: int,
        n_batch: int = 1,
        n_labels: int = 2,
        classifier_n_hidden: int = 128,
        classifier_n_layers: int = 1,
        classifier_dropout_rate: float = 0.1,
        latent_hierarchy: bool = False,
        latent_flow: FlowKind | None = None,
        n_flow_layers: int = 4,
        **kwargs,
    ):
        if n_labels < 2:
            raise ValueError(f"n_labels counts the unlabelled category too and must be at least 2, not {n_labels}.")
        super().__init__(n_input=n_input, n_batch=n_batch, n_labels=n_labels, **kwargs)
        self.n_classes = n_labels - 1
        # Named "classifier" so that scvi's load_query_data freezes it (freeze_classifier=True) during query mapping.
        self.classifier = Classifier(
            n_input=self.n_latent,
            n_hidden=classifier_n_hidden,
            n_labels=self.n_classes,
            n_layers=classifier_n_layers,
            dropout_rate=classifier_dropout_rate,
            logits=True,
            use_batch_norm=False,
            use_layer_norm=True,
        )
        self.flow = None if latent_flow is None else LatentFlow(self.n_latent, latent_flow, n_flow_layers)
        self.latent_hierarchy = bool(latent_hierarchy)
        if self.latent_hierarchy:
            n_hidden, n_layers = kwargs.get("n_hidden", 128), kwargs.get("n_layers", 1)
            shapes = {"n_cat_list": [self.n_classes], "n_layers": n_layers, "n_hidden": n_hidden}
            norms = {"use_batch_norm": False, "use_layer_norm": True}
            self.encoder_z2_z1 = Encoder(self.n_latent, self.n_latent, return_dist=True, **shapes, **norms)
            self.decoder_z1_z2 = Decoder(self.n_latent, self.n_latent, **shapes, **norms)

    def encode(
        self,
        encoder_input: torch.Tensor,
        library: torch.Tensor,
        batch_index: torch.Tensor,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        n_samples: int = 1,
    ) -> dict[str, torch.Tensor | Normal]:
        """:meth:`CountVAEModule.encode`; with a flow, ``z`` is the flow's output and ``z0`` / ``log_det`` are added."""
        outputs = super().encode(encoder_input, library, batch_index, cat_covs, cont_covs, n_samples)
        if self.flow is not None:
            outputs["z0"] = outputs["z"]
            outputs["z"], outputs["log_det"] = self.flow(outputs["z0"])
        return outputs

    def latent_mean(self, inference: dict[str, torch.Tensor]) -> torch.Tensor:
        """The posterior mean of z0, through the flow when there is one: the cell's deterministic position."""
        mean = cast(Normal, inference["qz"]).loc
        return mean if self.flow is None else self.flow(mean)[0]

    @auto_move_data
    def classify(
        self,
        x: torch.Tensor,
        batch_index: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        use_posterior_mean: bool = True,
    ) -> torch.Tensor:
        """Logits of q(y | z), ``(cells, n_classes)``, from the posterior mean of z (or a sample of it).

        The signature is scvi-tools' ``SupervisedModuleClass.classify``, so that
        :meth:`scvi.model.base.SemisupervisedTrainingMixin.predict` can call it.
        """
        if batch_index is None:
            batch_index = torch.zeros(x.shape[0], 1, dtype=torch.long, device=x.device)
        inference = self.inference(x, batch_index, cat_covs=cat_covs, cont_covs=cont_covs)
        return self.classify_posterior(inference, use_posterior_mean)

    def classify_posterior(self, inference: dict[str, Any], use_posterior_mean: bool = True) -> torch.Tensor:
        """Logits of q(y | z) from the output of :meth:`inference` or :meth:`encode`."""
        return self.classifier(self.latent_mean(inference) if use_posterior_mean else inference["z"])

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, Any],
        generative_outputs: dict[str, torch.distributions.Distribution],
        kl_weight: float = 1.0,
        labelled_tensors: dict[str, torch.Tensor] | None = None,
        classification_ratio: float | None = None,
    ) -> LossOutput:
        """Negative ELBO of ``tensors`` plus ``classification_ratio`` · cross-entropy on ``labelled_tensors``.

        Cells whose label is the unlabelled category are left out of the cross-entropy.
        """
        elbo = self.elbo_loss(tensors, inference_outputs, generative_outputs, kl_weight)
        if labelled_tensors is None or not classification_ratio:
            return elbo
        y = labelled_tensors[REGISTRY_KEYS.LABELS_KEY].view(-1).long()
        labelled = y < self.n_classes
        if not labelled.any():
            return elbo
        logits = self.classify(
            labelled_tensors[REGISTRY_KEYS.X_KEY][labelled],
            labelled_tensors[REGISTRY_KEYS.BATCH_KEY][labelled],
            cont_covs=_rows(labelled_tensors.get(REGISTRY_KEYS.CONT_COVS_KEY), labelled),
            cat_covs=_rows(labelled_tensors.get(REGISTRY_KEYS.CAT_COVS_KEY), labelled),
        )
        classification_loss = F.cross_entropy(logits, y[labelled])
        return LossOutput(
            loss=elbo.loss + classification_ratio * classification_loss,
            reconstruction_loss=elbo.reconstruction_loss,
            kl_local=elbo.kl_local,
            classification_loss=classification_loss,
            logits=logits,
            true_labels=y[labelled].unsqueeze(-1),
        )

    def elbo_loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.distributions.Distribution],
        kl_weight: float = 1.0,
    ) -> LossOutput:
        """Negative ELBO (reconstruction + ``kl_weight`` · KL terms) of every cell, flat or hierarchical."""
        if not self.latent_hierarchy and self.flow is None:
            return super().loss(tensors, inference_outputs, generative_outputs, kl_weight=kl_weight)
        reconstruction_loss = self.reconstruction_loss(tensors, inference_outputs, generative_outputs)
        qz, z = cast(Normal, inference_outputs["qz"]), inference_outputs["z"]
        z0 = inference_outputs.get("z0", z)
        log_det = inference_outputs.get("log_det", 0.0)
        if self.latent_hierarchy:
            kl_local = self._hierarchical_kl(z, qz.log_prob(z0).sum(-1) - log_det)
        else:
            pz = generative_outputs["pz"]
            correction = pz.log_prob(z0).sum(-1) - pz.log_prob(z).sum(-1) - log_det
            kl_local = {"kl_divergence_z": kl_divergence(qz, pz).sum(-1) + correction}
        loss = torch.mean(reconstruction_loss + kl_weight * sum(kl_local.values()))
        return LossOutput(loss=loss, reconstruction_loss=reconstruction_loss, kl_local=kl_local)

    def _hierarchical_kl(self, z1: torch.Tensor, log_qz1: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three KL terms of the z1 / z2 / y hierarchy, per cell, summed over y with weights q(y | z1).

        ``log_qz1`` is log q(z1 | x) at the sample ``z1``; every class y is paired with every cell by broadcasting.
        """
        n_classes, n_latent = self.n_classes, z1.shape[-1]
        z1s = z1.unsqueeze(-3).expand(*z1.shape[:-2], n_classes, *z1.shape[-2:])  # (…, K, B, L)
        ys = torch.arange(n_classes, device=z1.device).view(n_classes, 1).expand(z1s.shape[:-1])  # (…, K, B)
        qz2, z2 = self.encoder_z2_z1(z1s.reshape(-1, n_latent), ys.reshape(-1, 1))
        pz1_mean, pz1_var = self.decoder_z1_z2(z2, ys.reshape(-1, 1))
        log_pz1 = Normal(pz1_mean, pz1_var.sqrt()).log_prob(z1s.reshape(-1, n_latent)).sum(-1)
        kl_z2 = kl_divergence(qz2, Normal(torch.zeros_like(z2), torch.ones_like(z2))).sum(-1)
        probs = torch.softmax(self.classifier(z1), dim=-1)  # (…, B, K)

        def expected(per_class: torch.Tensor) -> torch.Tensor:
            return (per_class.view(ys.shape).transpose(-1, -2) * probs).sum(-1)

        uniform = Categorical(probs=torch.full_like(probs, 1.0 / n_classes))
        return {
            "kl_divergence_z": log_qz1 - expected(log_pz1),
            "kl_divergence_z2": expected(kl_z2),
            "kl_divergence_y": kl_divergence(Categorical(probs=probs), uniform),
        }


def _rows(tensor: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor | None:
    return None if tensor is None else tensor[mask]
