"""The classifiers label transfer can use, behind one small interface: fit on the reference, probabilities for cells.

:func:`~celltyper.tl.transfer_labels` only talks to :class:`ReferenceClassifier`: it fits one on the reference cells
that are not held out, reads its probabilities for the held-out cells (to fit a temperature) and for the query. A new
classifier is a subclass registered in :data:`CLASSIFIERS`. Every AnnData handed to a classifier holds raw counts in
``X`` on the same genes, the labels in ``obs[LABELS]`` (reference) and the batch in ``obs[BATCH]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from anndata import AnnData
from sklearn.linear_model import LogisticRegression

from celltyper._keys import UNKNOWN
from celltyper._normalization import log1p_cp10k

#: obs columns of the AnnData copies the classifiers are trained on (the user's AnnData never gets them): the labels,
#: the batch, and each cell's total count over every gene reference and query share (its library size).
LABELS, BATCH, LIBRARY = "_celltyper_labels", "_celltyper_batch", "_celltyper_library"


def normalized(adata: AnnData):
    """log1p(CP10k) of ``adata.X``, each cell divided by its library over all shared genes where known."""
    return log1p_cp10k(adata.X, adata.obs[LIBRARY].to_numpy() if LIBRARY in adata.obs else None)


#: Inverse L2 strength of the linear classifier, chosen on the validation suite (docs/transfer.md).
LINEAR_C = 0.003


class ReferenceClassifier(ABC):
    """A cell-type classifier trained on a reference; :meth:`predict_proba` gives one column per :attr:`classes`.

    Attributes
    ----------
    learns_frequencies
        Whether the probabilities carry the reference's type frequencies as their prior (``True``) or equal odds for
        every type (``False``: class-balanced training).
    refit_on_every_cell
        Whether it is cheap enough to fit again on every labelled reference cell once the held-out cells have been
        predicted (as scikit-learn's ``CalibratedClassifierCV(ensemble=False)``); else the first fit serves the query.
    """

    learns_frequencies: ClassVar[bool] = False
    refit_on_every_cell: ClassVar[bool] = False

    @abstractmethod
    def fit(self, reference: AnnData) -> ReferenceClassifier:
        """Train on the labelled cells of ``reference`` (cells labelled ``"Unknown"`` are unlabelled)."""

    @abstractmethod
    def predict_proba(self, adata: AnnData) -> np.ndarray:
        """Class probabilities, ``(cells, classes)``, in the order of :attr:`classes`."""

    @property
    @abstractmethod
    def classes(self) -> list[str]:
        """The cell types, in the order of :meth:`predict_proba`'s columns."""


def _labelled(reference: AnnData) -> np.ndarray:
    return np.flatnonzero(reference.obs[LABELS].to_numpy() != UNKNOWN)


class LinearClassifier(ReferenceClassifier):
    """Class-balanced, L2-penalised logistic regression (scikit-learn) on log1p(counts per 10,000).

    The CellTypist model, regularised: a strong penalty (``C``) keeps the weights on many genes rather than a few,
    which holds up better when donor, study or platform change (``docs/transfer.md``). Balanced class weights give
    every type equal prior odds, so rare types are not swallowed.

    Parameters
    ----------
    C
        Inverse strength of the L2 penalty.
    """

    refit_on_every_cell = True

    def __init__(self, C: float = LINEAR_C):
        self.C = C
        self.model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)  # fitted by fit

    def fit(self, reference: AnnData) -> LinearClassifier:
        cells = _labelled(reference)
        labels = reference.obs[LABELS].to_numpy()[cells]
        self.model.fit(normalized(reference[cells]), labels)
        return self

    def predict_proba(self, adata: AnnData) -> np.ndarray:
        return self.predict_proba_normalized(normalized(adata))

    def predict_proba_normalized(self, expression) -> np.ndarray:
        """Class probabilities of cells × genes log1p(CP10k) expression (what :meth:`predict_proba` computes first)."""
        return self.model.predict_proba(expression)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.model.classes_]

    def weights(self) -> dict[str, np.ndarray]:
        """The fitted model as arrays: ``coef`` (classes × genes) and ``intercept`` (classes)."""
        return {"coef": self.model.coef_, "intercept": self.model.intercept_}

    @classmethod
    def from_weights(cls, C: float, classes: list[str], coef: np.ndarray, intercept: np.ndarray) -> LinearClassifier:
        """The classifier :meth:`weights` describe, predicting exactly as the fitted one did (scikit-learn's own code).

        Raises
        ------
        ValueError
            If the shapes of ``coef`` and ``intercept`` do not fit ``classes``.
        """
        n_rows = 1 if len(classes) == 2 else len(classes)  # scikit-learn keeps one row for two classes
        if coef.ndim != 2 or coef.shape[0] != n_rows or intercept.shape != (n_rows,):
            raise ValueError(
                f"Linear weights of shape {coef.shape} and {intercept.shape} do not fit {len(classes)} classes."
            )
        classifier = cls(C)
        classifier.model.classes_ = np.asarray(classes, dtype=object)
        classifier.model.coef_, classifier.model.intercept_ = coef, intercept
        classifier.model.n_features_in_ = coef.shape[1]
        return classifier


