"""Reading a query for :class:`~celltyper.CellTypeTransformer`: its counts in the model's gene order, checked.

A query's genes are matched to the reference's by name (missing genes read as zero, too few of them an error, fewer
than most a warning) and its rows are read only when asked for, so a backed AnnData is read slice by slice; the
counts read are checked for values that are not raw counts and for cells without counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from scvi import REGISTRY_KEYS

from celltyper._counts import check_raw_counts, warn_noninteger
from celltyper._gene_overlap import check_gene_overlap

from ._validation import registered_location

if TYPE_CHECKING:
    from scvi.data import AnnDataManager

    from celltyper.module import TransformerClassifierModule

#: What to do when the matrix the transformer reads is not raw counts.
RAW_COUNTS_HINT = (
    "CellTypeTransformer normalizes raw counts itself (log1p(CP10k)): point setup_anndata at a layer of raw counts "
    "(layer='counts')."
)


def _check_values(X, location: str, warn: bool = True) -> int:
    """Raise a ``ValueError`` for NaN / infinite or negative values; warn when the values are not counts.

    Returns the number of non-integer values (``warn=False``: no warning, for callers that check chunk by chunk).
    """
    summary = check_raw_counts(X, location, RAW_COUNTS_HINT, allow_noninteger=True)
    if warn and summary.n_noninteger:
        warn_noninteger(summary.n_noninteger, location, RAW_COUNTS_HINT, stacklevel=3)
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


class QueryReaderMixin:
    """``_query_reader`` of :class:`~celltyper.CellTypeTransformer`: rows of any AnnData in the model's gene order."""

    if TYPE_CHECKING:  # set by BaseModelClass and CellTypeTransformer
        adata: AnnData
        adata_manager: AnnDataManager
        registry_: dict
        module: TransformerClassifierModule

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
        read = self.module.gene_index.cpu().numpy()  # the genes the module reads
        check_gene_overlap(genes[read], present[read], "genes the model reads", stacklevel=3)
        X = adata.X if layer is None else adata.layers[layer]
        place = sp.csr_matrix(
            (np.ones(present.sum(), dtype=np.float32), (np.arange(present.sum()), np.flatnonzero(present))),
            shape=(present.sum(), len(genes)),
        )
        columns = position[present]

        def read_rows(rows: slice | np.ndarray) -> sp.csr_matrix:
            return (sp.csr_matrix(X[rows], dtype=np.float32)[:, columns] @ place).tocsr()  # rows first: one read

        return read_rows, location
