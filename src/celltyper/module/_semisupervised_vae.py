"""SemiSupervisedCountVAEModule: CountVAE plus a classifier q(y | z) trained together with the ELBO.

The M2 / scANVI idea in its simplest form: the encoder q(z | x, s) is shared; a classifier reads the posterior mean
of z, and on labelled cells the loss adds ``α · cross-entropy(q(y | z), y)`` to the negative ELBO of all cells
(``α`` = ``classification_ratio`` of :class:`scvi.train.SemiSupervisedTrainingPlan`). The gradient of the
cross-entropy reaches the encoder, so z is shaped to separate the cell types while still reconstructing the counts.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.module import Classifier
from scvi.module.base import LossOutput, auto_move_data

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
    """

    def __init__(
        self,
        n_input: int,
        n_batch: int = 1,
        n_labels: int = 2,
        classifier_n_hidden: int = 128,
        classifier_n_layers: int = 1,
        classifier_dropout_rate: float = 0.1,
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
        return self.classifier(inference["qz"].loc if use_posterior_mean else inference["z"])

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
        elbo = super().loss(tensors, inference_outputs, generative_outputs, kl_weight=kl_weight)
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


def _rows(tensor: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor | None:
    return None if tensor is None else tensor[mask]
