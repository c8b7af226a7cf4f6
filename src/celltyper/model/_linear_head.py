"""The linear head of :class:`~celltyper.CellTypeTransformer`: a logistic regression fitted once, before training.

The module's prediction mixes its transformer head with a fixed linear head on log1p(CP10k) of the genes it reads
(``docs/transformer.md``). That head is scikit-learn's logistic regression, fitted on the training cells of the split
:class:`~celltyper.train.BalancedDataSplitter` will make, at most :data:`LINEAR_HEAD_CELLS_PER_TYPE` of each type, read
chunk by chunk so that fitting on an atlas holds only those cells × genes in memory.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from celltyper._normalization import log1p_cp10k
from celltyper.train._classifier import stratified_split

from ._streaming import row_chunks

#: The linear head is fitted on at most this many training cells of each type (chosen at random), so that fitting it
#: on an atlas holds a bounded number of cells in memory; the bundled references have fewer per type.
LINEAR_HEAD_CELLS_PER_TYPE = 5000


def per_type_sample(cells: np.ndarray, labels: np.ndarray, max_per_type: int, seed: int) -> np.ndarray:
    """``cells`` (indices), keeping at most ``max_per_type`` of each label, chosen at random with ``seed``; sorted."""
    rng = np.random.default_rng(seed)
    kept = [
        rng.choice(in_type, max_per_type, replace=False) if len(in_type) > max_per_type else in_type
        for in_type in (cells[labels[cells] == label] for label in np.unique(labels[cells]))
    ]
    return np.sort(np.concatenate(kept))


def linear_head_cells(labels: np.ndarray, n_classes: int, validation_size: float, seed: int) -> np.ndarray:
    """The cells to fit the linear head on: the training cells of the class-stratified split with this size and seed.

    The split is :func:`~celltyper.train._classifier.stratified_split`, as ``BalancedDataSplitter`` makes it, so
    the head never sees a validation cell; at most :data:`LINEAR_HEAD_CELLS_PER_TYPE` cells of each type are kept.
    """
    train_cells, _, _ = stratified_split(labels, n_classes, validation_size, seed)
    return per_type_sample(train_cells, labels, LINEAR_HEAD_CELLS_PER_TYPE, seed)


def fit_linear_head(
    X, labels: np.ndarray, cells: np.ndarray, genes: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression (L2, C=1, balanced classes) of ``labels`` on log1p(CP10k) of ``genes``, over ``cells``.

    Parameters
    ----------
    X
        The reference's counts, cells × all genes (dense, sparse or backed), read chunk by chunk.
    labels
        The class code of every cell.
    cells
        The cells to fit on.
    genes
        The columns the module reads.
    n_classes
        Classes the module predicts.

    Returns
    -------
    The weights ``(n_classes, len(genes))`` and intercepts ``(n_classes,)``, float32; a class without a cell among
    ``cells`` gets zero weights and an intercept of -10⁴, so that the head never predicts it.
    """
    keep = np.zeros(len(labels), dtype=bool)
    keep[cells] = True
    E = sp.vstack([log1p_cp10k(chunk[keep[rows]])[:, genes] for rows, chunk in row_chunks(X)]).tocsr()
    fit = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(E, labels[keep])
    coef, intercept = fit.coef_, fit.intercept_
    if len(fit.classes_) == 2:  # scikit-learn's binary model: one logit, for the second class
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
    full_coef = np.zeros((n_classes, len(genes)), dtype=np.float32)
    full_intercept = np.full(n_classes, -1e4, dtype=np.float32)  # classes without training cells
    full_coef[fit.classes_], full_intercept[fit.classes_] = coef, intercept
    return full_coef, full_intercept
