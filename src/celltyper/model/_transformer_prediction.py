"""What a trained :class:`~celltyper.CellTypeTransformer` tells about cells: their types, and the genes behind them.

:meth:`~TransformerPredictionMixin.predict` reads a query in blocks of cells (a backed file slice by slice) through
:class:`~._transformer_reader.QueryReaderMixin`; :meth:`~TransformerPredictionMixin.annotate` writes the prediction to
``obs`` under celltyper's column names; :meth:`~TransformerPredictionMixin.get_feature_importance` explains one type by
gradient × input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS

from celltyper import _keys as keys
from celltyper._counts import warn_noninteger

from ._transformer_reader import RAW_COUNTS_HINT, QueryReaderMixin, _check_not_empty, _check_values


class TransformerPredictionMixin(QueryReaderMixin):
    """``predict``, ``annotate`` and ``get_feature_importance`` of :class:`~celltyper.CellTypeTransformer`."""

    if TYPE_CHECKING:  # set by BaseModelClass
        is_trained_: bool

    @property
    def cell_types(self) -> list[str]:
        """The cell types the classifier predicts: the columns of ``predict(soft=True)``, in their order."""
        mapping = self.adata_manager.get_state_registry(REGISTRY_KEYS.LABELS_KEY).categorical_mapping
        return list(mapping[:-1])  # the unlabeled category is last

    def _check_trained(self) -> None:
        """Raise a ``RuntimeError`` before an untrained model predicts (its random weights give one type to all)."""
        if not self.is_trained_:
            raise RuntimeError("This CellTypeTransformer is not trained: call train() (or load a trained model) first.")

    @torch.inference_mode()
    def predict(self, adata: AnnData | None = None, soft: bool = False, batch_size: int = 1024):
        """Cell type of each cell of ``adata``.

        Parameters
        ----------
        adata
            AnnData with raw counts in the layer the model was set up with (default: the reference). Genes are
            matched by ``var_names``: extra genes are ignored, missing ones are read as zero (an error if the query has
            fewer than a quarter of the ``n_genes`` genes the model reads, a warning below 80 %). Cells without counts
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
            warn_noninteger(n_noninteger, location, RAW_COUNTS_HINT, stacklevel=2)
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
