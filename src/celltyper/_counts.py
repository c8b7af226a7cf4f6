"""The one check that an expression matrix holds raw counts, shared by ``pp``, ``tl``, the CLI and the models.

Every entry point that reads raw counts (``pp.prepare``, ``transfer_labels``, the annotator commands, the models)
scans the matrix once with :func:`summarize_matrix` and refuses NaN / infinite, negative and (usually) non-integer
values with the same :func:`check_raw_counts` error; only the advice (what to pass instead) is the caller's. The module
needs numpy and scipy only, so that ``pp`` and ``tl`` check values without importing scvi-tools.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Advice of :func:`check_raw_counts` when the caller has none of its own.
RAW_COUNTS_HINT = "Point at the raw counts (e.g. a layer='counts'), or start again from the unnormalized data."


@dataclass(frozen=True)
class MatrixSummary:
    """What one pass over an expression matrix found."""

    n_nonfinite: int
    n_negative: int
    n_noninteger: int
    n_zero_cells: int
    max_value: float

    @property
    def looks_like_counts(self) -> bool:
        """Non-negative integers with values above what log-normalized data reach (~10)."""
        return self.is_integer and self.max_value > 20

    @property
    def looks_like_small_counts(self) -> bool:
        """Non-negative integers, some above 0, none above 20: counts of a shallow assay, or rounded normalized data."""
        return self.is_integer and 0 < self.max_value <= 20

    @property
    def is_integer(self) -> bool:
        """Every value is a finite, non-negative integer."""
        return self.n_nonfinite == 0 and self.n_negative == 0 and self.n_noninteger == 0


def summarize_matrix(X, chunk_size: int = 10_000) -> MatrixSummary:
    """Scan ``X`` (dense, sparse or backed) in row chunks without densifying it.

    An in-memory sparse matrix is scanned through its stored values directly, in steps of ``2**20`` values: slicing
    it into row chunks would copy every value once more, and a step's temporaries stay in the CPU cache (twice as fast
    as one pass over 50 million values).
    """
    n_nonfinite = n_negative = n_noninteger = n_zero_cells = 0
    max_value = -np.inf
    all_positive = True  # every stored value > 0 (so a row sums to 0 only if it stores nothing)
    for values, row_sums in _values_and_row_sums(X, chunk_size):
        n_zero_cells += int((row_sums == 0).sum())
        if not values.size:
            continue
        low, high = values.min(), values.max()  # NaN or ±inf in the chunk makes one of them non-finite
        if not (np.isfinite(low) and np.isfinite(high)):
            all_positive = False
            finite = np.isfinite(values)
            n_nonfinite += int(values.size - np.count_nonzero(finite))
            values = values[finite]
            if not values.size:
                continue
            low, high = values.min(), values.max()
        all_positive &= bool(low > 0)
        n_negative += int(np.count_nonzero(values < 0)) if low < 0 else 0
        n_noninteger += int(np.count_nonzero(values != np.round(values)))
        max_value = max(max_value, float(high))
    if sp.issparse(X):
        n_zero_cells = _n_zero_rows(X, all_positive)
    return MatrixSummary(n_nonfinite, n_negative, n_noninteger, n_zero_cells, max_value)


def _values_and_row_sums(X, chunk_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(values, row sums)`` chunk by chunk; every value and every row sum appears in exactly one chunk.

    Of an in-memory sparse matrix: its stored values, and no row sums (:func:`_n_zero_rows` counts empty rows).
    """
    if sp.issparse(X):
        for start in range(0, X.data.size, 2**20):
            yield X.data[start : start + 2**20], np.zeros(0)
        return
    for start in range(0, X.shape[0], chunk_size):
        chunk = X[start : start + chunk_size]
        yield (chunk.data if sp.issparse(chunk) else np.asarray(chunk)), np.asarray(chunk.sum(axis=1)).ravel()


def _n_zero_rows(X: sp.spmatrix | sp.sparray, all_positive: bool) -> int:
    """Rows of an in-memory sparse matrix that sum to 0.

    Of a CSR matrix whose stored values are all positive, these are the rows that store nothing: no summing needed.
    """
    if X.format == "csr" and all_positive:
        return int(np.count_nonzero(np.diff(X.indptr) == 0))
    return int(np.count_nonzero(np.asarray(X.sum(axis=1)).ravel() == 0))


def require_counts(summary: MatrixSummary, location: str, hint: str, *, allow_noninteger: bool = False) -> None:
    """Raise the one ``ValueError`` of values that are not raw counts, from what :func:`summarize_matrix` found.

    Parameters
    ----------
    summary
        What :func:`summarize_matrix` found in the matrix.
    location
        How the user refers to the matrix (``adata.X``, ``query.layers['counts']``), for the message.
    hint
        The caller's advice: what to pass instead (ends the message).
    allow_noninteger
        Accept non-integer values (for callers that only warn about them, with :func:`warn_noninteger`).
    """
    problems = [
        f"{n:,} {what} value{'s' if n != 1 else ''}"
        for n, what in (
            (summary.n_nonfinite, "NaN or infinite"),
            (summary.n_negative, "negative"),
            (0 if allow_noninteger else summary.n_noninteger, "non-integer"),
        )
        if n
    ]
    if problems:
        listed = problems[0] if len(problems) == 1 else ", ".join(problems[:-1]) + " and " + problems[-1]
        raise ValueError(f"{location} does not hold raw counts: it has {listed}. {hint}")


def check_raw_counts(X, location: str, hint: str = RAW_COUNTS_HINT, *, allow_noninteger: bool = False) -> MatrixSummary:
    """Raise a ``ValueError`` unless ``X`` holds finite, non-negative integers (raw counts); return what was found.

    Parameters
    ----------
    X
        Dense, sparse or backed matrix (scanned in chunks, never densified).
    location
        How the user refers to it (``adata.X``, ``adata.layers['counts']``), for the message.
    hint
        What the user should do instead; the message says what is wrong and ends with it.
    allow_noninteger
        Raise only for NaN / infinite and negative values; the caller decides about non-integers (e.g. a warning
        with :func:`warn_noninteger`, from the returned summary's ``n_noninteger``).

    Returns
    -------
    The :class:`MatrixSummary` of ``X``.
    """
    summary = summarize_matrix(X)
    require_counts(summary, location, hint, allow_noninteger=allow_noninteger)
    return summary


def warn_noninteger(n_noninteger: int, location: str, hint: str, stacklevel: int = 1) -> None:
    """Warn that ``location`` holds ``n_noninteger`` non-integer values, so probably not raw counts.

    ``stacklevel`` counts from the caller of this function (1: the line that calls it).
    """
    warnings.warn(
        f"{location} holds {n_noninteger:,} non-integer values, so it is probably not raw counts. {hint}",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
