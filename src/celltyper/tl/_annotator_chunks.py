"""An annotator's predictions for chunks of raw counts read from a file, with the genes matched once up front."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from celltyper._normalization import log1p_cp10k

from ._annotate_query import check_genes_found
from ._annotator import Annotator
from ._classifiers import LinearClassifier
from ._fit_classifier import calibrated
from ._genes import match_genes


def annotator_chunk_predictor(annotator: Annotator, var: pd.DataFrame) -> Callable[[slice, object], pd.DataFrame]:
    """A function ``(rows, counts) -> probabilities`` (cells × cell types) for chunks of a file whose genes are ``var``.

    The numbers are those of :meth:`~celltyper.tl.Annotator.annotate`: genes matched the same way (genes the file
    lacks read as zero), each cell divided by its total over every gene it shares with the reference, the same
    classifier, prior and temperature. Cells without counts on the annotator's genes get probability 0 everywhere.
    """
    classifier = annotator.classifier
    if not isinstance(classifier, LinearClassifier):
        raise ValueError("Streaming annotation needs an annotator with the linear classifier (the default).")
    positions, overlap = match_genes(AnnData(var=annotator.gene_table), AnnData(var=var))
    table_genes = pd.Index(annotator.gene_table.index)
    used = positions[table_genes.get_indexer(annotator.genes)]
    check_genes_found(annotator, used >= 0)
    n_file_genes = len(var)
    found = np.flatnonzero(used >= 0)
    # The classifier's weights moved onto the file's genes (zero for genes it does not read), so that a chunk is
    # normalized and multiplied as it is, without selecting columns: one pass over its counts per step.
    weights = classifier.weights()
    file_coef = np.zeros((weights["coef"].shape[0], n_file_genes))
    np.add.at(file_coef.T, used[found], weights["coef"][:, found].T)
    on_file_genes = LinearClassifier.from_weights(classifier.C, classifier.classes, file_coef, weights["intercept"])
    used_genes = np.zeros(n_file_genes, dtype=np.float32)
    used_genes[used[found]] = 1
    # A file gene counts once per reference gene matched to it, as in the in-memory alignment.
    library_weights = np.bincount(positions[positions >= 0], minlength=n_file_genes).astype(np.float32)
    classes = classifier.classes

    def predict(rows: slice, counts) -> pd.DataFrame:
        counts = sp.csr_matrix(counts, dtype=np.float32)
        library = counts @ library_weights
        has_counts = counts @ used_genes > 0
        probabilities = np.zeros((counts.shape[0], len(classes)))
        if has_counts.any():
            cells = counts if has_counts.all() else counts[has_counts]
            raw = on_file_genes.predict_proba_normalized(log1p_cp10k(cells, library[has_counts]))
            probabilities[has_counts] = calibrated(
                raw, annotator.trained_prior, annotator.target_prior, annotator.calibration
            )
        return pd.DataFrame(probabilities, columns=classes)

    return predict
