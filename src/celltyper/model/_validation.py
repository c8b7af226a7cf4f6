"""Checks of the expression values a model was set up on, with errors that say what to do."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager

COUNT_LIKELIHOODS = ("nb", "zinb", "poisson")


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


def registered_location(adata_manager: AnnDataManager) -> str:
    """Where the registered expression lives, as the user would write it: ``adata.X`` or ``adata.layers['…']``."""
    layer = adata_manager.data_registry[REGISTRY_KEYS.X_KEY].attr_key
    return "adata.X" if layer is None else f"adata.layers[{layer!r}]"


def check_expression(summary: MatrixSummary, location: str, gene_likelihood: str, log_normalize: bool) -> None:
    """Raise a ``ValueError`` for values ``gene_likelihood`` cannot model; warn about suspicious Gaussian input.

    Parameters
    ----------
    summary
        What :func:`summarize_matrix` found in the registered expression matrix.
    location
        How the user refers to it (``adata.X`` / ``adata.layers['counts']``), for the messages.
    gene_likelihood
        ``"nb"``, ``"zinb"``, ``"poisson"`` or ``"gaussian"``.
    log_normalize
        Gaussian only: whether the model log-normalizes the values itself (so they must be counts).
    """
    if summary.n_nonfinite:
        raise ValueError(
            f"{location} contains {summary.n_nonfinite} NaN or infinite values. Fix or remove those cells or genes "
            "before setting up the model; celltyper does not guess values."
        )
    needs_counts = gene_likelihood in COUNT_LIKELIHOODS or log_normalize
    if needs_counts and (summary.n_negative or summary.n_noninteger):
        what = f"{summary.n_negative} negative and {summary.n_noninteger} non-integer values"
        if gene_likelihood in COUNT_LIKELIHOODS:
            advice = (
                f"gene_likelihood={gene_likelihood!r} models raw counts. Point setup_anndata at a layer of raw counts "
                "(layer='counts'), or use gene_likelihood='gaussian' for log-normalized data."
            )
        else:
            advice = "log_normalize=True expects raw counts; pass log_normalize=False for data that is normalized."
        raise ValueError(f"{location} holds {what}. {advice}")
    if needs_counts and summary.n_zero_cells:
        raise ValueError(
            f"{summary.n_zero_cells} cells have no counts at all in {location}, so their library size is zero. "
            "Remove them first, e.g. sc.pp.filter_cells(adata, min_counts=1), and set up the model again."
        )
    if gene_likelihood == "gaussian" and not log_normalize and summary.looks_like_counts:
        warnings.warn(
            f"{location} looks like raw counts (non-negative integers up to {summary.max_value:g}), but "
            "gene_likelihood='gaussian' with log_normalize=False models it as it is. Pass log_normalize=True (or "
            "leave it None) to model log1p-normalized expression instead.",
            UserWarning,
            stacklevel=3,
        )


def warn_ambiguous_counts(summary: MatrixSummary, location: str) -> None:
    """Warn that integers up to 20 are modelled as normalized values when ``log_normalize`` was left to the data.

    Parameters
    ----------
    summary
        What :func:`summarize_matrix` found.
    location
        How the user refers to the matrix, for the message.
    """
    warnings.warn(
        f"{location} holds non-negative integers up to {summary.max_value:g}: raw counts of a shallow assay, or "
        "normalized values? gene_likelihood='gaussian' models them as they are (normalized). Pass log_normalize=True "
        "if they are raw counts, or log_normalize=False to say they are normalized (and silence this warning).",
        UserWarning,
        stacklevel=4,
    )
