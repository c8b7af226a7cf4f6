"""CountVAE: the user's face of :class:`~celltyper.module.CountVAEModule`."""

from __future__ import annotations

import logging
import os
from typing import Literal

from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data.fields import (
    CategoricalJointObsField,
    CategoricalObsField,
    LayerField,
    NumericalJointObsField,
)
from scvi.model._utils import get_max_epochs_heuristic
from scvi.model.base import BaseModelClass, RNASeqMixin, UnsupervisedTrainingMixin, VAEMixin

from celltyper._counts import summarize_matrix
from celltyper.module import CountVAEModule
from celltyper.module._vae import Dispersion, GeneLikelihood
from celltyper.train import BackedDataSplitter, TrainingPlan
from celltyper.train._backed import anndata_loader

from ._arguments import check_batch_size, check_fraction, check_int, check_max_epochs, n_training_cells
from ._docstrings import setup_anndata_dsp, train_dsp
from ._genes import in_model_gene_order
from ._model_io import SafeModelIOMixin
from ._query_mapping import QueryMappingMixin
from ._setup import check_category_column, register_fields
from ._training import CheckpointedTrainingMixin
from ._validation import check_expression, registered_location, warn_ambiguous_counts

logger = logging.getLogger(__name__)


class CountVAE(
    SafeModelIOMixin,
    CheckpointedTrainingMixin,
    RNASeqMixin,
    VAEMixin,
    QueryMappingMixin,
    UnsupervisedTrainingMixin,
    BaseModelClass,
):
    """Variational autoencoder of single-cell expression, batch-aware, with a count or Gaussian likelihood.

    Set up the AnnData with :meth:`setup_anndata` first, as for :class:`scvi.model.SCVI`. Genes are matched by
    name: data with the model's genes in another order (or with extra genes) is read in the model's order.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    n_hidden
        Units per hidden layer.
    n_latent
        Dimension of the latent space.
    n_layers
        Hidden layers in the encoder and in the decoder.
    dropout_rate
        Dropout probability in the encoder.
    gene_likelihood
        ``"zinb"`` (zero-inflated negative binomial), ``"nb"``, ``"poisson"`` — raw counts, scaled by each cell's
        observed library size — or ``"gaussian"`` over log1p-normalized expression. The count likelihoods refuse
        data that are not non-negative integers.
    dispersion
        ``"gene"`` (one inverse dispersion per gene), ``"gene-batch"`` or ``"gene-label"`` (one per gene and batch /
        label; needs ``labels_key``). For ``"gaussian"`` this is the standard deviation.
    encode_covariates
        Give batch and covariates to the encoder too (recommended for query mapping with
        :meth:`load_query_data`).
    log_normalize
        Gaussian only. ``True``: the registered values are counts and the model computes ``log1p(1e4 · x / library)``
        itself. ``False``: the values are already normalized. ``None`` (default): decided from the data — counts
        are normalized, anything else is used as it is.
    use_batch_norm, use_layer_norm
        Which networks normalize their hidden layers: ``"encoder"``, ``"decoder"``, ``"both"`` or ``"none"``.
    **module_kwargs
        Further arguments of the module class (used by subclasses such as
        :class:`~celltyper.model.SemiSupervisedCountVAE` for their extra heads).

    Examples
    --------
    >>> import celltyper as ct
    >>> adata = ct.datasets.kang_ifnb()
    >>> ct.CountVAE.setup_anndata(adata, layer="counts", batch_key="condition")
    >>> model = ct.CountVAE(adata, gene_likelihood="zinb")
    >>> model.train(max_epochs=50)
    >>> adata.obsm["X_celltyper"] = model.get_latent_representation()
    """

    _module_cls: type[CountVAEModule] = CountVAEModule
    _training_plan_cls = TrainingPlan
    # a backed AnnData (read_h5ad(path, backed="r")) is read in blocks straight from its file; in memory as scvi
    _data_splitter_cls = BackedDataSplitter
    _data_loader_cls = staticmethod(anndata_loader)

    def __init__(
        self,
        adata: AnnData,
        n_hidden: int = 128,
        n_latent: int = 10,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        gene_likelihood: GeneLikelihood = "zinb",
        dispersion: Dispersion = "gene",
        encode_covariates: bool = False,
        log_normalize: bool | None = None,
        use_batch_norm: Literal["encoder", "decoder", "both", "none"] = "both",
        use_layer_norm: Literal["encoder", "decoder", "both", "none"] = "none",
        **module_kwargs,
    ):
        super().__init__(adata)
        for name, value in (("n_hidden", n_hidden), ("n_latent", n_latent), ("n_layers", n_layers)):
            check_int(name, value, 1)
        check_fraction("dropout_rate", dropout_rate)
        if gene_likelihood not in ("gaussian", "nb", "zinb", "poisson"):
            raise ValueError(f"gene_likelihood must be 'gaussian', 'nb', 'zinb' or 'poisson', not {gene_likelihood!r}.")
        if dispersion == "gene-label" and self.registry_["setup_args"].get("labels_key") is None:
            raise ValueError("dispersion='gene-label' needs labels: pass labels_key to CountVAE.setup_anndata.")
        summary = summarize_matrix(self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY))
        if log_normalize is None:
            log_normalize = gene_likelihood == "gaussian" and summary.looks_like_counts
            if gene_likelihood == "gaussian" and summary.looks_like_small_counts:
                warn_ambiguous_counts(summary, registered_location(self.adata_manager))
        log_normalize = bool(log_normalize and gene_likelihood == "gaussian")
        check_expression(summary, registered_location(self.adata_manager), gene_likelihood, log_normalize)

        cat_state = self.adata_manager.get_state_registry(REGISTRY_KEYS.CAT_COVS_KEY)
        self.module = self._module_cls(
            n_input=self.summary_stats.n_vars,
            n_batch=self.summary_stats.n_batch,
            n_labels=self.summary_stats.n_labels,
            n_hidden=n_hidden,
            n_latent=n_latent,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            gene_likelihood=gene_likelihood,
            dispersion=dispersion,
            n_cats_per_cov=list(cat_state.n_cats_per_key)
            if REGISTRY_KEYS.CAT_COVS_KEY in self.adata_manager.data_registry
            else None,
            n_continuous_cov=self.summary_stats.get("n_extra_continuous_covs", 0),
            encode_covariates=encode_covariates,
            log_normalize=log_normalize,
            use_batch_norm=use_batch_norm,
            use_layer_norm=use_layer_norm,
            **module_kwargs,
        )
        input_kind = "log1p-normalized counts" if log_normalize else registered_location(self.adata_manager)
        self._model_summary_string = (
            f"CountVAE: {gene_likelihood} likelihood over {input_kind}, n_latent={n_latent}, n_hidden={n_hidden}, "
            f"n_layers={n_layers}, dispersion={dispersion}, n_batch={self.summary_stats.n_batch}"
        )
        self.init_params_ = self._get_init_params(locals())

    @classmethod
    @setup_anndata_dsp.dedent
    def setup_anndata(
        cls,
        adata: AnnData,
        layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        **kwargs,
    ) -> None:
        """Register an AnnData for :class:`CountVAE` (nothing in the AnnData's values changes).

        Parameters
        ----------
        %(param_adata)s
        %(param_layer)s
        %(param_batch_key)s
        labels_key
            Column of ``adata.obs`` with labels; only ``dispersion="gene-label"`` uses it.
        %(param_covariate_keys)s
        %(param_register_kwargs)s

        Notes
        -----
        %(notes_bookkeeping)s
        """
        setup_method_args = cls._get_setup_method_args(**locals())
        check_category_column(adata, batch_key, "batch")
        check_category_column(adata, labels_key, "label")
        for key in categorical_covariate_keys or []:
            check_category_column(adata, key, "covariate value")
        fields = [
            LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=False),
            CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
            CategoricalObsField(REGISTRY_KEYS.LABELS_KEY, labels_key),
            CategoricalJointObsField(REGISTRY_KEYS.CAT_COVS_KEY, categorical_covariate_keys),
            NumericalJointObsField(REGISTRY_KEYS.CONT_COVS_KEY, continuous_covariate_keys),
        ]
        cls.register_manager(register_fields(adata, fields, setup_method_args, **kwargs))

    @train_dsp.dedent
    def train(
        self,
        max_epochs: int | None = None,
        *,
        batch_size: int = 128,
        lr: float = 1e-3,
        n_epochs_kl_warmup: int | None = None,
        early_stopping: bool = False,
        check_val_every_n_epoch: int | None = 1,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        train_size: float | None = None,
        validation_size: float | None = None,
        datasplitter_kwargs: dict | None = None,
        plan_kwargs: dict | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        resume_from: str | os.PathLike | None = None,
        **trainer_kwargs,
    ):
        """Train with scvi-tools' DataSplitter, TrainingPlan and Trainer; the history lands in ``model.history``.

        Parameters
        ----------
        max_epochs
            Passes over the training cells (at least 1); ``None`` uses scvi-tools' heuristic
            ``min(400, 400 · 20000 / n_cells)``.
        batch_size
            Cells per minibatch (at least 2: BatchNorm cannot normalise one cell).
        lr
            Adam learning rate.
        n_epochs_kl_warmup
            Epochs over which the KL weight rises linearly from 0 to 1; ``None`` = half of ``max_epochs``, so that
            the second half trains the full ELBO (scvi-tools' fixed 400 leaves it below 1 for shorter runs).
        early_stopping
            Stop when the validation ELBO has not improved for ``early_stopping_patience`` epochs (default 45).
        check_val_every_n_epoch
            How often the validation ELBO is computed and logged (``None``: never, unless needed). With fewer than
            10 cells (no validation cell at the default split) nothing is validated.
        %(param_accelerator_devices)s
        train_size, validation_size
            Fractions of the cells used for training and validation (default 0.9 / 0.1).
        datasplitter_kwargs
            Passed to :class:`scvi.dataloaders.DataSplitter`.
        plan_kwargs
            Passed to :class:`scvi.train.TrainingPlan` (they win over ``lr`` and ``n_epochs_kl_warmup``).
        %(param_checkpoints)s
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer` (e.g. ``early_stopping_patience``, ``enable_progress_bar``).
        """
        max_epochs, warmup, n_validation = self._epochs_and_warmup(
            max_epochs, n_epochs_kl_warmup, batch_size, train_size, validation_size
        )
        if n_validation == 0:
            if early_stopping:
                raise ValueError(
                    f"early_stopping needs validation cells, but the {self.adata.n_obs} cells leave none "
                    f"(train_size={train_size}, validation_size={validation_size}). Pass early_stopping=False or a "
                    "validation_size that holds at least one cell."
                )
            check_val_every_n_epoch = None  # nothing to validate on
        if check_val_every_n_epoch is not None:
            trainer_kwargs["check_val_every_n_epoch"] = check_val_every_n_epoch
        return self._train_checkpointed(
            UnsupervisedTrainingMixin.train,
            checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every,
            resume_from=resume_from,
            plan_defaults={"lr": lr, "n_epochs_kl_warmup": warmup},
            plan_kwargs=plan_kwargs,
            trainer_kwargs=trainer_kwargs,
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            train_size=train_size,
            validation_size=validation_size,
            batch_size=batch_size,
            early_stopping=early_stopping,
            datasplitter_kwargs=datasplitter_kwargs,
        )

    def _epochs_and_warmup(
        self,
        max_epochs: int | None,
        n_epochs_kl_warmup: int | None,
        batch_size: int,
        train_size: float | None,
        validation_size: float | None,
    ) -> tuple[int, int, int]:
        """Check ``train``'s arguments; return the epochs, the KL warmup epochs and the number of validation cells.

        ``max_epochs=None`` is scvi-tools' heuristic for this many cells; ``n_epochs_kl_warmup=None`` is half of the
        epochs (at least 1).
        """
        check_max_epochs(max_epochs)
        check_batch_size(batch_size)
        _, n_validation = n_training_cells(self.adata.n_obs, train_size, validation_size, batch_size)
        max_epochs = get_max_epochs_heuristic(self.adata.n_obs) if max_epochs is None else max_epochs
        warmup = n_epochs_kl_warmup if n_epochs_kl_warmup is not None else max(1, max_epochs // 2)
        return max_epochs, warmup, n_validation

    def _validate_anndata(self, adata: AnnData | None = None, copy_if_view: bool = True) -> AnnData:
        """scvi-tools' validation, plus genes matched by name and value checks on data the model was not set up on.

        Returns the AnnData to read: ``adata``, or a copy with the model's genes in the model's order.
        """
        is_new = adata is not None and adata is not self.adata
        if is_new:
            adata = in_model_gene_order(adata, self.adata.var_names, layer=self.registry_["setup_args"]["layer"])
        adata = super()._validate_anndata(adata, copy_if_view=copy_if_view)
        if is_new:
            manager = self.get_anndata_manager(adata, required=True)
            summary = summarize_matrix(manager.get_from_registry(REGISTRY_KEYS.X_KEY))
            check_expression(
                summary, registered_location(manager), self.module.gene_likelihood, self.module.log_normalize
            )
        return adata
