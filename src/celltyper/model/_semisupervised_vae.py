"""SemiSupervisedCountVAE: CountVAE whose latent space also feeds a cell-type classifier q(y | z)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.data.fields import (
    CategoricalJointObsField,
    CategoricalObsField,
    LabelsWithUnlabeledObsField,
    LayerField,
    NumericalJointObsField,
)
from scvi.dataloaders import SemiSupervisedDataSplitter
from scvi.model._utils import get_max_epochs_heuristic
from scvi.model.base import SemisupervisedTrainingMixin

from celltyper.module import SemiSupervisedCountVAEModule
from celltyper.module._vae import GeneLikelihood
from celltyper.train._semisupervised import SemiSupervisedTrainingPlan

from ._streaming import row_block, rows_at
from ._vae import CountVAE


class SemiSupervisedCountVAE(SemisupervisedTrainingMixin, CountVAE):
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
        **kwargs,
    ):
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
            **kwargs,
        )
        self.n_labels = self.module.n_classes
        self.was_pretrained = False
        self._set_indices_and_labels()
        self._model_summary_string = self._model_summary_string.replace(
            "CountVAE:", f"SemiSupervisedCountVAE ({self.n_labels} classes):", 1
        )
        self.init_params_ = self._get_init_params(locals())

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        labels_key: str,
        unlabeled_category: str = "Unknown",
        layer: str | None = None,
        batch_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        **kwargs,
    ) -> None:
        """Register an AnnData for :class:`SemiSupervisedCountVAE` (nothing in the AnnData's values changes).

        Parameters
        ----------
        adata
            AnnData of cells × genes.
        labels_key
            Column of ``adata.obs`` with the cell types; cells labelled ``unlabeled_category`` are unlabelled.
        unlabeled_category
            The value of ``labels_key`` that marks unlabelled cells.
        layer
            Layer with the expression to model (``None``: ``adata.X``); raw counts for the count likelihoods.
        batch_key
            Column of ``adata.obs`` with the batch of each cell.
        categorical_covariate_keys, continuous_covariate_keys
            Further columns of ``adata.obs`` the decoder is conditioned on.
        **kwargs
            Passed to :meth:`scvi.data.AnnDataManager.register_fields`.

        Notes
        -----
        Writes scvi-tools' bookkeeping columns (``_scvi_batch``, ``_scvi_labels``) to ``adata.obs`` and ids to
        ``adata.uns``, as every scvi-tools model does.
        """
        if labels_key not in adata.obs:
            raise KeyError(f"labels_key {labels_key!r} is not a column of adata.obs (columns: {list(adata.obs)}).")
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = [
            LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=False),
            CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
            LabelsWithUnlabeledObsField(REGISTRY_KEYS.LABELS_KEY, labels_key, unlabeled_category),
            CategoricalJointObsField(REGISTRY_KEYS.CAT_COVS_KEY, categorical_covariate_keys),
            NumericalJointObsField(REGISTRY_KEYS.CONT_COVS_KEY, continuous_covariate_keys),
        ]
        adata_manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        adata_manager.register_fields(adata, **kwargs)
        cls.register_manager(adata_manager)

    def train(
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
        **trainer_kwargs,
    ):
        """Train with scvi-tools' SemiSupervisedDataSplitter, SemiSupervisedTrainingPlan and Trainer.

        Parameters
        ----------
        max_epochs
            Passes over the cells; ``None`` uses scvi-tools' heuristic.
        batch_size
            Cells per minibatch (of all cells, and of labelled cells for the cross-entropy).
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
        accelerator, devices
            Lightning's device selection.
        datasplitter_kwargs
            Passed to :class:`scvi.dataloaders.SemiSupervisedDataSplitter` (e.g. ``drop_last``).
        plan_kwargs
            Passed to :class:`scvi.train.SemiSupervisedTrainingPlan`; they win over the arguments above.
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer`.
        """
        max_epochs = max_epochs or get_max_epochs_heuristic(self.adata.n_obs)
        warmup = n_epochs_kl_warmup if n_epochs_kl_warmup is not None else max(1, max_epochs // 2)
        plan_kwargs = {
            "lr": lr,
            "n_epochs_kl_warmup": warmup,
            "classification_ratio": classification_ratio,
            "weight_decay": weight_decay,
            **(plan_kwargs or {}),
        }
        return SemisupervisedTrainingMixin.train(
            self,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_size=train_size,
            validation_size=validation_size,
            check_val_every_n_epoch=check_val_every_n_epoch,
            accelerator=accelerator,
            devices=devices,
            datasplitter_kwargs=datasplitter_kwargs,
            plan_kwargs=plan_kwargs,
            **trainer_kwargs,
        )

    def predict(
        self,
        adata: AnnData | None = None,
        indices: Sequence[int] | None = None,
        soft: bool = False,
        batch_size: int = 4096,
        use_posterior_mean: bool = True,
        **kwargs,
    ) -> np.ndarray | pd.DataFrame:
        """Cell type of each cell: the most probable label of q(y | z), or all the probabilities.

        Reads the registered counts in row blocks of ``batch_size`` cells straight into the encoder, without
        scvi-tools' minibatch loader and without autograd: the same numbers as
        :meth:`scvi.model.base.SemisupervisedTrainingMixin.predict`, several times faster on large queries, and on a
        backed file each cell of an ``indices`` subset in any order keeps its own row (scvi-tools' path reads such a
        subset sorted but labels it in the given order). Models set up with covariates, and the
        ``ig_interpretability`` / ``dataloader`` arguments, take scvi-tools' path.

        Parameters
        ----------
        adata
            AnnData set up like the reference (default: the reference); a query is registered on the fly.
        indices
            Cells to predict (default: all).
        soft
            Return a DataFrame cells × labels of probabilities instead of labels.
        batch_size
            Cells per forward pass.
        use_posterior_mean
            Classify the posterior mean of z (else a sample: stochastic predictions).
        **kwargs
            ``ig_interpretability``, ``ig_args``, ``dataloader`` of scvi-tools' ``predict``.

        Returns
        -------
        ``np.ndarray`` of labels, or (``soft=True``) a ``DataFrame`` indexed by the cells' ``obs_names``.
        """
        if kwargs or any(
            key in self.adata_manager.data_registry for key in (REGISTRY_KEYS.CAT_COVS_KEY, REGISTRY_KEYS.CONT_COVS_KEY)
        ):
            return super().predict(adata, indices, soft, batch_size, use_posterior_mean, **kwargs)
        manager = self.get_anndata_manager(self._validate_anndata(adata), required=True)
        self.module.eval()
        rows = np.arange(manager.adata.n_obs) if indices is None else np.asarray(indices, dtype=int)
        counts = manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        batches = np.asarray(manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY)).reshape(-1, 1)
        probabilities = []
        dense_buffer = np.empty((min(batch_size, len(rows)), counts.shape[1]), dtype=np.float32)  # reused by blocks
        with torch.inference_mode():
            for start in range(0, max(len(rows), 1), batch_size):  # one (maybe empty) block at least: the label count
                if indices is None:  # contiguous row blocks: views of an in-memory CSR matrix, one read of a backed one
                    block = slice(start, start + batch_size)
                    x = row_block(counts, start, start + batch_size)
                else:
                    block = rows[start : start + batch_size]
                    x = rows_at(counts, block)
                encoder_input, library = self._encoder_input(x, dense_buffer)
                inference = self.module.encode(
                    encoder_input, library, torch.as_tensor(batches[block], dtype=torch.long, device=self.device)
                )
                logits = self.module.classify_posterior(inference, use_posterior_mean)
                probabilities.append(torch.softmax(logits, dim=-1).cpu().numpy())
        probabilities = np.concatenate(probabilities)
        labels = np.asarray(self._label_mapping[: probabilities.shape[1]])
        if soft:
            return pd.DataFrame(probabilities, columns=labels, index=manager.adata.obs_names[rows])
        return labels[probabilities.argmax(1)]

    def _encoder_input(self, counts, dense_buffer: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """What the encoder reads and the log library size, ``(cells, 1)``, of a block of counts.

        Of sparse counts only the stored values are transformed (:meth:`CountVAEModule.model_input` maps 0 to 0),
        then densified into the first rows of ``dense_buffer``, memory used again by every block (freshly allocated
        memory costs more to fill): half the work of transforming the dense block when half the values are zero.
        The returned encoder input shares memory with ``dense_buffer`` on the CPU.
        """
        if not sp.issparse(counts):
            counts = torch.as_tensor(np.asarray(counts), dtype=torch.float32)
            library = counts.sum(-1, keepdim=True).clamp(min=1.0)
            return self.module.model_input(counts, library).to(self.device), library.log().to(self.device)
        if not (counts.format == "csr" and counts.dtype == np.float32):  # the constructor would copy a view's arrays
            counts = sp.csr_matrix(counts, dtype=np.float32)
        library = torch.from_numpy(np.asarray(counts.sum(axis=1), dtype=np.float32)).clamp(min=1.0)
        if self.module.gene_likelihood == "gaussian" and self.module.log_normalize:  # each value needs its library
            value_library = np.repeat(library.numpy().ravel(), np.diff(counts.indptr))
            values = self.module.model_input(torch.from_numpy(counts.data), torch.from_numpy(value_library))
        else:  # log1p(counts): no library
            values = self.module.model_input(torch.from_numpy(counts.data), library)
        transformed = row_block(counts, 0, counts.shape[0])  # the same rows and columns, holding the new values
        transformed.data = values.numpy()
        dense = transformed.toarray(out=dense_buffer[: counts.shape[0]])
        return torch.from_numpy(dense).to(self.device), library.log().to(self.device)
