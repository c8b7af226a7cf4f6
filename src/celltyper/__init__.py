"""celltyper: cell-type annotation for scanpy workflows, built on scvi-tools.

The submodules and models are imported on first use (as scanpy and anndata do), so that ``import celltyper`` and
the ``celltyper`` command line start without loading torch, scvi-tools and scanpy.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import benchmark, datasets, model, models, pl, pp, tl
    from .model import CellTypeTransformer, CountVAE, SemiSupervisedCountVAE
    from .tl import Annotator

#: Public name → the module that defines it (a submodule is its own module).
_LAZY = {
    "benchmark": "celltyper.benchmark",
    "datasets": "celltyper.datasets",
    "model": "celltyper.model",
    "models": "celltyper.models",
    "pl": "celltyper.pl",
    "pp": "celltyper.pp",
    "tl": "celltyper.tl",
    "CellTypeTransformer": "celltyper.model",
    "CountVAE": "celltyper.model",
    "SemiSupervisedCountVAE": "celltyper.model",
    "Annotator": "celltyper.tl",
}

__all__ = [
    "Annotator",
    "CellTypeTransformer",
    "CountVAE",
    "SemiSupervisedCountVAE",
    "benchmark",
    "datasets",
    "model",
    "models",
    "pl",
    "pp",
    "tl",
]
__version__ = version("celltyper")


def __getattr__(name: str) -> Any:
    """Import the submodule or model ``name`` on first access; other names are an ``AttributeError``."""
    if name not in _LAZY:
        raise AttributeError(f"module 'celltyper' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__ == f"celltyper.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
