"""celltyper: cell-type annotation for scanpy workflows, built on scvi-tools."""

from importlib.metadata import version

from . import datasets, pl, pp
from .model import CellTypeTransformer, CountVAE

__all__ = ["CellTypeTransformer", "CountVAE", "datasets", "pl", "pp"]
__version__ = version("celltyper")
