"""A small fitted annotator, saved, and query files in the formats the server reads (h5ad, 10x h5)."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pytest
import scipy.sparse as sp

import celltyper as ct


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> tuple[ct.Annotator, Path]:
    """An annotator fitted on two simulated batches, and the folder it is saved in."""
    adata = ct.datasets.simulate(n_cells=600, n_genes=300, n_types=4, n_batches=3, seed=3)
    reference = adata[adata.obs["batch"] != "batch_2"].copy()
    annotator = ct.Annotator.from_reference(
        reference, "cell_type", layer="counts", latent=False, n_top_genes=200, progress_bar=False, name="simulated"
    )
    folder = tmp_path_factory.mktemp("annotator") / "simulated"
    annotator.save(folder)
    return annotator, folder


@pytest.fixture(scope="session")
def queries(tmp_path_factory) -> dict[str, Path]:
    """Query files: ``layer`` (counts in a counts layer), ``x`` (counts in X only, other cells), ``tenx`` (10x h5)."""
    adata = ct.datasets.simulate(n_cells=600, n_genes=300, n_types=4, n_batches=3, seed=3)
    query = adata[adata.obs["batch"] == "batch_2"]
    folder = tmp_path_factory.mktemp("queries")
    paths = {"layer": folder / "layer.h5ad", "x": folder / "x.h5ad", "tenx": folder / "query.h5"}
    layer = query[:100].copy()
    layer.X = np.log1p(layer.X)  # only the counts layer holds counts
    layer.write_h5ad(paths["layer"])
    x = query[100:].copy()
    del x.layers["counts"]
    x.write_h5ad(paths["x"])
    write_10x_h5(query[:80].copy(), paths["tenx"])
    return paths


def write_10x_h5(adata: ad.AnnData, path: Path) -> None:
    """Write the counts in ``X`` as Cell Ranger v3 does (``matrix/``, genes × cells in CSC order)."""
    matrix = sp.csr_matrix(adata.X, dtype=np.int32)  # cells × genes in CSR is genes × cells in CSC
    with h5py.File(path, "w") as f:
        group = f.create_group("matrix")
        group["data"], group["indices"], group["indptr"] = matrix.data, matrix.indices, matrix.indptr
        group["shape"] = np.array([adata.n_vars, adata.n_obs], dtype=np.int32)
        group["barcodes"] = np.array(adata.obs_names, dtype="S")
        features = group.create_group("features")
        features["id"] = np.array([f"ID{i:05d}" for i in range(adata.n_vars)], dtype="S")
        features["name"] = np.array(adata.var_names, dtype="S")
        features["feature_type"] = np.array(["Gene Expression"] * adata.n_vars, dtype="S")
        features["genome"] = np.array(["GRCh38"] * adata.n_vars, dtype="S")
