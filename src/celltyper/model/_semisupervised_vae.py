"""SemiSupervisedCountVAE: CountVAE whose latent space also feeds a cell-type classifier q(y | z)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import cast

import numpy as np
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data._utils import _validate_adata_dataloader_input
from scvi.data.fields import (
    CategoricalJointObsField,
    CategoricalObsField,
    LabelsWithUnlabeledObsField,
    LayerField,
    NumericalJointObsField,
)
from scvi.dataloaders import SemiSupervisedDataSplitter
from scvi.model.base import SemisupervisedTrainingMixin

from celltyper._keys import UNKNOWN
from celltyper.module import SemiSupervisedCountVAEModule
from celltyper.module._flows import FLOW_KINDS, FlowKind
from celltyper.module._vae import GeneLikelihood
from celltyper.train._semisupervised import SemiSupervisedTrainingPlan

from ._arguments import check_fraction, check_int
from ._docstrings import setup_anndata_dsp, train_dsp
from ._label_prediction import LabelPredictionMixin
from ._setup import check_category_column, check_label_column, register_fields
from ._vae import CountVAE


class SemiSupervisedCountVAE(LabelPredictionMixin, CountVAE):
    """:class:`~celltyper.CountVAE` trained together with a classifier of cell types on its latent space.

    The loss is the negative ELBO of every cell plus ``classification_ratio`` · cross-entropy of q(y | z) on the
    labelled cells (the M2 / scANVI idea), trained with scvi-tools' ``SemiSupervisedTrainingPlan`` and
    ``SemiSupervisedDataSplitter``. Cells labelled ``unlabeled_category`` only contribute to the ELBO.
    :meth:`predict` returns labels or, with ``soft=True``, a DataFrame of class probabilities;
    :meth:`load_query_data` maps new batches onto a trained model (scArches surgery, classifier frozen).

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    classifier_n_hidden, classifier_n_layers, classifier_dropout_rate
        Size and dropout of the classifier q(y | z) (``classifier_n_hidden=0``: a linear classifier).
    gene_likelihood
        As for :class:`~celltyper.CountVAE`.
    latent_hierarchy
        The M2 / scANVI hierarchy: a second latent z2 and the prior p(z1 | z2, y) p(z2) p(y) in place of
        Normal(0, I) on z1, with q(z2 | z1, y); each cell's ELBO sums over the cell types weighted by q(y | z1).
    latent_flow
        ``None`` (default): the posterior q(z | x) is a diagonal Gaussian. ``"iaf"`` (inverse autoregressive flow,
        starts as the identity), ``"planar"`` or ``"radial"``: a normalizing flow of pyro transforms on it, its
        log-determinant in the KL term. The classifier, :meth:`predict` and :meth:`get_latent_representation` then
        read the flow's image of the posterior mean.
        On four transfers of the validation suite the flow alone did not improve the classifier, and hierarchy +
        flow gained a little macro-F1 at worse calibration (``docs/flow.md``); hence the defaults.
    n_flow_layers
        Transforms of the flow (at least 1; ignored without ``latent_flow``).
    **kwargs
        Further arguments of :class:`~celltyper.CountVAE` (``n_latent``, ``n_hidden``, ``encode_covariates`` …).
        ``dispersion="gene-label"`` is refused: unlabelled cells have no label to pick a dispersion with.

    Examples
    --------
    >>> import celltyper as ct
    >>> adata = ct.datasets.kang_ifnb()
    >>> ct.model.SemiSupervisedCountVAE.setup_anndata(adata, labels_key="cell_type", layer="counts")
    >>> model = ct.model.SemiSupervisedCountVAE(adata)
    >>> model.train(max_epochs=50)
    >>> probabilities = model.predict(soft=True)
    """

    _module_cls = SemiSupervisedCountVAEModule
    _training_plan_cls = SemiSupervisedTrainingPlan
    _data_splitter_cls = SemiSupervisedDataSplitter

    def __init__(
        self,
        adata: AnnData,
        classifier_n_hidden: int = 128,
        classifier_n_layers: int = 1,
        classifier_dropout_rate: float = 0.1,
        gene_likelihood: GeneLikelihood = "zinb",
        latent_hierarchy: bool = False,
        latent_flow: FlowKind | None = None,
        n_flow_layers: int = 4,
        **kwargs,
    ):
        check_int("classifier_n_hidden", classifier_n_hidden, 0)
        check_int("n_flow_layers", n_flow_layers, 1)
        if not isinstance(latent_hierarchy, bool):
            raise TypeError(f"latent_hierarchy must be True or False, not {latent_hierarchy!r}.")
        if latent_flow is not None and latent_flow not in FLOW_KINDS:
            raise ValueError(f"latent_flow must be None or one of {list(FLOW_KINDS)}, not {latent_flow!r}.")
        check_int("classifier_n_layers", classifier_n_layers, 1)
        check_fraction("classifier_dropout_rate", classifier_dropout_rate)
        if kwargs.get("dispersion") == "gene-label":
            raise ValueError(
                "SemiSupervisedCountVAE does not support dispersion='gene-label'; use 'gene' or 'gene-batch'."
            )
        super().__init__(
            adata,
            gene_likelihood=gene_likelihood,
            classifier_n_hidden=classifier_n_hidden,
            classifier_n_layers=classifier_n_layers,
            classifier_dropout_rate=classifier_dropout_rate,
            latent_hierarchy=latent_hierarchy,
            latent_flow=latent_flow,
            n_flow_layers=n_flow_layers,
            **kwargs,
        )
        self.n_labels = self.module.n_classes
        self.was_pretrained = False
        self._set_indices_and_labels()
        self._model_summary_string = self._model_summary_string.replace(
            "CountVAE:", f"SemiSupervisedCountVAE ({self.n_labels} classes):", 1
        )
        if latent_hierarchy:
            self._model_summary_string += ", z1 / z2 hierarchy"
        if latent_flow is not None:
            self._model_summary_string += f", {n_flow_layers}-layer {latent_flow} flow on q(z1 | x)"
        self.init_params_ = self._get_init_params(locals())

    @classmethod
    @setup_anndata_dsp.dedent
    def setup_anndata(  # type: ignore[override]  # labels_key is required: the classifier needs labels
        cls,
        adata: AnnData,
        labels_key: str,
        unlabeled_category: str = UNKNOWN,
        layer: str | None = None,
        batch_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        **kwargs,
    ) -> None:
        """Register an AnnData for :class:`SemiSupervisedCountVAE` (nothing in the AnnData's values changes).

        Parameters
        ----------
        %(param_adata)s
        %(param_cell_type_key)s
        %(param_unlabeled_category)s
        %(param_layer)s
        %(param_batch_key)s
        %(param_covariate_keys)s
        %(param_register_kwargs)s

        Notes
        -----
        %(notes_bookkeeping)s
        """
        if labels_key not in adata.obs:
            raise KeyError(f"labels_key {labels_key!r} is not a column of adata.obs (columns: {list(adata.obs)}).")
        setup_method_args = cls._get_setup_method_args(**locals())
        check_label_column(adata, labels_key, unlabeled_category)
        check_category_column(adata, batch_key, "batch")
        for key in categorical_covariate_keys or []:
            check_category_column(adata, key, "covariate value")
        fields = [
            LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=False),
            CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
            LabelsWithUnlabeledObsField(REGISTRY_KEYS.LABELS_KEY, labels_key, unlabeled_category),
            CategoricalJointObsField(REGISTRY_KEYS.CAT_COVS_KEY, categorical_covariate_keys),
            NumericalJointObsField(REGISTRY_KEYS.CONT_COVS_KEY, continuous_covariate_keys),
        ]
        cls.register_manager(register_fields(adata, fields, setup_method_args, **kwargs))

    @train_dsp.dedent
    def train(  # type: ignore[override]  # no early_stopping; adds classification_ratio, weight_decay
        self,
        max_epochs: int | None = None,
        *,
        batch_size: int = 128,
        lr: float = 1e-3,
        classification_ratio: float = 50.0,
        n_epochs_kl_warmup: int | None = None,
        weight_decay: float = 1e-6,
        train_size: float = 0.9,
        validation_size: float | None = None,
        check_val_every_n_epoch: int | None = None,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        datasplitter_kwargs: dict | None = None,
        plan_kwargs: dict | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        resume_from: str | os.PathLike | None = None,
        **trainer_kwargs,
    ):
        """Train with scvi-tools' SemiSupervisedDataSplitter, SemiSupervisedTrainingPlan and Trainer.

        Parameters
        ----------
        max_epochs
            Passes over the cells (at least 1); ``None`` uses scvi-tools' heuristic.
        batch_size
            Cells per minibatch (of all cells, and of labelled cells for the cross-entropy); at least 2.
        lr
            Adam learning rate.
        classification_ratio
            α, the weight of the cross-entropy against the ELBO.
        n_epochs_kl_warmup
            Epochs over which the KL weight rises from 0 to 1; ``None`` = half of ``max_epochs``.
        weight_decay
            Adam weight decay; use 0 after :meth:`load_query_data` so frozen reference weights stay put.
        train_size, validation_size
            Fractions of the labelled and of the unlabelled cells used for training and validation.
        check_val_every_n_epoch
            How often validation metrics are logged (``None``: never, unless early stopping needs them).
        %(param_accelerator_devices)s
        datasplitter_kwargs
            Passed to :class:`scvi.dataloaders.SemiSupervisedDataSplitter` (e.g. ``drop_last``).
        plan_kwargs
            Passed to :class:`scvi.train.SemiSupervisedTrainingPlan`; they win over the arguments above.
        %(param_checkpoints)s
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer`.
        """
        max_epochs, warmup, _ = self._epochs_and_warmup(
            max_epochs, n_epochs_kl_warmup, batch_size, train_size, validation_size
        )
        return self._train_checkpointed(
            SemisupervisedTrainingMixin.train,
            checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every,
            resume_from=resume_from,
            plan_defaults={
                "lr": lr,
                "n_epochs_kl_warmup": warmup,
                "classification_ratio": classification_ratio,
                "weight_decay": weight_decay,
            },
            plan_kwargs=plan_kwargs,
            trainer_kwargs=trainer_kwargs,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_size=train_size,
            validation_size=validation_size,
            check_val_every_n_epoch=check_val_every_n_epoch,
            accelerator=accelerator,
            devices=devices,
            datasplitter_kwargs=datasplitter_kwargs,
        )

    @torch.inference_mode()
    def get_latent_representation(
        self,
        adata: AnnData | None = None,
        indices: Sequence[int] | None = None,
        give_mean: bool = True,
        mc_samples: int = 5000,
        batch_size: int | None = None,
        return_dist: bool = False,
        dataloader: Iterator[dict[str, torch.Tensor | None]] | None = None,
        **data_loader_kwargs,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """:meth:`scvi.model.base.VAEMixin.get_latent_representation`; with ``latent_flow``, through the flow.

        With a flow, ``give_mean`` gives the flow's image of the posterior mean of z0 (what the classifier reads),
        ``give_mean=False`` a sample of z1, and ``return_dist=True`` is refused: the posterior is no Normal.
        """
        if self.module.flow is None or not give_mean:
            return super().get_latent_representation(
                adata, indices, give_mean, mc_samples, batch_size, return_dist, dataloader, **data_loader_kwargs
            )
        if return_dist:
            raise ValueError("With latent_flow the posterior is not a Normal: return_dist=True has no mean / variance.")
        _validate_adata_dataloader_input(self, adata, dataloader)
        if dataloader is None:
            dataloader = self._make_data_loader(
                adata=self._validate_anndata(adata), indices=indices, batch_size=batch_size, **data_loader_kwargs
            )
        means = [
            self.module.latent_mean(
                self.module.inference(**self.module._get_inference_input(cast(dict, tensors)))
            ).cpu()
            for tensors in dataloader
        ]
        return torch.cat(means).numpy()
