"""Reading inputs and writing outputs of the commands, with errors that name the file or key."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anndata as ad
import h5py
import pandas as pd
from anndata import AnnData
from anndata.io import read_elem

from celltyper.model._model_files import LEGACY_FILE, MODEL_FILE


def read_h5ad(path: str | Path | None, what: str = "input") -> AnnData:
    """Read an ``.h5ad`` file; a missing file is a ``FileNotFoundError``, an unreadable one a ``ValueError``."""
    path = _h5ad_path(path, what)
    try:
        return ad.read_h5ad(path)
    except _UNREADABLE as error:
        raise _unreadable(path, what, error) from error


def read_obs(path: str | Path | None, what: str = "input") -> pd.DataFrame:
    """Only the ``obs`` table of an ``.h5ad`` file (the matrices stay on disk); errors as :func:`read_h5ad`."""
    path = _h5ad_path(path, what)
    try:
        with h5py.File(path, "r") as f:
            return read_elem(f["obs"])
    except _UNREADABLE as error:
        raise _unreadable(path, what, error) from error


#: What h5py and anndata raise for a file that is not an h5ad one, is truncated, or lacks a part.
_UNREADABLE = (OSError, KeyError, TypeError, ValueError)


def _h5ad_path(path: str | Path | None, what: str) -> Path:
    """``path`` as a ``Path``; a ``FileNotFoundError`` saying what to pass if it is not set or not a file."""
    if path is None:
        raise FileNotFoundError(f"No {what} file given: pass --{what} FILE.h5ad or set {what}: in the config.")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"The {what} {path} is a folder; pass an .h5ad file.")
    if not path.is_file():
        raise FileNotFoundError(f"The {what} file {path} does not exist.")
    return path


def _unreadable(path: Path, what: str, error: Exception) -> ValueError:
    """The error for an ``.h5ad`` file that exists but cannot be read."""
    reason = " ".join(str(error).split()) or type(error).__name__
    return ValueError(
        f"The {what} file {path} is not a readable h5ad file ({reason}): check that you may read it and that it was "
        "copied completely, or write it again with anndata's write_h5ad."
    )


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


def check_out_dir(path: str | Path) -> Path:
    """The output folder ``path``; a ``NotADirectoryError`` or ``PermissionError`` if it cannot be created there.

    Nothing is created: the nearest existing folder on the way must be a writable folder.
    """
    path = Path(path)
    existing = next(parent for parent in (path.absolute(), *path.absolute().parents) if parent.exists())
    if not existing.is_dir():
        raise NotADirectoryError(
            f"--out {path} cannot be created: {existing} is a file, not a folder; choose another --out."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"--out {path} cannot be created: {existing} is not writable; choose another --out.")
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
