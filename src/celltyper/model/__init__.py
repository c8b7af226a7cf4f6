"""User-facing models on scvi-tools' base classes."""

from ._legacy import convert_legacy_model
from ._semisupervised_vae import SemiSupervisedCountVAE
from ._transformer import CellTypeTransformer
from ._vae import CountVAE

__all__ = ["CellTypeTransformer", "CountVAE", "SemiSupervisedCountVAE", "convert_legacy_model"]
