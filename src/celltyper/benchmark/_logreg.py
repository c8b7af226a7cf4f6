"""The logistic-regression baseline of every benchmark: CellTypist's method, L2 logistic regression on log1p(CP10k).

One recipe for ``celltyper benchmark``, the validation suite and the scripts in ``benchmarks/``: the counts of
``layers["counts"]`` normalized by :func:`celltyper._normalization.log1p_cp10k` (library = the cell's total over the
genes given), then scikit-learn's ``LogisticRegression`` (lbfgs). ``C`` and ``class_weight`` are the only knobs a
benchmark varies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from sklearn.linear_model import LogisticRegression

from celltyper._normalization import log1p_cp10k


def log_normalized(adata: AnnData) -> sp.csr_matrix:
    """log1p(counts per 10,000) of ``adata.layers["counts"]``, sparse float32."""
    return log1p_cp10k(adata.layers["counts"])


def fit_logreg(
    X: sp.spmatrix | np.ndarray,
    labels: np.ndarray,
    *,
    C: float = 1.0,
    class_weight: str | None = None,
    max_iter: int = 1000,
) -> LogisticRegression:
    """Logistic regression (L2, lbfgs) fitted on normalized expression ``X`` (cells × genes) and ``labels``."""
    return LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter).fit(X, np.asarray(labels, dtype=str))


def logreg_probabilities(
    reference: AnnData,
    query: AnnData,
    labels_key: str,
    *,
    C: float = 1.0,
    class_weight: str | None = None,
    max_iter: int = 1000,
) -> pd.DataFrame:
    """Train on ``reference`` (labels in ``obs[labels_key]``) and return the query cells' probabilities.

    Both AnnDatas hold raw counts in ``layers["counts"]`` on the same genes. Returns query cells × cell types.
    """
    if "counts" not in reference.layers or "counts" not in query.layers:
        raise KeyError("Logistic regression reads raw counts from layers['counts'] of the reference and the query.")
    labels = reference.obs[labels_key].astype(str).to_numpy()
    model = fit_logreg(log_normalized(reference), labels, C=C, class_weight=class_weight, max_iter=max_iter)
    probabilities = model.predict_proba(log_normalized(query))
    return pd.DataFrame(probabilities, index=query.obs_names, columns=model.classes_)
