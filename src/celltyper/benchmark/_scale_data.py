"""Simulated h5ad files for the scaling benchmark (``benchmarks/scale.py``), written in chunks so that memory stays low.

One block of ``BLOCK_CELLS`` cells is drawn with :func:`celltyper.datasets.simulate` (2,000 genes) and appended to
the file as many times as the size needs (the cells of a 1M-cell file are that block ten times, with unique
``obs_names``). Speed and memory of training and annotation depend on the number of cells and of non-zero entries,
not on whether cells repeat; drawing one million distinct cells takes ~15 minutes on the 2-core machine.
The reference that the annotation model trains on is another draw with the same seed, hence the same gene
programs and batch effects, but different cells.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import anndata as ad
import h5py
import pandas as pd
from anndata.io import sparse_dataset, write_elem

import celltyper as ct

N_GENES = 2000
BLOCK_CELLS = 100_000
SEED = 0


def reference(n_cells: int = 10_000) -> ad.AnnData:
    """Labelled cells with the gene programs of the simulated files (same seed), for training the annotator."""
    adata = ct.datasets.simulate(n_cells=n_cells, n_genes=N_GENES, seed=SEED)
    adata.obs_names = [f"ref_{i}" for i in range(n_cells)]
    return adata


@cache
def _block() -> ad.AnnData:
    """The simulated cells every file repeats (drawn once per process)."""
    block = ct.datasets.simulate(n_cells=BLOCK_CELLS, n_genes=N_GENES, seed=SEED, chunk_size=10_000)
    del block.layers["counts"]
    return block


def simulated_h5ad(n_cells: int, data_dir: str | Path) -> Path:
    """Path of ``scale_{n_cells}.h5ad`` under ``data_dir``; written first if it does not exist yet.

    The file holds raw counts as CSR in ``X`` (no layers), ``obs["cell_type"]`` and ``obs["batch"]``.
    """
    path = Path(data_dir) / f"scale_{n_cells}.h5ad"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    block = _block()
    repeats = -(-n_cells // BLOCK_CELLS)
    obs = pd.concat([block.obs] * repeats).iloc[:n_cells]
    obs.index = [f"cell_{i}" for i in range(n_cells)]
    partial = path.with_suffix(".partial")
    ad.AnnData(obs=obs, var=block.var).write_h5ad(partial)
    with h5py.File(partial, "a") as f:
        written = 0
        while written < n_cells:
            chunk = block.X[: min(BLOCK_CELLS, n_cells - written)]
            if written == 0:
                write_elem(f, "X", chunk)  # anndata makes the arrays resizable (maxshape None)
            else:
                sparse_dataset(f["X"]).append(chunk)
            written += chunk.shape[0]
    partial.rename(path)
    return path


def nnz_per_cell(path: Path) -> float:
    """Mean number of non-zero counts per cell of a written file."""
    with h5py.File(path, "r") as f:
        return float(f["X"]["data"].shape[0] / f["X"].attrs["shape"][0])
