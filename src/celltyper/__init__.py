"""celltyper: cell-type annotation for scanpy workflows, built on scvi-tools."""

from importlib.metadata import version

from . import benchmark, datasets, models, pl, pp, tl
from .model import CellTypeTransformer, CountVAE
from .tl import Annotator

__all__ = ["Annotator", "CellTypeTransformer", "CountVAE", "benchmark", "datasets", "models", "pl", "pp", "tl"]
__version__ = version("celltyper")
