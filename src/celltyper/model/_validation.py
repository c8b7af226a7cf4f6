"""Checks of the expression values a model was set up on, with errors that say what to do.

The value scan and the raw-counts error are :mod:`celltyper._counts`' (shared with ``pp``, ``tl`` and the CLI); what
is the models' own is which values a ``gene_likelihood`` accepts and where scvi-tools registered the matrix.
"""

from __future__ import annotations

import warnings

from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager

from celltyper._counts import MatrixSummary, require_counts

COUNT_LIKELIHOODS = ("nb", "zinb", "poisson")


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
    needs_counts = gene_likelihood in COUNT_LIKELIHOODS or log_normalize
    if needs_counts:
        if gene_likelihood in COUNT_LIKELIHOODS:
            advice = (
                f"gene_likelihood={gene_likelihood!r} models raw counts. Point setup_anndata at a layer of raw counts "
                "(layer='counts'), or use gene_likelihood='gaussian' for log-normalized data."
            )
        else:
            advice = "log_normalize=True expects raw counts; pass log_normalize=False for data that is normalized."
        require_counts(summary, location, advice)
    elif summary.n_nonfinite:
        raise ValueError(
            f"{location} contains {summary.n_nonfinite} NaN or infinite values. Fix or remove those cells or genes "
            "before setting up the model; celltyper does not guess values."
        )
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
