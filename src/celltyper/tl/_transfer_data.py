"""The copies of reference and query that label transfer trains on, checked first and reduced to the genes it reads."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from celltyper._counts import check_raw_counts
from celltyper._gene_overlap import check_gene_overlap, on_genes
from celltyper._keys import UNKNOWN
from celltyper._split import holdout_split

from ._classifiers import BATCH, LABELS, LIBRARY, LinearClassifier
from ._genes import GeneOverlap, ensembl_ids, highly_variable_genes, match_genes
from ._shifted_genes import shifted_genes
from ._threads import resolve_threads

#: obs columns of the reference copy: the held-out calibration cells, and every cell's label (held-out ones included).
CALIBRATION, TRUE_LABELS = "_celltyper_calibration", "_celltyper_true_labels"


def _check_counts(name: str, adata: AnnData, layer: str | None) -> None:
    """Raise before any training if ``adata`` does not hold raw counts where transfer_labels reads them."""
    location = f"{name}.layers[{layer!r}]" if layer is not None else f"{name}.X"
    check_raw_counts(
        adata.layers[layer] if layer is not None else adata.X,
        location,
        "transfer_labels reads raw counts: pass layer= the layer of raw counts (e.g. layer='counts') of both "
        "reference and query.",
    )


def check_query(query: AnnData, layer: str | None) -> None:
    """Raise for a query label transfer cannot read: no cells or genes, duplicate genes, no raw counts in ``layer``."""
    _check_data("query", query, layer)


def _check_data(name: str, adata: AnnData, layer: str | None) -> None:
    if layer is not None and layer not in adata.layers:
        raise KeyError(f"layer {layer!r} is not in {name}.layers ({list(adata.layers)}).")
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(f"The {name} has no {'cells' if adata.n_obs == 0 else 'genes'}.")
    if not adata.var_names.is_unique:
        raise ValueError(f"{name}.var_names has duplicates; call {name}.var_names_make_unique() first.")
    _check_counts(name, adata, layer)


def check_reference(reference, labels_key, layer, batch_key, classifier, class_prior, n_threads, choices) -> None:
    """Raise, before anything is trained, for every reference or setting label transfer cannot use.

    ``choices`` are the allowed ``classifier`` and ``class_prior`` values.
    """
    if labels_key not in reference.obs:
        raise KeyError(f"labels_key {labels_key!r} is not a column of reference.obs (columns: {list(reference.obs)}).")
    _check_data("reference", reference, layer)
    if batch_key is not None and batch_key not in reference.obs:
        raise KeyError(f"batch_key {batch_key!r} is not a column of reference.obs.")
    classifiers, priors = choices
    if classifier not in classifiers:
        raise ValueError(f"classifier must be one of {classifiers}, not {classifier!r}.")
    if class_prior not in priors:
        raise ValueError(f"class_prior must be 'balanced' or 'reference', not {class_prior!r}.")
    if n_threads != "auto":
        resolve_threads(n_threads)
    labels = reference.obs[labels_key].dropna().astype(str)
    counts = labels[labels != UNKNOWN].value_counts()
    if len(counts) < 2:
        raise ValueError(f"reference.obs[{labels_key!r}] needs at least two cell types; it has {len(counts)}.")
    if (counts < 2).any():
        raise ValueError(
            f"Cell types {list(counts.index[counts < 2])} have a single reference cell; a classifier cannot learn a "
            f"type from one cell. Remove them or merge them into a broader type in reference.obs[{labels_key!r}]."
        )


def reference_copy(reference, labels_key, layer, batch_key, calibration_fraction, random_state) -> AnnData:
    """The reference's counts and labels, with a stratified ``calibration_fraction`` of cells marked unlabelled."""
    counts = reference.layers[layer] if layer is not None else reference.X
    adata = AnnData(
        X=sp.csr_matrix(counts, dtype=np.float32),
        obs=pd.DataFrame(index=reference.obs_names.copy()),
        var=reference.var.copy(),
    )
    labels = reference.obs[labels_key].astype(object).where(reference.obs[labels_key].notna(), UNKNOWN).astype(str)
    adata.obs[BATCH] = reference.obs[batch_key].astype(str).to_numpy() if batch_key is not None else "reference"
    labelled = np.flatnonzero(labels.to_numpy() != UNKNOWN)
    _, held_out = holdout_split(labels.iloc[labelled].to_numpy(), calibration_fraction, random_state)
    calibration = np.zeros(adata.n_obs, dtype=bool)
    calibration[labelled[held_out]] = True
    adata.obs[CALIBRATION] = calibration
    adata.obs[LABELS] = np.where(calibration, UNKNOWN, labels.to_numpy())
    adata.obs[TRUE_LABELS] = labels.to_numpy()
    return adata


