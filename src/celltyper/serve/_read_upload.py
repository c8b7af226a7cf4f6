"""Reading an uploaded file: an ``.h5ad`` or a 10x ``.h5``, told apart by what is inside, never by its name.

Both are HDF5 files, read with h5py through anndata or scanpy, neither of which unpickles anything. Before reading,
the file is walked once: links to other files, datasets stored in other files and virtual datasets are refused (they
would make the server read its own files), and so is a file whose datasets would take more memory uncompressed than
``max_data_bytes`` (a small compressed upload can otherwise expand to fill the memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import anndata as ad
import h5py
import numpy as np
from anndata import AnnData

FileKind = Literal["h5ad", "10x"]

#: The datasets a 10x matrix group holds (Cell Ranger v3 ``matrix/``, or one group per genome in v2).
TENX_MATRIX = {"barcodes", "data", "indices", "indptr", "shape"}

#: What h5py, anndata and scanpy raise for a file with the right layout whose content is broken.
_UNREADABLE = (OSError, KeyError, TypeError, ValueError, IndexError)


class UploadError(Exception):
    """An upload the server cannot read: ``status`` is the HTTP status to answer, the message says why."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def read_upload(path: Path, max_data_bytes: int) -> AnnData:
    """The cells of the uploaded file at ``path``, in memory.

    Parameters
    ----------
    path
        The upload, written to a temporary file.
    max_data_bytes
        Most bytes its datasets may take uncompressed.

    Returns
    -------
    AnnData as :func:`anndata.read_h5ad` or :func:`scanpy.read_10x_h5` reads it (10x gene symbols made unique, as
    a 10x file cannot be edited before upload; their Ensembl ids stay in ``var["gene_ids"]``).

    Raises
    ------
    UploadError
        Status 415 for a file that is neither an h5ad nor a 10x h5 file, 422 for one that cannot be read.
    """
    kind = file_kind(path, max_data_bytes)
    try:
        if kind == "h5ad":
            return ad.read_h5ad(path)
        import scanpy as sc

        adata = sc.read_10x_h5(path)
    except _UNREADABLE as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise UploadError(f"The uploaded {kind} file cannot be read ({reason}).") from error
    adata.var_names_make_unique()
    return adata


def file_kind(path: Path, max_data_bytes: int) -> FileKind:
    """``"h5ad"`` or ``"10x"`` from the groups of the HDF5 file at ``path``; an :class:`UploadError` otherwise."""
    not_supported = "The upload is not an .h5ad file nor a 10x .h5 file"
    if not h5py.is_hdf5(path):
        raise UploadError(f"{not_supported} (it is not an HDF5 file).", status=415)
    try:
        with h5py.File(path, "r") as f:
            _check_contents(f, max_data_bytes)
            if "obs" in f and "var" in f:
                return "h5ad"
            if any(isinstance(group, h5py.Group) and TENX_MATRIX <= set(group) for group in f.values()):
                return "10x"
    except _UNREADABLE as error:
        raise UploadError(f"The uploaded HDF5 file cannot be read ({error}).") from error
    raise UploadError(
        f"{not_supported}: an HDF5 file with neither anndata's obs and var nor a 10x matrix group "
        f"({', '.join(sorted(TENX_MATRIX))}).",
        status=415,
    )


def _check_contents(f: h5py.File, max_data_bytes: int) -> None:
    """Refuse links out of the file, external or virtual datasets, and more than ``max_data_bytes`` of data."""
    total = 0

    def check(name: str, link: h5py.HardLink | h5py.SoftLink | h5py.ExternalLink) -> UploadError | None:
        """The problem with ``name``, if any (returning it stops the walk; raising there is h5py's SystemError)."""
        nonlocal total
        if isinstance(link, h5py.ExternalLink):
            return UploadError(f"The upload links to another file ({name!r}); send a self-contained file.")
        item = f[name] if isinstance(link, h5py.HardLink) else None  # soft links: their targets are visited
        if isinstance(item, h5py.Dataset):
            if item.external or item.is_virtual:
                return UploadError(f"The upload's dataset {name!r} is stored outside it; send a self-contained file.")
            total += int(np.prod(item.shape, dtype=np.int64)) * item.dtype.itemsize
            if total > max_data_bytes:
                return UploadError(
                    f"The upload's data take more than {max_data_bytes / 2**20:,.0f} MiB uncompressed, the most this "
                    "server reads.",
                    status=413,
                )
        return None

    problem = f.visititems_links(check)
    if problem is not None:
        raise problem
