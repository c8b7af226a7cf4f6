"""Tools that compute results into an AnnData (scanpy's ``tl``): label transfer and its parts."""

from ._annotate_h5ad import annotate_h5ad
from ._calibration import TemperatureScaling, fit_temperature
from ._class_prior import change_class_prior
from ._genes import GeneOverlap, align_genes
from ._majority_voting import leiden_clusters, majority_vote
from ._novelty import TypeDistance, novelty
from ._shifted_genes import shifted_genes
from ._transfer import TransferResult, transfer_labels

__all__ = [
    "GeneOverlap",
    "TemperatureScaling",
    "TransferResult",
    "TypeDistance",
    "align_genes",
    "annotate_h5ad",
    "change_class_prior",
    "fit_temperature",
    "leiden_clusters",
    "majority_vote",
    "novelty",
    "shifted_genes",
    "transfer_labels",
]
