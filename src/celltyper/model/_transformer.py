"""CellTypeTransformer: the user's face of :class:`~celltyper.module.TransformerClassifierModule`."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data.fields import CategoricalObsField, LabelsWithUnlabeledObsField, LayerField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from sklearn.linear_model import LogisticRegression

from celltyper import _keys as keys
from celltyper._keys import UNKNOWN
from celltyper._normalization import log1p_cp10k
from celltyper.module import TransformerClassifierModule, TransformerConfig
from celltyper.train import BalancedDataSplitter, ClassifierTrainingPlan, RestoreBestWeights
from celltyper.train._classifier import stratified_split

from ._arguments import check_fraction, check_int
from ._checkpoints import with_checkpointing
from ._docstrings import setup_anndata_dsp, train_dsp
from ._model_io import SafeModelIOMixin
from ._setup import check_category_column, check_label_column, register_fields
from ._streaming import ClassStatistics, row_chunks
from ._validation import registered_location, summarize_matrix

logger = logging.getLogger(__name__)

#: A query must contain at least this fraction of the genes the model reads (missing ones are read as zero) …
MIN_GENE_OVERLAP = 0.5
#: … and below this fraction a warning says that predictions may degrade.
WARN_GENE_OVERLAP = 0.8
#: The linear head is fitted on at most this many training cells of each type (chosen at random), so that fitting it
#: on an atlas holds a bounded number of cells in memory; the bundled references have fewer per type.
LINEAR_HEAD_CELLS_PER_TYPE = 5000


def _per_type_sample(cells: np.ndarray, labels: np.ndarray, max_per_type: int, seed: int) -> np.ndarray:
    """``cells`` (indices), keeping at most ``max_per_type`` of each label, chosen at random with ``seed``; sorted."""
    rng = np.random.default_rng(seed)
    kept = [
        rng.choice(in_type, max_per_type, replace=False) if len(in_type) > max_per_type else in_type
        for in_type in (cells[labels[cells] == label] for label in np.unique(labels[cells]))
    ]
    return np.sort(np.concatenate(kept))


def _check_values(X, location: str, warn: bool = True) -> int:
    """Raise a ``ValueError`` for NaN / infinite or negative values; warn when the values are not counts.

    Returns the number of non-integer values (``warn=False``: no warning, for callers that check chunk by chunk).
    """
    summary = summarize_matrix(X)
    if summary.n_nonfinite:
        raise ValueError(
            f"{location} contains {summary.n_nonfinite} NaN or infinite values. Fix or remove those cells or genes "
            "first; CellTypeTransformer does not guess values."
        )
    if summary.n_negative:
        raise ValueError(
            f"{location} holds {summary.n_negative} negative values. CellTypeTransformer normalizes raw counts itself: "
            "point setup_anndata at a layer of raw counts (layer='counts')."
        )
    if warn and summary.n_noninteger:
        _warn_noninteger(summary.n_noninteger, location)
    return summary.n_noninteger


def _check_not_empty(counts: sp.csr_matrix, obs_names: pd.Index, start: int, location: str) -> None:
    """Raise a ``ValueError`` if a cell of this block (rows ``start`` on) has no counts: nothing tells its type.

    The counts are non-negative (checked first), so a row sums to 0 only if it is empty.
    """
    empty = np.flatnonzero(np.asarray(counts.sum(axis=1)).ravel() == 0)
    if empty.size:
        stop = start + counts.shape[0] - 1
        raise ValueError(
            f"{empty.size} cells of rows {start}–{stop} have no counts on the model's genes in {location} (the "
            f"first: {obs_names[start + empty[0]]!r}), so nothing tells their type. Remove every such cell first, "
            "e.g. sc.pp.filter_cells(adata, min_counts=1), and predict again."
        )


def _warn_noninteger(n_noninteger: int, location: str) -> None:
    warnings.warn(
        f"{location} holds {n_noninteger} non-integer values, but CellTypeTransformer expects raw counts "
        "(it computes log1p(CP10k) itself). Use a layer of raw counts if you have one.",
        UserWarning,
        stacklevel=4,
    )


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


class CellTypeTransformer(SafeModelIOMixin, UnsupervisedTrainingMixin, BaseModelClass):
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

    @property
    def cell_types(self) -> list[str]:
        """The cell types the classifier predicts: the columns of ``predict(soft=True)``, in their order."""
        mapping = self.adata_manager.get_state_registry(REGISTRY_KEYS.LABELS_KEY).categorical_mapping
        return list(mapping[:-1])  # the unlabeled category is last

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
        trainer_kwargs = with_checkpointing(self, trainer_kwargs, checkpoint_dir, checkpoint_every, resume_from)
        check_int("max_epochs", max_epochs, 1)
        check_int("batch_size", batch_size, 1)
        modes = {"validation_loss": "min", "validation_macro_f1": "max"}
        if monitor not in modes:
            raise ValueError(f"monitor must be one of {list(modes)}, not {monitor!r}.")
        datasplitter_kwargs = {"class_balance": class_balance, "seed": seed, **(datasplitter_kwargs or {})}
        if self.module.linear_head:  # on the cells BalancedDataSplitter will train on (the same split)
            labels = self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
            size = datasplitter_kwargs.get("validation_size", validation_size)
            split_seed = datasplitter_kwargs["seed"]
            train_cells, _, _ = stratified_split(labels, len(self.cell_types), size, split_seed)
            self._fit_linear_head(_per_type_sample(train_cells, labels, LINEAR_HEAD_CELLS_PER_TYPE, split_seed))
        plan_kwargs = {
            "n_classes": len(self.cell_types),
            "lr": lr,
            "weight_decay": weight_decay,
            **(plan_kwargs or {}),
        }
        if early_stopping:
            trainer_kwargs.setdefault("early_stopping_monitor", monitor)
            trainer_kwargs.setdefault("early_stopping_mode", modes[monitor])
            trainer_kwargs.setdefault("early_stopping_patience", early_stopping_patience)
        callbacks = trainer_kwargs.pop("callbacks", [])
        if restore_best:
            callbacks = [*callbacks, RestoreBestWeights(monitor, modes[monitor])]
        self.module.train()
        return super().train(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            validation_size=validation_size,
            batch_size=batch_size,
            early_stopping=early_stopping,
            datasplitter_kwargs=datasplitter_kwargs,
            plan_kwargs=plan_kwargs,
            check_val_every_n_epoch=1,
            callbacks=callbacks,
            **trainer_kwargs,
        )

    def _fit_linear_head(self, cells: np.ndarray) -> None:
        """Fit the module's linear head: scikit-learn logistic regression (L2, C=1, balanced classes) on ``cells``.

        The input is log1p(CP10k) of the ``n_genes`` genes the module reads; the reference is read chunk by chunk and
        only those cells × genes are held in memory (sparse), at most :data:`LINEAR_HEAD_CELLS_PER_TYPE` per type.
        """
        X = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        labels = self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
        keep = np.zeros(len(labels), dtype=bool)
        keep[cells] = True
        genes = self.module.gene_index.cpu().numpy()
        E = sp.vstack([log1p_cp10k(chunk[keep[rows]])[:, genes] for rows, chunk in row_chunks(X)]).tocsr()
        fit = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(E, labels[keep])
        coef, intercept = fit.coef_, fit.intercept_
        if len(fit.classes_) == 2:  # scikit-learn's binary model: one logit, for the second class
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
        full_coef = np.zeros((len(self.cell_types), len(genes)), dtype=np.float32)
        full_intercept = np.full(len(self.cell_types), -1e4, dtype=np.float32)  # classes without training cells
        full_coef[fit.classes_], full_intercept[fit.classes_] = coef, intercept
        self.module.set_linear_head(torch.as_tensor(full_coef), torch.as_tensor(full_intercept))

    def _check_trained(self) -> None:
        """Raise a ``RuntimeError`` before an untrained model predicts (its random weights give one type to all)."""
        if not self.is_trained_:
            raise RuntimeError("This CellTypeTransformer is not trained: call train() (or load a trained model) first.")

    def _query_reader(self, adata: AnnData | None) -> tuple[Callable[[slice | np.ndarray], sp.csr_matrix], str]:
        """A function that reads rows of ``adata`` (default: the reference) as counts in the model's gene order.

        Missing genes read as zero; the gene overlap is checked here, once. Rows are read only when asked for, so a
        backed AnnData is read slice by slice. Also returns where the counts live, for messages.
        """
        if adata is None or adata is self.adata:
            X = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
            return (lambda rows: sp.csr_matrix(X[rows], dtype=np.float32)), registered_location(self.adata_manager)
        layer = self.registry_["setup_args"]["layer"]
        location = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
        if layer is not None and layer not in adata.layers:
            raise KeyError(f"The model reads raw counts from {location}, which this AnnData lacks.")
        if not adata.var_names.is_unique:
            raise ValueError("adata.var_names has duplicates; make them unique first (adata.var_names_make_unique()).")
        genes = self.adata.var_names
        position = adata.var_names.get_indexer(genes)  # -1 where the query lacks a reference gene
        present = position >= 0
        read = present[self.module.gene_index.cpu().numpy()]  # of the genes the module reads
        overlap = read.mean()
        if overlap < MIN_GENE_OVERLAP:
            raise ValueError(
                f"The query has only {read.sum()} of the {len(read)} genes the model reads ({overlap:.0%}); at least "
                f"{MIN_GENE_OVERLAP:.0%} are needed. Check that var_names use the same identifiers (symbols vs "
                "Ensembl ids) as the reference."
            )
        if overlap < WARN_GENE_OVERLAP:
            warnings.warn(
                f"The query has {read.sum()} of the {len(read)} genes the model reads ({overlap:.0%}); the missing "
                "ones are read as zero counts, which can degrade predictions.",
                UserWarning,
                stacklevel=3,
            )
        X = adata.X if layer is None else adata.layers[layer]
        place = sp.csr_matrix(
            (np.ones(present.sum(), dtype=np.float32), (np.arange(present.sum()), np.flatnonzero(present))),
            shape=(present.sum(), len(genes)),
        )
        columns = position[present]

        def read_rows(rows: slice | np.ndarray) -> sp.csr_matrix:
            return (sp.csr_matrix(X[rows], dtype=np.float32)[:, columns] @ place).tocsr()  # rows first: one read

        return read_rows, location

    @torch.inference_mode()
    def predict(self, adata: AnnData | None = None, soft: bool = False, batch_size: int = 1024):
        """Cell type of each cell of ``adata``.

        Parameters
        ----------
        adata
            AnnData with raw counts in the layer the model was set up with (default: the reference). Genes are
            matched by ``var_names``: extra genes are ignored, missing ones are read as zero (an error if more than
            half of the ``n_genes`` genes the model reads are missing, a warning below 80 %). Cells without counts
            on the model's genes are refused (a ``ValueError``), as by the other models. Nothing in ``adata`` is
            modified.
        soft
            Return class probabilities instead of labels.
        batch_size
            Cells per forward pass.

        Returns
        -------
        ``np.ndarray`` of label strings (``soft=False``), or a ``DataFrame`` cells × cell types of probabilities,
        indexed by ``adata.obs_names``.
        """
        self._check_trained()
        obs_names = (self.adata if adata is None else adata).obs_names
        read_rows, location = self._query_reader(adata)
        self.module.eval()
        device = self.module.device
        blocks, n_noninteger = [], 0
        for start in range(0, len(obs_names), batch_size):  # only batch_size cells are in memory at a time
            counts = read_rows(slice(start, start + batch_size))
            n_noninteger += _check_values(counts, location, warn=False)
            _check_not_empty(counts, obs_names, start, location)
            x = torch.as_tensor(counts.toarray(), device=device)
            blocks.append(torch.softmax(self.module.classify(x), dim=1).cpu().numpy())
        if n_noninteger:
            _warn_noninteger(n_noninteger, location)
        cell_types = np.asarray(self.cell_types)
        probabilities = np.concatenate(blocks) if blocks else np.zeros((0, len(cell_types)))
        if soft:
            return pd.DataFrame(probabilities, index=obs_names, columns=cell_types)
        return cell_types[probabilities.argmax(1)]

    def annotate(self, adata: AnnData | None = None, key_added: str = keys.KEY_ADDED) -> None:
        """Write predicted cell types and their probability to ``adata.obs``.

        Parameters
        ----------
        adata
            AnnData to annotate (default: the reference); see :meth:`predict`.
        key_added
            Prefix of the columns written to ``adata.obs``: ``f"{key_added}_prediction"`` (the most probable cell
            type, categorical) and ``f"{key_added}_confidence"`` (its probability), as :func:`celltyper.tl.annotate`
            names them.
        """
        target = self.adata if adata is None else adata
        probabilities = self.predict(adata, soft=True)
        target.obs[keys.prediction_key(key_added)] = pd.Categorical(
            probabilities.columns[probabilities.to_numpy().argmax(1)], categories=self.cell_types
        )
        target.obs[keys.confidence_key(key_added)] = probabilities.to_numpy().max(1)

    def get_feature_importance(
        self, label: str, adata: AnnData | None = None, max_cells: int = 500, seed: int = 0
    ) -> pd.Series:
        """Which genes drive the prediction of ``label``: gradient × input, averaged over the cells predicted as it.

        For each cell the importance of gene ``g`` is ``e_g · ∂ log p(label) / ∂ e_g``, with ``e`` the
        log1p(CP10k) expression the module reads (through both the gene tokens and the all-genes token). Positive
        values push towards ``label``.

        Parameters
        ----------
        label
            A cell type the model knows.
        adata
            Cells to explain (default: the reference); see :meth:`predict`. Nothing in it is modified.
        max_cells
            At most this many of the cells predicted as ``label`` are used (a random subset).
        seed
            Seed of that subset.

        Returns
        -------
        ``Series`` gene → mean importance over the ``n_genes`` genes the model reads, sorted from most to least
        important.
        """
        if label not in self.cell_types:
            raise KeyError(f"Unknown label {label!r}; the model knows {self.cell_types}.")
        self._check_trained()
        code = self.cell_types.index(label)
        predicted = np.asarray(self.predict(adata))
        cells = np.flatnonzero(predicted == label)
        if len(cells) == 0:
            raise ValueError(f"No cell of this AnnData is predicted as {label!r}; pass cells of that type.")
        cells = np.random.default_rng(seed).permutation(cells)[:max_cells]
        read_rows, location = self._query_reader(adata)
        counts = read_rows(np.sort(cells))
        _check_values(counts, location)
        counts = torch.as_tensor(counts.toarray(), device=self.module.device)
        self.module.eval()
        e = self.module.normalize(counts).detach().requires_grad_(True)  # (cells, n_genes)
        log_p = torch.log_softmax(self.module.classify_normalized(e, e > 0), dim=1)[:, code]
        (gradient,) = torch.autograd.grad(log_p.sum(), e)
        importance = (gradient * e).mean(0).detach().cpu().numpy()
        genes = self.adata.var_names[self.module.gene_index.cpu().numpy()]
        return pd.Series(importance, index=genes, name=label).sort_values(ascending=False)
