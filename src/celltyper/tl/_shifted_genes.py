"""Genes whose detection rate differs between reference and query within cell types: condition or platform, not type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: A type counts in the comparison when it has at least this many cells on both sides.
MIN_TYPE_CELLS = 10


def detection_rate(matrix) -> np.ndarray:
    """Fraction of cells with a non-zero count, per gene."""
    matrix = sp.csr_matrix(matrix)
    return np.asarray((matrix > 0).mean(axis=0)).ravel()


def shifted_genes(
    reference_matrix,
    query_matrix,
    genes: pd.Index,
    max_shift: float,
    reference_labels=None,
    query_labels=None,
) -> pd.Index:
    """Genes whose fraction of expressing cells differs by more than ``max_shift`` between reference and query.

    With labels (the reference's types, the query's predicted types), the difference is taken within each type that
    has at least :data:`MIN_TYPE_CELLS` cells on both sides, and its median over those types is compared with
    ``max_shift``: a change of composition moves no gene, whereas a condition (interferon), another platform (other
    capture efficiencies, another depth) or another protocol moves a gene in most types. Without labels, or with
    fewer than two such types, the difference is taken over all cells, where a change of composition also moves the
    markers of the types whose share changed.

    Parameters
    ----------
    reference_matrix, query_matrix
        Cells × genes counts on the same ``genes`` (the query aligned to the reference).
    genes
        Gene names of the columns.
    max_shift
        Largest accepted difference of detection rates.
    reference_labels, query_labels
        Cell type of each reference cell and predicted type of each query cell (both or neither).
    """
    if (reference_labels is None) != (query_labels is None):
        raise ValueError("Give both reference_labels and query_labels, or neither.")
    shifts = []
    if reference_labels is not None:
        reference_labels, query_labels = np.asarray(reference_labels), np.asarray(query_labels)
        for cell_type in np.unique(query_labels):
            in_reference, in_query = reference_labels == cell_type, query_labels == cell_type
            if in_reference.sum() >= MIN_TYPE_CELLS and in_query.sum() >= MIN_TYPE_CELLS:
                shifts.append(detection_rate(query_matrix[in_query]) - detection_rate(reference_matrix[in_reference]))
    if len(shifts) >= 2:
        shift = np.median(np.abs(np.array(shifts)), axis=0)
    else:
        shift = np.abs(detection_rate(query_matrix) - detection_rate(reference_matrix))
    return genes[shift > max_shift]
