"""Contiguous row chunks of an open ``.h5ad`` file: its matrix, read into reused memory, and its cell names."""

from __future__ import annotations

import h5py
import numpy as np
import scipy.sparse as sp
from anndata.io import read_elem, sparse_dataset


class RowChunkReader:
    """Reads rows ``start:stop`` of the matrix at ``element`` (``f["X"]`` or ``f["layers/…"]``).

    A CSR matrix is read into two alternating sets of buffers allocated once: filling hundreds of MB of fresh memory
    costs the operating system more than the read itself (see ``docs/scale.md``). The two sets let a read-ahead
    thread fill one while the caller uses the other, so a chunk returned by ``read(i, …)`` stays valid until
    ``read(i + 2, …)``; do not keep it longer. Dense and CSC matrices are read through anndata's backed slicing, into
    new memory every time.

    Parameters
    ----------
    element
        The matrix's dataset (dense) or group (sparse) in an open file.
    chunks
        The row ranges that will be read, to size the buffers.
    """

    def __init__(self, element: h5py.Dataset | h5py.Group, chunks: list[slice]):
        self._csr = isinstance(element, h5py.Group) and element.attrs.get("encoding-type") == "csr_matrix"
        if not self._csr:
            self._matrix = element if isinstance(element, h5py.Dataset) else sparse_dataset(element)
            return
        self._data, self._indices = element["data"], element["indices"]
        self._indptr = element["indptr"][:]
        self._n_cols = int(element.attrs["shape"][1])
        longest = max(int(self._indptr[min(r.stop, len(self._indptr) - 1)] - self._indptr[r.start]) for r in chunks)
        self._buffers = [
            (np.empty(longest, self._data.dtype), np.empty(longest, self._indices.dtype)) for _ in range(2)
        ]

    def read(self, i: int, rows: slice) -> np.ndarray | sp.spmatrix:
        """Rows ``rows`` (a slice with ``start`` and ``stop``), the ``i``-th chunk read."""
        if not self._csr:
            return self._matrix[rows]
        start, stop = rows.start, min(rows.stop, len(self._indptr) - 1)
        first, last = int(self._indptr[start]), int(self._indptr[stop])
        data, indices = (buffer[: last - first] for buffer in self._buffers[i % 2])
        if last > first:
            self._data.read_direct(data, np.s_[first:last])
            self._indices.read_direct(indices, np.s_[first:last])
        chunk = sp.csr_matrix((stop - start, self._n_cols), dtype=data.dtype)
        chunk.data, chunk.indices = data, indices
        chunk.indptr = (self._indptr[start : stop + 1] - first).astype(indices.dtype)  # a chunk's nnz fits
        return chunk


class CellNameReader:
    """Reads the names (the ``obs`` index) of rows ``start:stop`` of an open ``.h5ad`` file, as ``str``.

    The string dataset anndata writes is read slice by slice, so that the names of a million cells (a second to
    decode) are read chunk by chunk alongside the counts; any other encoding is read whole, once.

    Parameters
    ----------
    obs
        The file's ``obs`` group.
    """

    def __init__(self, obs: h5py.Group):
        index = obs[obs.attrs["_index"]]
        if isinstance(index, h5py.Dataset) and h5py.check_string_dtype(index.dtype) is not None:
            self._names = index.asstr()
        else:
            self._names = np.asarray(read_elem(index)).astype(str)

    def read(self, rows: slice) -> np.ndarray:
        """The names of cells ``rows``."""
        return np.asarray(self._names[rows], dtype=object)
