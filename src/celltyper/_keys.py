"""The names celltyper writes into an AnnData, and the label of cells it does not assign, defined once."""

from __future__ import annotations

#: The label of a cell that matches no reference type well enough (and of unlabelled reference cells).
UNKNOWN = "Unknown"
#: Default prefix of every key written by the annotation functions (``key_added``).
KEY_ADDED = "celltyper"


def prediction_key(key_added: str = KEY_ADDED) -> str:
    """``obs`` column of the predicted cell type (or :data:`UNKNOWN`)."""
    return f"{key_added}_prediction"


def confidence_key(key_added: str = KEY_ADDED) -> str:
    """``obs`` column of the calibrated probability of the predicted type."""
    return f"{key_added}_confidence"


def novelty_key(key_added: str = KEY_ADDED) -> str:
    """``obs`` column of how unlike its predicted reference type a cell's cluster is."""
    return f"{key_added}_novelty"


def cluster_key(key_added: str = KEY_ADDED) -> str:
    """``obs`` column of the query cluster of a cell."""
    return f"{key_added}_cluster"


def majority_voting_key(key_added: str = KEY_ADDED) -> str:
    """``obs`` column of the majority prediction of a cell's cluster."""
    return f"{key_added}_majority_voting"


def cluster_agreement_key(key_added: str = KEY_ADDED) -> str:
    """``obs`` column of the share of a cell's cluster predicted as the cluster's majority label."""
    return f"{key_added}_cluster_agreement"


def split_key(key_added: str = KEY_ADDED) -> str:
    """``obs`` column of whether a cell trained the model (``"train"``) or was held out to score it (``"test"``)."""
    return f"{key_added}_split"


def latent_key(key_added: str = KEY_ADDED) -> str:
    """``obsm`` key of the cells' position in the reference model's latent space."""
    return f"X_{key_added}"
