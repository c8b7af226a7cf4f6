"""Minibatches from a backed AnnData (``anndata.read_h5ad(path, backed="r")``) read in contiguous blocks.

scvi-tools' loader reads a backed matrix through anndata one cell at a time (two HDF5 reads per cell), and anndata
0.12 adds ~20 ms of package-metadata lookup to every indexing call; on the 2-core machine that made reading a
128-cell minibatch slower than training on it. Here the rows a minibatch needs are read straight from the HDF5
arrays, one read per contiguous run, and training minibatches are made of ``block_size`` consecutive training cells
(blocks are shuffled every epoch, so each minibatch mixes ``batch_size / block_size`` random places of the file).
Loaders hand out the same tensors as scvi-tools' :class:`~scvi.dataloaders.AnnDataLoader`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.data._utils import registry_key_to_default_dtype
from scvi.dataloaders import AnnDataLoader, DataSplitter
from torch.utils.data import DataLoader, Dataset, Sampler

#: Rows of a file read as one span when the cells a minibatch needs are at most this far apart.
MAX_GAP = 64


class CSRRows:
    """Rows of a CSR matrix stored in an HDF5 group (``data``, ``indices``, ``indptr``), read in contiguous spans."""

    def __init__(self, group, shape: tuple[int, int]):
        self.data, self.indices = group["data"], group["indices"]
        self.indptr = group["indptr"][:]  # (n_cells + 1,) in memory: 8 MB per million cells
        self.shape = shape

    def __getitem__(self, rows: np.ndarray) -> sp.csr_matrix:
        """The sorted ``rows`` as an in-memory CSR matrix: one read per span of rows at most ``MAX_GAP`` apart."""
        data, indices, indptr, keep = [], [], [np.zeros(1, dtype=np.int64)], []
        n_read = n_values = 0
        for span in np.split(rows, np.flatnonzero(np.diff(rows) > MAX_GAP) + 1):
            first, last = span[0], span[-1] + 1
            start, stop = self.indptr[first], self.indptr[last]
            data.append(self.data[start:stop])
            indices.append(self.indices[start:stop])
            indptr.append(self.indptr[first + 1 : last + 1] - start + n_values)
            keep.append(span - first + n_read)
            n_read, n_values = n_read + last - first, n_values + stop - start
        read = sp.csr_matrix(
            (np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)), shape=(n_read, self.shape[1])
        )
        return read[np.concatenate(keep)]


def _registered_matrix(adata_manager: AnnDataManager) -> CSRRows:
    """Reader of the registered expression matrix of a backed AnnData (``X`` or a layer) straight from its file."""
    adata = adata_manager.adata
    layer = adata_manager.data_registry[REGISTRY_KEYS.X_KEY].attr_key
    key = "X" if layer is None else f"layers/{layer}"
    group = adata.file[key]
    if group.attrs.get("encoding-type") != "csr_matrix":
        raise ValueError(
            f"The backed {key} is stored as {group.attrs.get('encoding-type', 'a dense array')}; out-of-core training "
            "reads cells (rows), so store the counts as CSR (adata.X = scipy.sparse.csr_matrix(...), write_h5ad)."
        )
    return CSRRows(group, (adata.n_obs, adata.n_vars))


class BackedDataset(Dataset):
    """The registered tensors of ``indices`` of a backed AnnData, indexed with arrays of positions.

    ``dataset[positions]`` returns, like scvi-tools' ``AnnTorchDataset``, a dict of arrays: the expression (float32,
    dense, only those cells) and every other registered field (batch, labels, covariates) of those cells.
    """

    def __init__(self, adata_manager: AnnDataManager, indices: np.ndarray, data_and_attributes=None):
        self.rows = np.asarray(indices)
        if data_and_attributes is None:
            data_and_attributes = list(adata_manager.data_registry)
        if not isinstance(data_and_attributes, dict):  # the dtypes scvi-tools' AnnTorchDataset uses
            data_and_attributes = {key: registry_key_to_default_dtype(key) for key in data_and_attributes}
        self.dtypes = data_and_attributes
        self.matrix = _registered_matrix(adata_manager)
        self.fields = {
            key: np.asarray(adata_manager.get_from_registry(key)).astype(dtype)
            for key, dtype in self.dtypes.items()
            if key != REGISTRY_KEYS.X_KEY
        }

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions) -> dict[str, np.ndarray]:
        rows = np.sort(self.rows[np.atleast_1d(positions)])
        batch = {key: values[rows] for key, values in self.fields.items()}
        if REGISTRY_KEYS.X_KEY in self.dtypes:
            batch[REGISTRY_KEYS.X_KEY] = self.matrix[rows].toarray().astype(self.dtypes[REGISTRY_KEYS.X_KEY])
        return batch


class BlockBatchSampler(Sampler):
    """Minibatches of positions ``0 … n - 1``, each made of ``block_size``-long runs of consecutive positions.

    With ``shuffle`` the runs are shuffled at every epoch (the same way on every process, so Lightning's
    distributed sampler can split the minibatches between them); without it the minibatches are in order.
    """

    def __init__(self, n: int, batch_size: int, block_size: int, shuffle: bool, drop_last: bool, seed: int = 0):
        if not 1 <= block_size <= batch_size:
            raise ValueError(f"block_size must be between 1 and batch_size ({batch_size}), not {block_size}.")
        self.n, self.batch_size, self.block_size = n, batch_size, block_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.epoch = 0

    def __iter__(self):
        order = np.arange(self.n)
        if self.shuffle:
            blocks = np.array_split(order, max(1, -(-self.n // self.block_size)))
            rng = np.random.default_rng((self.seed, self.epoch))
            order = np.concatenate([blocks[b] for b in rng.permutation(len(blocks))])
            self.epoch += 1
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size]

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)


class BackedDataLoader(DataLoader):
    """A :class:`~torch.utils.data.DataLoader` of a backed AnnData with the arguments of scvi-tools' ``AnnDataLoader``.

    Parameters
    ----------
    adata_manager
        Manager of a backed AnnData whose registered matrix is CSR on disk.
    indices
        Cells to load (default: all).
    batch_size
        Cells per minibatch.
    shuffle
        Shuffle blocks of ``block_size`` cells every epoch.
    drop_last
        Drop the last, smaller minibatch.
    block_size
        Consecutive cells (in file order) that stay together in a minibatch; 1 shuffles cells individually.
    data_and_attributes
        Registered fields to load (default: all).
    **kwargs
        What scvi-tools passes to its loaders and does not apply here (``load_sparse_tensor``, ``pin_memory``,
        ``num_workers``, ``distributed_sampler`` …), or :class:`~torch.utils.data.DataLoader` arguments.
    """

    def __init__(
        self,
        adata_manager: AnnDataManager,
        indices=None,
        batch_size: int = 128,
        shuffle: bool = False,
        drop_last: bool = False,
        block_size: int = 16,
        data_and_attributes=None,
        **kwargs,
    ):
        for unused in ("load_sparse_tensor", "distributed_sampler", "iter_ndarray", "persistent_workers"):
            kwargs.pop(unused, None)
        kwargs.pop("num_workers", None)  # reads are single-threaded h5py; workers would each reopen the file
        indices = np.arange(adata_manager.adata.n_obs) if indices is None else np.asarray(indices)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        # in file order, so that the cells of a block are neighbours on disk
        dataset = BackedDataset(adata_manager, np.sort(indices), data_and_attributes)
        sampler = kwargs.pop("sampler", None)  # Lightning's distributed wrapper of our sampler, when it rebuilds us
        if sampler is None:
            sampler = BlockBatchSampler(len(dataset), batch_size, min(block_size, batch_size), shuffle, drop_last)
        super().__init__(dataset, sampler=sampler, batch_size=None, **kwargs)


def anndata_loader(adata_manager: AnnDataManager, **kwargs) -> DataLoader:
    """scvi-tools' ``AnnDataLoader``, or a :class:`BackedDataLoader` when the AnnData is backed."""
    if is_backed(adata_manager.adata):
        return BackedDataLoader(adata_manager, **kwargs)
    kwargs.pop("block_size", None)
    return AnnDataLoader(adata_manager, **kwargs)


def is_backed(adata: AnnData) -> bool:
    """Whether the matrices of ``adata`` are on disk (``backed="r"``), and not a view of such an AnnData."""
    return adata.isbacked and not adata.is_view


class BackedDataSplitter(DataSplitter):
    """scvi-tools' :class:`~scvi.dataloaders.DataSplitter` whose loaders read a backed AnnData in blocks.

    Same split as ``DataSplitter`` (same ``train_size`` / ``validation_size`` / seed); pass ``block_size`` (default
    16) through ``datasplitter_kwargs``. In memory AnnData get scvi-tools' ``AnnDataLoader``.
    """

    data_loader_cls = staticmethod(anndata_loader)
