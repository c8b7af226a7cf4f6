"""User-facing models on scvi-tools' base classes."""

from ._vae import CountVAE

__all__ = ["CountVAE"]
