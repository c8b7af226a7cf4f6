"""CellTypeTransformer: the user's face of :class:`~celltyper.module.TransformerClassifierModule`."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data.fields import CategoricalObsField, LabelsWithUnlabeledObsField, LayerField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin

from celltyper._keys import UNKNOWN
from celltyper._normalization import log1p_cp10k
from celltyper.module import TransformerClassifierModule, TransformerConfig
from celltyper.train import BalancedDataSplitter, ClassifierTrainingPlan, RestoreBestWeights

from ._arguments import check_fraction, check_int
from ._docstrings import setup_anndata_dsp, train_dsp
from ._linear_head import fit_linear_head, linear_head_cells
from ._model_io import SafeModelIOMixin
from ._setup import check_category_column, check_label_column, register_fields
from ._streaming import ClassStatistics, row_chunks
from ._training import CheckpointedTrainingMixin
from ._transformer_prediction import TransformerPredictionMixin
from ._transformer_reader import _check_values
from ._validation import registered_location

logger = logging.getLogger(__name__)


def _config_signature(init: Callable[..., None]) -> Callable[..., None]:
    """``init``, its signature showing the fields of :class:`TransformerConfig` in place of ``**config``.

    ``help()``, IDEs and the CLI's check of ``model_kwargs`` then see each hyperparameter and its default.
    """
    signature = inspect.signature(init)
    named = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    config = [
        inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default, annotation=field.type)
        for field in dataclasses.fields(TransformerConfig)
    ]
    init.__signature__ = signature.replace(parameters=[*named, *config])  # type: ignore[attr-defined]
    return init


class CellTypeTransformer(
    SafeModelIOMixin, CheckpointedTrainingMixin, TransformerPredictionMixin, UnsupervisedTrainingMixin, BaseModelClass
):
    """Cell-type classifier: a small transformer over each cell's most distinctive genes plus an all-genes token.

    Set up the reference with :meth:`setup_anndata`, train, then :meth:`predict` any AnnData with (most of) the same
    genes. The architecture and why it was chosen are described in :mod:`celltyper.module._transformer`.

    Parameters
    ----------
    adata
        Reference AnnData registered with :meth:`setup_anndata` (raw counts, labels in ``obs``).
    registry
        Used by :meth:`load`; leave it ``None``.
    **config
        The hyperparameters, each a field of :class:`~celltyper.module.TransformerConfig` where they are documented
        (``n_genes``, ``n_tokens``, ``d_model``, ``n_layers``, ``n_heads``, ``dropout``, …); the others keep its
        defaults. Any other keyword is a ``TypeError`` that lists the valid ones.

    Examples
    --------
    >>> import celltyper as ct
    >>> ref = ct.datasets.zheng_sorted()
    >>> ct.CellTypeTransformer.setup_anndata(ref, labels_key="cell_type", layer="counts")
    >>> clf = ct.CellTypeTransformer(ref)
    >>> clf.train()
    >>> labels = clf.predict(query)
    >>> clf.annotate(query)  # writes query.obs["celltyper_prediction"], query.obs["celltyper_confidence"]
    >>> clf.cell_types  # the columns of clf.predict(query, soft=True)
    """

    _module_cls = TransformerClassifierModule
    _training_plan_cls = ClassifierTrainingPlan
    _data_splitter_cls = BalancedDataSplitter
    #: Earlier versions saved the class names as ``class_names_``; they are now :attr:`cell_types`, from the registry.
    _retired_attributes = frozenset({"class_names_"})

    @_config_signature
    def __init__(
        self,
        adata: AnnData,
        registry: dict | None = None,
        **config: Any,
    ):
        self.config = TransformerConfig.from_kwargs(type(self).__name__, **config)
        for name, minimum in (("n_genes", 1), ("n_tokens", 1), ("d_model", 1), ("n_layers", 0), ("n_heads", 1)):
            check_int(name, getattr(self.config, name), minimum)
        for name in ("dropout", "gene_dropout", "label_smoothing"):
            check_fraction(name, getattr(self.config, name))
        super().__init__(adata, registry)
        X = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        _check_values(X, registered_location(self.adata_manager))
        labels = self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
        n_classes = len(self.cell_types)
        labelled = labels < n_classes
        labels_key = self.registry_["setup_args"]["labels_key"]
        unlabeled = self.registry_["setup_args"]["unlabeled_category"]
        if not labelled.any():
            raise ValueError(
                f"No labelled cells: every value of adata.obs[{labels_key!r}] is the unlabeled category "
                f"{unlabeled!r}. A classifier needs labelled reference cells."
            )
        if len(np.unique(labels[labelled])) < 2:
            raise ValueError(
                f"adata.obs[{labels_key!r}] has a single cell type ({self.cell_types[labels[labelled][0]]!r}) among "
                "the labelled cells; a classifier needs at least two."
            )
        self.module = self._module_cls(self.summary_stats.n_vars, n_classes, self.config)
        # F statistic and mean of log1p(CP10k) over the labelled cells, chunk by chunk (a backed X is never loaded)
        chunks = ((log1p_cp10k(chunk), labels[rows]) for rows, chunk in row_chunks(X))
        statistics = ClassStatistics.accumulate(chunks, n_classes)
        genes = np.sort(np.argsort(-statistics.f_statistic(), kind="stable")[: self.module.n_genes])
        self.module.set_reference(
            torch.as_tensor(genes), torch.as_tensor(statistics.mean()[genes], dtype=torch.float32)
        )
        self._model_summary_string = (
            f"CellTypeTransformer: {n_classes} cell types, {self.module.n_genes} of "
            f"{self.summary_stats.n_vars} genes, "
            f"{self.config.n_tokens} gene tokens{' + all-genes token' if self.config.all_genes_token else ''}, "
            f"d_model={self.config.d_model}, n_layers={self.config.n_layers}, n_heads={self.config.n_heads}"
        )
        # every field, in the layout models saved before the config have (load() calls CellTypeTransformer(adata,
        # **non_kwargs)), so saved folders load with this version and earlier ones alike
        self.init_params_ = {"non_kwargs": dataclasses.asdict(self.config), "kwargs": {}}

    @classmethod
    @setup_anndata_dsp.dedent
    def setup_anndata(
        cls,
        adata: AnnData,
        labels_key: str,
        layer: str | None = None,
        batch_key: str | None = None,
        unlabeled_category: str = UNKNOWN,
        **kwargs,
    ) -> None:
        """Register a reference AnnData for :class:`CellTypeTransformer` (nothing in its values changes).

        Parameters
        ----------
        %(param_adata)s
        %(param_cell_type_key)s
        layer
            Layer holding the raw counts (``None``: ``adata.X``).
        batch_key
            Column of ``adata.obs`` with the batch of each cell. Training then samples each batch of a class
            equally often, so that one batch does not define a cell type.
        %(param_unlabeled_category)s
        %(param_register_kwargs)s

        Notes
        -----
        %(notes_bookkeeping)s
        """
        if labels_key is None or labels_key not in adata.obs:
            raise KeyError(
                f"adata.obs has no column {labels_key!r} with cell-type labels; columns are {list(adata.obs.columns)}. "
                "Pass labels_key=<the column that holds the cell types>."
            )
        if layer is not None and layer not in adata.layers:
            raise KeyError(f"adata.layers has no {layer!r}; layers are {list(adata.layers)}.")
        setup_method_args = cls._get_setup_method_args(**locals())
        check_label_column(adata, labels_key, unlabeled_category)
        check_category_column(adata, batch_key, "batch")
        fields = [
            LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=False),
            CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
            LabelsWithUnlabeledObsField(REGISTRY_KEYS.LABELS_KEY, labels_key, unlabeled_category),
        ]
        cls.register_manager(register_fields(adata, fields, setup_method_args, **kwargs))

    @train_dsp.dedent
    def train(
        self,
        max_epochs: int = 30,
        *,
        batch_size: int = 128,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        validation_size: float = 0.1,
        class_balance: float = 1.0,
        early_stopping: bool = True,
        early_stopping_patience: int = 10,
        restore_best: bool = True,
        monitor: Literal["validation_loss", "validation_macro_f1"] = "validation_loss",
        seed: int = 0,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        datasplitter_kwargs: dict | None = None,
        plan_kwargs: dict | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        resume_from: str | os.PathLike | None = None,
        **trainer_kwargs,
    ):
        """Train on the labelled cells with scvi-tools' Trainer; the history lands in ``model.history``.

        A class-stratified ``validation_size`` of the labelled cells is held out (every class with ≥ 2 cells keeps
        one there). Training draws class-balanced minibatches, uses AdamW with linear warmup and cosine decay, checks
        the validation loss and macro-F1 every epoch, stops early when ``monitor`` has not improved for
        ``early_stopping_patience`` epochs, and ends with the weights of the best validation epoch (``restore_best``).

        Parameters
        ----------
        max_epochs
            Upper bound on passes over the training cells (at least 1).
        batch_size
            Cells per minibatch (at least 1).
        lr
            Peak AdamW learning rate.
        weight_decay
            AdamW weight decay.
        validation_size
            Fraction of each class held out for validation and early stopping.
        class_balance
            1 samples every class equally often; 0 samples cells uniformly (no balancing).
        early_stopping
            Stop when ``monitor`` stalls.
        early_stopping_patience
            Epochs without improvement before stopping.
        restore_best
            End with the weights of the epoch with the best ``monitor`` value; ``False`` keeps the last epoch's.
        monitor
            What early stopping and ``restore_best`` watch: ``"validation_loss"`` (the transformer head's cross
            entropy on the validation cells, lower is better) or ``"validation_macro_f1"`` (of the model's
            prediction, higher is better). The loss is the default: on a small validation set the macro-F1 jumps
            from epoch to epoch and could pick an early epoch whose transformer head had barely trained
            (``docs/transformer.md``, fifth round).
        seed
            Seed of the split and the sampler (set ``scvi.settings.seed`` too for the weights).
        %(param_accelerator_devices)s
        datasplitter_kwargs
            Passed to :class:`celltyper.train.BalancedDataSplitter`.
        plan_kwargs
            Passed to :class:`celltyper.train.ClassifierTrainingPlan` (they win over ``lr`` and ``weight_decay``).
        %(param_checkpoints)s
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer` (e.g. ``enable_progress_bar=False``).
        """
        check_int("max_epochs", max_epochs, 1)
        check_int("batch_size", batch_size, 1)
        modes = {"validation_loss": "min", "validation_macro_f1": "max"}
        if monitor not in modes:
            raise ValueError(f"monitor must be one of {list(modes)}, not {monitor!r}.")
        datasplitter_kwargs = {"class_balance": class_balance, "seed": seed, **(datasplitter_kwargs or {})}
        if early_stopping:
            trainer_kwargs.setdefault("early_stopping_monitor", monitor)
            trainer_kwargs.setdefault("early_stopping_mode", modes[monitor])
            trainer_kwargs.setdefault("early_stopping_patience", early_stopping_patience)
        # the linear head is fitted on the training cells of the split the data splitter will make
        split = (datasplitter_kwargs.get("validation_size", validation_size), datasplitter_kwargs["seed"])
        return self._train_checkpointed(
            UnsupervisedTrainingMixin.train,
            checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every,
            resume_from=resume_from,
            plan_defaults={"n_classes": len(self.cell_types), "lr": lr, "weight_decay": weight_decay},
            plan_kwargs=plan_kwargs,
            trainer_kwargs=trainer_kwargs,
            callbacks=[RestoreBestWeights(monitor, modes[monitor])] if restore_best else [],
            before_training=lambda: self._start_training(*split),
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            validation_size=validation_size,
            batch_size=batch_size,
            early_stopping=early_stopping,
            datasplitter_kwargs=datasplitter_kwargs,
            check_val_every_n_epoch=1,
        )

    def _start_training(self, validation_size: float, seed: int) -> None:
        """Fit the linear head (if the module has one) on the cells the data splitter will train on.

        ``validation_size`` and ``seed`` are those of :class:`~celltyper.train.BalancedDataSplitter`'s split.
        """
        if self.module.linear_head:
            labels = self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
            self._fit_linear_head(linear_head_cells(labels, len(self.cell_types), validation_size, seed))

    def _fit_linear_head(self, cells: np.ndarray) -> None:
        """Fit the module's linear head on ``cells`` of the reference (:func:`._linear_head.fit_linear_head`)."""
        X = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        labels = self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
        genes = self.module.gene_index.cpu().numpy()
        coef, intercept = fit_linear_head(X, labels, cells, genes, len(self.cell_types))
        self.module.set_linear_head(torch.as_tensor(coef), torch.as_tensor(intercept))
