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
    if (trained_prior <= 0).any():
        raise ValueError("trained_prior must be positive for every class: a classifier never trained on a class.")
    if (new_prior < 0).any() or new_prior.sum() <= 0:
        raise ValueError("new_prior must be non-negative with at least one positive class.")
    weighted = probabilities * (new_prior / trained_prior)
    return weighted / weighted.sum(axis=1, keepdims=True)