class VAEClassifier(ReferenceClassifier):
    """The classifier q(y | z) of a :class:`~celltyper.model.SemiSupervisedCountVAE` trained on the reference.

    A query with batches the reference lacks is first mapped onto the model (scArches surgery: only the new batches'
    weights train; :attr:`query_model`).

    Parameters
    ----------
    max_epochs, query_max_epochs
        Epochs of reference training and of query mapping.
    model_kwargs, train_kwargs
        Passed to the model and to its ``train``.
    model
        An already trained model to use instead of training one.
    """

    learns_frequencies = True

    def __init__(
        self,
        max_epochs: int | None = None,
        query_max_epochs: int | None = None,
        model_kwargs: dict | None = None,
        train_kwargs: dict | None = None,
        model=None,
    ):
        self.max_epochs, self.query_max_epochs = max_epochs, query_max_epochs
        self.model_kwargs, self.train_kwargs = model_kwargs, train_kwargs
        self.model: Any = model  # a SemiSupervisedCountVAE once fitted
        self.query_model: Any = None  # the model mapped onto the last query with new batches

    def fit(self, reference: AnnData) -> VAEClassifier:
        if self.model is None:
            from ._latent import train_reference_model

            self.model = train_reference_model(reference, self.model_kwargs, self.max_epochs, self.train_kwargs)
        return self

    def predict_proba(self, adata: AnnData) -> np.ndarray:
        known = set(self.model.adata.obs[BATCH].astype(str))
        if set(adata.obs[BATCH].astype(str)) <= known:
            probabilities = self.model.predict(adata, soft=True)
        else:
            from ._latent import map_query

            query = adata.copy()
            self.query_model = map_query(self.model, query, self.query_max_epochs, self.train_kwargs)
            probabilities = self.query_model.predict(query, soft=True)
        return probabilities[self.classes].to_numpy()

    @property
    def classes(self) -> list[str]:
        return self.model.cell_types


class TransformerClassifier(ReferenceClassifier):
    """A :class:`~celltyper.CellTypeTransformer` trained on the reference (class-balanced sampling, ≤ 30 epochs).

    Parameters
    ----------
    train_kwargs
        Passed to its ``train``.
    """

    def __init__(self, train_kwargs: dict | None = None):
        self.train_kwargs = train_kwargs
        self.model: Any = None  # a CellTypeTransformer once fitted

    def fit(self, reference: AnnData) -> TransformerClassifier:
        from celltyper.model import CellTypeTransformer

        reference = reference.copy()
        CellTypeTransformer.setup_anndata(reference, labels_key=LABELS, unlabeled_category=UNKNOWN)
        self.model = CellTypeTransformer(reference)
        self.model.train(**{"enable_progress_bar": False, **(self.train_kwargs or {})})
        return self

    def predict_proba(self, adata: AnnData) -> np.ndarray:
        return self.model.predict(adata, soft=True)[self.classes].to_numpy()

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.model.cell_types]


#: ``classifier=`` name → class.
CLASSIFIERS: dict[str, type[ReferenceClassifier]] = {
    "linear": LinearClassifier,
    "vae": VAEClassifier,
    "transformer": TransformerClassifier,
}
