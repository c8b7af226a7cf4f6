"""Registering an AnnData with scvi-tools: its ``obs`` columns checked first, the AnnData left as it was on failure."""

from __future__ import annotations

import pandas as pd
from anndata import AnnData
from scvi.data import AnnDataManager
from scvi.data.fields import BaseAnnDataField


def check_category_column(adata: AnnData, key: str | None, what: str) -> None:
    """Raise a ``ValueError`` when ``adata.obs[key]`` (batches, covariates) has missing values.

    Parameters
    ----------
    adata
        The AnnData being set up.
    key
        A column of ``adata.obs``, or ``None`` (nothing to check).
    what
        What the column holds, for the message (``"batch"``).
    """
    if key is None:
        return
    if key not in adata.obs:
        raise KeyError(f"adata.obs has no column {key!r} ({what}); columns are {list(adata.obs.columns)}.")
    n_missing = int(adata.obs[key].isna().sum())
    if n_missing:
        raise ValueError(
            f"{n_missing} cells have no {what} (NaN) in adata.obs[{key!r}]; give every cell one, e.g. "
            f"adata.obs[{key!r}] = adata.obs[{key!r}].astype(str)."
        )


def check_label_column(adata: AnnData, labels_key: str, unlabeled_category: str) -> None:
    """Raise a ``ValueError`` unless ``adata.obs[labels_key]`` names cell types with strings and has no missing values.

    scvi-tools compares a classifier's labels with the unlabeled category as strings, so numbers or booleans fail deep
    inside it with a message that does not say why.

    Parameters
    ----------
    adata
        The AnnData being set up.
    labels_key
        The column of ``adata.obs`` with the cell types.
    unlabeled_category
        The value that marks unlabelled cells.
    """
    column = adata.obs[labels_key]
    n_missing = int(column.isna().sum())
    if n_missing:
        raise ValueError(
            f"{n_missing} cells have no label (NaN) in adata.obs[{labels_key!r}]; mark them as unlabelled with "
            f"adata.obs[{labels_key!r}] = adata.obs[{labels_key!r}].astype(object).fillna({unlabeled_category!r})."
        )
    values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
    if not all(isinstance(value, str) for value in values):
        kind = values.dtype if values.dtype != object else "non-string"
        raise ValueError(
            f"adata.obs[{labels_key!r}] holds {kind} values; cell types must be strings: "
            f"adata.obs[{labels_key!r}] = adata.obs[{labels_key!r}].astype(str)."
        )


def register_fields(
    adata: AnnData, fields: list[BaseAnnDataField], setup_method_args: dict, **kwargs
) -> AnnDataManager:
    """An :class:`~scvi.data.AnnDataManager` of ``fields`` registered on ``adata``; on failure ``adata`` is restored.

    scvi-tools writes its bookkeeping columns to ``adata.obs`` and ids to ``adata.uns`` field by field, so a field
    that fails would leave the earlier ones behind; ``obs`` and ``uns`` are put back as they were.

    Parameters
    ----------
    adata
        The AnnData to register.
    fields
        The model's fields.
    setup_method_args
        What ``cls._get_setup_method_args`` returned.
    **kwargs
        Passed to :meth:`~scvi.data.AnnDataManager.register_fields`.
    """
    obs, uns = adata.obs.copy(), dict(adata.uns)  # obs and uns only: small next to the expression
    manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
    try:
        manager.register_fields(adata, **kwargs)
    except Exception:
        adata.obs.drop(columns=[c for c in adata.obs.columns if c not in obs.columns], inplace=True)
        for column in obs.columns:
            adata.obs[column] = obs[column]
        for key in set(adata.uns) - set(uns):
            del adata.uns[key]
        adata.uns.update(uns)
        raise
    return manager
