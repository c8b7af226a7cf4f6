# ruff: noqa: D103, E501
"""log1p_cp10k vs scanpy normalize_total(target_sum=1e4) + log1p on 50,000 x 2,000 sparse, ~900 nnz/cell."""

import time

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp

from celltyper._normalization import log1p_cp10k

rng = np.random.default_rng(0)
n, g, nnz = 50_000, 2_000, 900
indptr = np.arange(n + 1) * nnz
indices = np.concatenate([np.sort(rng.choice(g, nnz, replace=False)) for _ in range(n)]).astype(np.int32)
X = sp.csr_matrix((rng.poisson(2, n * nnz).astype(np.float32) + 1, indices, indptr), shape=(n, g))
library = np.asarray(X.sum(1)).ravel() * rng.uniform(1.5, 3, n)  # totals over more genes than X holds


def scanpy_rowsums():
    a = ad.AnnData(X.copy())
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    return a.X


def scanpy_library():  # scanpy has no "divide by this library" argument: rescale rows by rowsum / library between the two
    a = ad.AnnData(X.copy())
    sc.pp.normalize_total(a, target_sum=1e4)
    a.X = sp.diags((np.asarray(X.sum(1)).ravel() / library).astype(np.float32)) @ a.X
    sc.pp.log1p(a)
    return a.X


def previous(X, library=None):  # log1p_cp10k before this change (3a1150d): diagonal matrix product
    X = sp.csr_matrix(X, dtype=np.float32)
    library = np.asarray(X.sum(1)).ravel() if library is None else np.asarray(library, dtype=np.float32)
    out = sp.diags((1e4 / np.maximum(library, 1.0)).astype(np.float32)) @ X
    out.data = np.log1p(out.data)
    return out.tocsr()


def best(f, r=5):
    f()
    ts = []
    for _ in range(r):
        s = time.perf_counter()
        f()
        ts.append(time.perf_counter() - s)
    return min(ts)


print(f"X {X.shape}, {X.nnz / n:.0f} nnz/cell, float32")
print(
    f"row sums: ours {best(lambda: log1p_cp10k(X)) * 1e3:.0f} ms, scanpy {best(scanpy_rowsums) * 1e3:.0f} ms (incl. X.copy)"
)
print(f"copy alone {best(lambda: X.copy()) * 1e3:.0f} ms")
print(f"max |diff| row sums {abs(log1p_cp10k(X) - scanpy_rowsums()).max():.2e}")
print(
    f"given library: ours {best(lambda: log1p_cp10k(X, library)) * 1e3:.0f} ms, scanpy via rescale {best(scanpy_library) * 1e3:.0f} ms, max |diff| {abs(log1p_cp10k(X, library) - scanpy_library()).max():.2e}"
)
print(
    f"previous (3a1150d): {best(lambda: previous(X)) * 1e3:.0f} ms, with library {best(lambda: previous(X, library)) * 1e3:.0f} ms, max |diff| vs now {abs(previous(X, library) - log1p_cp10k(X, library)).max():.2e}"
)