def query_copy(query: AnnData, reference_data: AnnData, layer, batch_key, min_gene_overlap) -> tuple:
    """The query's counts on the reference's genes (zero where missing), its batches, and the gene overlap.

    ``reference_data`` only lends its genes (``var``): the reference copy, or an annotator's gene table. The two
    must share at least ``min_gene_overlap`` of the smaller gene set (:func:`check_shared_genes`).
    """
    positions, genes = match_genes(reference_data, query)
    check_shared_genes(reference_data.var_names, query.var_names, positions, min_gene_overlap)
    aligned = on_genes(query, reference_data.var_names, positions, layer)
    query_data = AnnData(X=aligned.layers[layer] if layer is not None else aligned.X, var=aligned.var)
    query_data.obs_names = query.obs_names.copy()
    has_batch = batch_key is not None and batch_key in query.obs
    query_data.obs[BATCH] = ("query:" + query.obs[batch_key].astype(str)).to_numpy() if has_batch else "query"
    return query_data, genes


def check_shared_genes(reference_genes: pd.Index, query_genes: pd.Index, positions, min_gene_overlap: float) -> None:
    """Raise if reference and query share fewer than ``min_gene_overlap`` of the smaller of their gene sets.

    ``positions``: each reference gene's position in the query (-1: missing). Label transfer trains its models on
    genes both share, so no gene reads as zero (no warning): what matters is that they share enough genes, counted
    on the smaller set, so that a query (or a reference) measured on a gene panel is read on the genes it has.
    """
    if len(reference_genes) <= len(query_genes):
        check_gene_overlap(reference_genes, positions >= 0, "reference genes", minimum=min_gene_overlap, warn_below=0)
        return
    matched = np.zeros(len(query_genes), dtype=bool)
    matched[positions[positions >= 0]] = True
    check_gene_overlap(
        query_genes, matched, "query genes", searched="the reference", minimum=min_gene_overlap, warn_below=0
    )


def set_libraries(reference_data: AnnData, query_data: AnnData, genes: GeneOverlap) -> None:
    """Each cell's total count over every gene reference and query share: what counts per 10,000 divide by."""
    shared = ~reference_data.var_names.isin(genes.missing)
    reference_data.obs[LIBRARY] = np.asarray(reference_data.X[:, shared].sum(axis=1)).ravel()
    query_data.obs[LIBRARY] = np.asarray(query_data.X.sum(axis=1)).ravel()  # zero-filled where the query lacks a gene


def model_genes(reference_data, query_data, genes, n_top_genes, max_gene_shift) -> tuple[pd.Index, list[str]]:
    """The genes the models read: the reference's most variable genes among those the query has, less shifted ones.

    The shift is measured within cell types, with the query's types predicted by a first linear classifier on the
    same genes (:func:`~celltyper.tl.shifted_genes`).
    """
    candidates = reference_data[:, ~reference_data.var_names.isin(genes.missing)]
    batch = BATCH if candidates.obs[BATCH].nunique() > 1 else None
    selected = highly_variable_genes(candidates, n_top_genes, batch_key=batch)
    if max_gene_shift is None:
        return selected, []
    reference_part, query_part = reference_data[:, selected], query_data[:, selected]
    first = LinearClassifier().fit(reference_part)
    predicted = np.asarray(first.classes, dtype=object)[first.predict_proba(query_part).argmax(1)]
    labels = reference_part.obs[TRUE_LABELS].to_numpy()
    labelled = labels != UNKNOWN
    excluded = shifted_genes(
        reference_part.X[labelled], query_part.X, selected, max_gene_shift, labels[labelled], predicted
    )
    return selected.difference(excluded, sort=False), list(excluded)


def reference_gene_table(reference: AnnData) -> pd.DataFrame:
    """The reference's genes, with Ensembl ids in ``gene_ids`` when it has them (as genes are matched)."""
    table = pd.DataFrame(index=pd.Index(reference.var_names.astype(str), name=None))
    ids = ensembl_ids(reference)
    if ids is not None:
        table["gene_ids"] = ids.to_numpy(dtype=str)
    return table


def query_layer(query: AnnData, reference_layer: str | None) -> str | None:
    """The query's counts layer: the reference's layer name if the query has it, else ``X``."""
    return reference_layer if reference_layer is not None and reference_layer in query.layers else None


def without_empty_cells(reference_data: AnnData) -> AnnData:
    """The reference cells with counts on the genes the models read; the others tell no type and stop the models."""
    empty = np.asarray(reference_data.X.sum(axis=1)).ravel() == 0
    if not empty.any():
        return reference_data
    warnings.warn(
        f"{int(empty.sum())} reference cells have no counts on the {reference_data.n_vars} genes the models read; "
        "they are left out.",
        UserWarning,
        stacklevel=4,
    )
    return reference_data[~empty].copy()
