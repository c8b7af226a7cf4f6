"""The real datasets benchmarks read from a path (``../shared/data`` of a checkout, or ``$CELLTYPER_DATA``)."""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

#: name → (file under the data folder, labels column, batch column)
REAL_DATASETS: dict[str, tuple[str, str | None, str | None]] = {
    "kang_ifnb": ("kang2018_ifnb_pbmc/converted/kang2018_scgen_valid_counts.h5ad", "cell_type", "condition"),
    "kang_8donors": (
        "kang2018_muscat_ctrl_8donors/converted/kang2018_ctrl_8donors_1287genes_counts.h5ad",
        "cell_type",
        "donor",
    ),
    "zheng_sorted": ("zheng2017_pbmc_10x/converted/zheng2017_sorted_reference_counts.h5ad", "cell_type", None),
    "zheng_donor_a": ("zheng2017_pbmc_10x/converted/zheng2017_frozen_donorA_counts.h5ad", None, None),
    "combat_6donors": ("combat2022_blood_6donors/converted/combat2022_6donors_counts.h5ad", None, "donor"),
    "pbmc8k": ("zheng2017_pbmc_10x/original/pbmc.h5ad", "cell_type", None),
    "mouse_pancreas": (
        "mouse_pancreas_endocrinogenesis/converted/mouse_pancreas_endocrinogenesis.h5ad",
        "cell_type",
        None,
    ),
    "paul15": (
        "paul15_myeloid_progenitors_240genes/converted/paul15_myeloid_progenitors_240genes.h5ad",
        "cell_type",
        None,
    ),
    "tabula_muris_immune": (
        "actinn_mouse_immune_tabula_muris_1000/converted/actinn_mouse_immune_tabula_muris_1000.h5ad",
        "cell_type",
        None,
    ),
}


def shared_data_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder holding the real datasets: ``path``, else ``$CELLTYPER_DATA``, else ``../shared/data``."""
    candidate = Path(path or os.environ.get("CELLTYPER_DATA", "../shared/data")).expanduser()
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"No data folder at {candidate.resolve()}. Pass --data DIR or set CELLTYPER_DATA to the folder that holds "
            "kang2018_ifnb_pbmc/, zheng2017_pbmc_10x/, …"
        )
    return candidate


def load_real_dataset(name: str, data_dir: str | os.PathLike | None = None) -> ad.AnnData:
    """Read one of :data:`REAL_DATASETS` with raw counts (sparse float32) in ``X`` and ``layers["counts"]``."""
    if name not in REAL_DATASETS:
        raise KeyError(f"Unknown dataset {name!r}; choose one of {sorted(REAL_DATASETS)}.")
    relative, _, _ = REAL_DATASETS[name]
    adata = ad.read_h5ad(shared_data_dir(data_dir) / relative)
    adata.X = sp.csr_matrix(adata.layers["counts"] if "counts" in adata.layers else adata.X, dtype=np.float32)
    adata.layers["counts"] = adata.X.copy()
    adata.obs_names_make_unique()
    return adata
