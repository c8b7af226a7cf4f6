"""Passes over an expression matrix in row chunks, so that a backed AnnData is never loaded or densified whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Cells per chunk: ~10 MB of sparse counts at 1,000 non-zeros per cell.
CHUNK_SIZE = 10_000


def row_chunks(X, chunk_size: int = CHUNK_SIZE) -> Iterator[tuple[slice, sp.csr_matrix]]:
    """Contiguous row blocks of ``X`` (dense, sparse or an ``anndata`` backed matrix) as float32 CSR.

    A slice of a backed matrix is one contiguous read from disk, so a pass costs one read per chunk. Blocks of an
    in-memory float32 CSR matrix share its arrays: read them, do not modify them.
    """
    for start in range(0, X.shape[0], chunk_size):
        rows = slice(start, min(start + chunk_size, X.shape[0]))
        yield rows, sp.csr_matrix(row_block(X, rows.start, rows.stop), dtype=np.float32)


def row_block(X, start: int, stop: int):
    """Rows ``start:stop`` of ``X``; of an in-memory CSR matrix, a view of its arrays (scipy's slicing copies them).

    The arrays are assigned to an empty matrix rather than passed to the constructor, which copies slices of a much
    larger array (scipy's ``prune``).
    """
    if not (sp.issparse(X) and X.format == "csr"):
        return X[start:stop]
    stop = min(stop, X.shape[0])
    first, last = X.indptr[start], X.indptr[stop]
    block = sp.csr_matrix((stop - start, X.shape[1]), dtype=X.dtype)
    block.data, block.indices = X.data[first:last], X.indices[first:last]
    block.indptr = X.indptr[start : stop + 1] - first
    return block


def rows_at(X, rows: np.ndarray):
    """Rows ``rows`` of ``X`` in that order, read in increasing order (which backed h5py matrices require)."""
    order = np.argsort(rows, kind="stable")
    return X[rows[order]][np.argsort(order, kind="stable")]


@dataclass
class ClassStatistics:
    """Per-class count, sum and sum of squares of every gene, accumulated chunk by chunk.

    Attributes
    ----------
    n
        Cells per class, ``(K,)``.
    sums, sums_of_squares
        ``(K, G)`` float64.
    """

    n: np.ndarray
    sums: np.ndarray
    sums_of_squares: np.ndarray

    @classmethod
    def accumulate(cls, chunks: Iterable[tuple[sp.csr_matrix, np.ndarray]], n_classes: int) -> ClassStatistics:
        """Statistics of ``(values, class codes)`` chunks; codes outside ``0 … n_classes - 1`` are skipped."""
        n = np.zeros(n_classes)
        sums = sums_of_squares = None
        for values, codes in chunks:
            keep = (codes >= 0) & (codes < n_classes)
            one_hot = sp.csr_matrix(
                (np.ones(keep.sum()), (codes[keep], np.flatnonzero(keep))), shape=(n_classes, values.shape[0])
            )
            values = sp.csr_matrix(values, dtype=np.float64)
            if sums is None:
                sums = np.zeros((n_classes, values.shape[1]))
                sums_of_squares = np.zeros((n_classes, values.shape[1]))
            n += np.bincount(codes[keep], minlength=n_classes)
            sums += (one_hot @ values).toarray()
            sums_of_squares += (one_hot @ values.multiply(values)).toarray()
        if sums is None or sums_of_squares is None:
            raise ValueError("No cells to compute statistics over.")
        return cls(n, sums, sums_of_squares)

    def mean(self) -> np.ndarray:
        """Mean of every gene over all counted cells, ``(G,)``."""
        return self.sums.sum(0) / self.n.sum()

    def f_statistic(self) -> np.ndarray:
        """One-way ANOVA F of every gene across the classes, as :func:`sklearn.feature_selection.f_classif`.

        Computed from the accumulated sums (scikit-learn's needs every cell in memory). Genes that are constant over
        the counted cells (F undefined) get -1, so that they rank last.
        """
        present = self.n > 0
        n, sums = self.n[present], self.sums[present]
        n_total, n_classes = n.sum(), present.sum()
        square_of_total = sums.sum(0) ** 2 / n_total
        total = self.sums_of_squares[present].sum(0) - square_of_total
        between = (sums**2 / n[:, None]).sum(0) - square_of_total
        within = np.maximum(total - between, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (between / (n_classes - 1)) / (within / (n_total - n_classes))
        f[~(total > 1e-12 * np.maximum(self.sums_of_squares[present].sum(0), 1.0))] = -1.0
        return np.nan_to_num(f, nan=-1.0)
