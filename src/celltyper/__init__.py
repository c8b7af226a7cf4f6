"""celltyper: cell-type annotation for scanpy workflows, built on scvi-tools."""

from importlib.metadata import version

from . import datasets
from .model import CountVAE

__all__ = ["CountVAE", "datasets"]
__version__ = version("celltyper")
