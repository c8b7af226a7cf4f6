"""Read the cells a command annotates: an ``.h5ad`` file, a 10x ``.h5`` file or a 10x ``.mtx`` folder (scanpy)."""

from __future__ import annotations

from pathlib import Path

import scanpy as sc
from anndata import AnnData

from ._io import read_h5ad

_MTX_FILES = ("matrix.mtx", "matrix.mtx.gz")


def read_cells(path: str | Path | None, what: str = "input") -> AnnData:
    """The cells of ``path``: an ``.h5ad`` file, a 10x ``.h5`` file, or a 10x ``.mtx`` folder.

    10x inputs are read by scanpy (``sc.read_10x_h5``; ``sc.read_10x_mtx`` for a folder holding ``matrix.mtx(.gz)``,
    ``barcodes`` and ``features`` / ``genes``), their raw counts in ``X``.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not given or does not exist.
    ValueError
        If it is none of the three formats, or cannot be read.
    """
    if path is None:
        raise FileNotFoundError(f"No {what} given: pass --{what.replace('_', '-')} FILE.h5ad | FILE.h5 | MTX_FOLDER.")
    path = Path(path)
    if path.is_dir():
        if not any((path / name).is_file() for name in _MTX_FILES):
            raise ValueError(f"The {what} folder {path} holds no 10x matrix.mtx(.gz); pass an .h5ad or .h5 file.")
        return _read_10x(sc.read_10x_mtx, path, what)
    if not path.is_file():
        raise FileNotFoundError(f"The {what} file {path} does not exist.")
    if path.suffix == ".h5":
        return _read_10x(sc.read_10x_h5, path, what)
    if path.suffix != ".h5ad":
        raise ValueError(f"The {what} {path} is not an .h5ad file, a 10x .h5 file or a 10x .mtx folder.")
    return read_h5ad(path, what)


def _read_10x(reader, path: Path, what: str) -> AnnData:
    try:
        adata = reader(path)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"The {what} {path} is not a readable 10x file ({' '.join(str(error).split())}).") from error
    adata.var_names_make_unique()
    return adata
