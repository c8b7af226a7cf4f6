"""Reading inputs and writing outputs of the commands, with errors that name the file or key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anndata as ad
import h5py
import pandas as pd
from anndata import AnnData
from anndata.io import read_elem

from celltyper.model._model_files import LEGACY_FILE, MODEL_FILE


def read_h5ad(path: str | Path | None, what: str = "input") -> AnnData:
    """Read an ``.h5ad`` file; a missing path or file raises a ``FileNotFoundError`` saying which."""
    if path is None:
        raise FileNotFoundError(f"No {what} file given: pass --{what} FILE.h5ad or set {what}: in the config.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The {what} file {path} does not exist.")
    return ad.read_h5ad(path)


def read_obs(path: str | Path | None, what: str = "input") -> pd.DataFrame:
    """Only the ``obs`` table of an ``.h5ad`` file (the matrices stay on disk); a missing file raises a clear error."""
    if path is None:
        raise FileNotFoundError(f"No {what} file given: pass --{what} FILE.h5ad or set {what}: in the config.")
    if not Path(path).is_file():
        raise FileNotFoundError(f"The {what} file {path} does not exist.")
    with h5py.File(path, "r") as f:
        return read_elem(f["obs"])


def require_obs(adata: AnnData, key: str | None, name: str, path: str | Path | None) -> None:
    """Raise a ``KeyError`` if ``key`` is set but is not a column of ``adata.obs``."""
    if key is not None and key not in adata.obs:
        raise KeyError(f"{name}={key!r} is not a column of adata.obs in {path}; the columns are {list(adata.obs)}.")


def require_dir(path: str | Path | None, what: str) -> Path:
    """A saved-model folder that must exist (an old-format one passes, for ``load`` to name its conversion)."""
    if path is None:
        raise FileNotFoundError(f"No {what} given: pass --{what} DIR (a folder written by `celltyper train`).")
    path = Path(path)
    if not any((path / name).is_file() for name in (MODEL_FILE, LEGACY_FILE)):
        raise FileNotFoundError(f"{path} is not a saved model folder (no {path / MODEL_FILE}); run `celltyper train`.")
    return path


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` as indented JSON (folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_plain))
    return path


def _plain(value: Any) -> Any:
    """Numpy scalars and arrays → Python numbers and lists, anything else → text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
