"""Plots (scanpy and matplotlib underneath); every function returns a figure and can save it as PNG."""

from ._confidence import confidence_histograms
from ._embedding import umap
from ._evaluation import confusion_matrix, f1_bars
from ._importance import feature_importance
from ._qc import qc_violin
from ._training import training_curves

__all__ = [
    "confidence_histograms",
    "confusion_matrix",
    "f1_bars",
    "feature_importance",
    "qc_violin",
    "training_curves",
    "umap",
]
