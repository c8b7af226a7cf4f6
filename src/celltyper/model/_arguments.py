"""Checks of the numbers a model is built and trained with, raised before anything is built or trained."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

from scvi.dataloaders._data_splitting import validate_data_split


def check_int(name: str, value: object, minimum: int) -> int:
    """Raise a ``TypeError`` unless ``value`` is an integer, a ``ValueError`` unless it is at least ``minimum``.

    Parameters
    ----------
    name
        The argument's name, for the message.
    value
        What the user passed.
    minimum
        The smallest value that makes sense.

    Returns
    -------
    ``value`` as an ``int``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer of at least {minimum}, not {value!r}.")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, not {value!r}.")
    return int(value)


def check_fraction(name: str, value: object) -> None:
    """Raise a ``TypeError`` unless ``value`` is a number, a ``ValueError`` unless it is in ``[0, 1)``.

    (A dropout rate of 1 would drop everything.)

    Parameters
    ----------
    name
        The argument's name, for the message.
    value
        What the user passed.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number in [0, 1), not {value!r}.")
    if not 0 <= float(value) < 1:
        raise ValueError(f"{name} must be a number in [0, 1), not {value!r}.")


def check_max_epochs(max_epochs: object) -> None:
    """Raise unless ``max_epochs`` is ``None`` (the model's default) or a positive integer (see :func:`check_int`)."""
    if max_epochs is not None:
        check_int("max_epochs", max_epochs, 1)


def check_batch_size(batch_size: object) -> None:
    """Raise unless ``batch_size`` is an integer of at least 2: BatchNorm cannot normalise a minibatch of one cell.

    (The training plans skip such a minibatch, so ``batch_size=1`` would train on nothing.)
    """
    if check_int("batch_size", batch_size, 1) < 2:
        raise ValueError(
            f"batch_size must be an integer of at least 2, not {batch_size!r}: BatchNorm cannot normalise a minibatch "
            "of one cell, so nothing would train."
        )


def n_training_cells(
    n_cells: int, train_size: float | None, validation_size: float | None, batch_size: int
) -> tuple[int, int]:
    """Cells in the training and in the validation set, as scvi-tools' ``DataSplitter`` will split ``n_cells``.

    Raises a ``ValueError`` when the training set would hold fewer than 2 cells (BatchNorm needs 2 per minibatch).
    """
    with warnings.catch_warnings():  # the DataSplitter gives its own warnings when it splits
        warnings.simplefilter("ignore")
        n_train, n_validation = validate_data_split(
            n_cells, 0.9 if train_size is None else train_size, validation_size, batch_size, False, train_size is None
        )
    if n_train < 2:
        raise ValueError(
            f"Training needs at least 2 training cells; {n_cells} cells with train_size={train_size} and "
            f"batch_size={batch_size} leave {n_train}. Use more cells (10 or more keep a validation set too)."
        )
    return n_train, n_validation
