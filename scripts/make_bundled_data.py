"""Rebuild the real datasets bundled in ``celltyper/datasets/data`` from ``../shared/data``.

Run from the repository root: ``python scripts/make_bundled_data.py [--shared ../shared/data]``.
The bundled files hold raw UMI counts only (uint16 CSR, gzip) so that they stay a few MB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

OUT = Path(__file__).resolve().parents[1] / "src" / "celltyper" / "datasets" / "data"


def _as_int_counts(X) -> sp.csr_matrix:
    X = sp.csr_matrix(X)
    if not np.allclose(X.data, np.round(X.data)):
        raise ValueError("expected integer counts")
    if X.data.max() > np.iinfo(np.uint16).max:
        raise ValueError("counts exceed uint16")
    return sp.csr_matrix(X.astype(np.uint16))


def kang(shared: Path) -> ad.AnnData:
    src = ad.read_h5ad(shared / "kang2018_ifnb_pbmc/converted/kang2018_scgen_valid_counts.h5ad")
    obs = src.obs[["condition", "cell_type"]].copy()
    for col in obs:
        obs[col] = obs[col].astype("category")
    return ad.AnnData(X=_as_int_counts(src.X), obs=obs, var=src.var[[]].copy())


def zheng(shared: Path, min_cells: int = 20) -> ad.AnnData:
    src = ad.read_h5ad(shared / "zheng2017_pbmc_10x/converted/zheng2017_sorted_reference_counts.h5ad")
    X = _as_int_counts(src.X)
    detected = np.asarray((X > 0).sum(0)).ravel() >= min_cells
    obs = src.obs[["cell_type"]].copy()
    obs["cell_type"] = obs["cell_type"].astype("category")
    return ad.AnnData(X=X[:, detected], obs=obs, var=src.var.loc[detected, []].copy())


def zheng_donor_a(shared: Path, min_cells: int = 10) -> ad.AnnData:
    src = ad.read_h5ad(shared / "zheng2017_pbmc_10x/converted/zheng2017_frozen_donorA_counts.h5ad")
    X = _as_int_counts(src.X)
    detected = np.asarray((X > 0).sum(0)).ravel() >= min_cells
    return ad.AnnData(X=X[:, detected], obs=src.obs[[]].copy(), var=src.var.loc[detected, []].copy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    bundled = {
        "kang2018_ifnb.h5ad": kang(args.shared),
        "zheng2017_sorted.h5ad": zheng(args.shared),
        "zheng2017_donor_a.h5ad": zheng_donor_a(args.shared),
    }
    for name, adata in bundled.items():
        adata.write_h5ad(OUT / name, compression="gzip", compression_opts=9)
        print(f"{name}: {adata.n_obs} x {adata.n_vars}, {(OUT / name).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
