"""Tools that compute results into an AnnData (scanpy's ``tl``): label transfer and its parts."""

from ._annotate import annotate
from ._annotate_h5ad import annotate_h5ad
from ._annotate_query import Annotation
from ._annotator import Annotator
from ._calibration import TemperatureScaling, fit_temperature
from ._class_prior import change_class_prior
from ._classifiers import CLASSIFIERS, LinearClassifier, ReferenceClassifier, TransformerClassifier, VAEClassifier
from ._genes import GeneOverlap, align_genes
from ._majority_voting import leiden_clusters, majority_vote
from ._novelty import cluster_type_match
from ._shifted_genes import shifted_genes
from ._transfer import TransferResult, transfer_labels
from ._unknown import unknown_calls

__all__ = [
    "Annotation",
    "Annotator",
    "CLASSIFIERS",
    "GeneOverlap",
    "LinearClassifier",
    "ReferenceClassifier",
    "TemperatureScaling",
    "TransferResult",
    "TransformerClassifier",
    "VAEClassifier",
    "align_genes",
    "annotate",
    "annotate_h5ad",
    "change_class_prior",
    "cluster_type_match",
    "fit_temperature",
    "leiden_clusters",
    "majority_vote",
    "shifted_genes",
    "transfer_labels",
    "unknown_calls",
]
