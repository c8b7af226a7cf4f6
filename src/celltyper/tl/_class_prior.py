"""Change the class prior of classifier probabilities (Bayes' rule; Saerens et al. 2002, Menon et al. 2021)."""

from __future__ import annotations

import numpy as np


def change_class_prior(probabilities: np.ndarray, trained_prior: np.ndarray, new_prior: np.ndarray) -> np.ndarray:
    """Probabilities of a classifier trained under ``trained_prior``, as if the classes had ``new_prior``.

    ``p_new(y | x) ∝ p(y | x) · new_prior[y] / trained_prior[y]``: the likelihood ``p(x | y)`` is kept, the prior
    swapped. With a uniform ``new_prior`` the top class is the one that maximises the balanced accuracy rather than the
    accuracy, so a type that is rare in the reference is not called less often because it is rare there.

    Parameters
    ----------
    probabilities
        ``(cells, classes)`` class probabilities, each row summing to 1.
    trained_prior
        Class frequencies the classifier was trained with (``(classes,)``, positive).
    new_prior
        Class frequencies to assume instead (``(classes,)``, non-negative).

    Returns
    -------
    ``(cells, classes)`` probabilities under ``new_prior``, each row summing to 1.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    trained_prior, new_prior = np.asarray(trained_prior, dtype=float), np.asarray(new_prior, dtype=float)
    n_classes = probabilities.shape[-1]
    if trained_prior.shape != (n_classes,) or new_prior.shape != (n_classes,):
        raise ValueError(
            f"trained_prior {trained_prior.shape} and new_prior {new_prior.shape} need one value per class of "
            f"probabilities ({n_classes})."
        )
    if not (np.isfinite(probabilities).all() and (probabilities >= 0).all()):
        raise ValueError("probabilities must be finite and non-negative (NaN, inf or negative values found).")
    if (probabilities.sum(axis=-1) <= 0).any():
        raise ValueError("Every row of probabilities needs a positive sum; some cells have probability 0 everywhere.")
    if not (np.isfinite(trained_prior).all() and np.isfinite(new_prior).all()):
        raise ValueError("trained_prior and new_prior must be finite.")
    if (trained_prior <= 0).any():
        raise ValueError("trained_prior must be positive for every class: a classifier never trained on a class.")
    if (new_prior < 0).any() or new_prior.sum() <= 0:
        raise ValueError("new_prior must be non-negative with at least one positive class.")
    weighted = probabilities * (new_prior / trained_prior)
    total = weighted.sum(axis=-1, keepdims=True)
    if not (np.isfinite(weighted).all() and (total > 0).all()):
        raise ValueError(
            "new_prior / trained_prior leaves some cells no finite, positive probability: new_prior is 0 for every "
            "class they could be, or the ratio overflows. Give those classes a positive new_prior."
        )
    return weighted / total
