"""celltyper: cell-type annotation for scanpy workflows, built on scvi-tools."""

from importlib import import_module
from importlib.metadata import version
from types import ModuleType

from . import datasets, pl, pp, tl
from .model import CellTypeTransformer, CountVAE, SemiSupervisedCountVAE
from .tl import Annotator

__all__ = [
    "Annotator",
    "CellTypeTransformer",
    "CountVAE",
    "SemiSupervisedCountVAE",
    "benchmark",
    "datasets",
    "pl",
    "pp",
    "tl",
]
__version__ = version("celltyper")


def __getattr__(name: str) -> ModuleType:
    """Import :mod:`celltyper.benchmark` on first use, so that ``import celltyper`` does not load the harness."""
    if name == "benchmark":
        return import_module(f"{__name__}.benchmark")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
