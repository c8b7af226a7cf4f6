"""User-facing models on scvi-tools' base classes."""

from ._transformer import CellTypeTransformer
from ._vae import CountVAE

__all__ = ["CellTypeTransformer", "CountVAE"]
