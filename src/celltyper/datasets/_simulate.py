"""Negative-binomial counts with cell-type programs and batch effects."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def simulate(
    n_cells: int = 2000,
    n_genes: int = 2000,
    n_types: int = 5,
    n_batches: int = 2,
    type_proportions: Sequence[float] | None = None,
    seed: int = 0,
    *,
    dispersion: float = 2.0,
    batch_effect: float = 0.5,
    chunk_size: int = 50_000,
) -> ad.AnnData:
    """Simulate single-cell counts with known cell types and batches.

    Every gene has a log-normal baseline expression. Each cell type up-regulates its own program (a random 5 % of the
    genes, 2–8 fold); each batch multiplies every gene by a log-normal factor (``batch_effect`` is its log-scale
    standard deviation); library sizes are log-normal around 3000 UMIs. Counts are drawn from a negative binomial
    with inverse dispersion ``dispersion`` (a Gamma–Poisson mixture), in chunks so that millions of cells fit in
    memory as a sparse matrix.

    Parameters
    ----------
    n_cells, n_genes
        Size of the matrix.
    n_types
        Number of cell types, written to ``obs["cell_type"]`` as ``type_0`` … .
    n_batches
        Number of batches, written to ``obs["batch"]`` as ``batch_0`` … .
    type_proportions
        Relative abundance of each type (normalized to sum to 1); equal proportions when ``None``.
    seed
        Seed of the random generator: the same seed gives the same data.
    dispersion
        Inverse dispersion θ of the negative binomial (smaller = noisier).
    batch_effect
        Standard deviation of the per-batch, per-gene log fold change.
    chunk_size
        Cells drawn at a time.

    Returns
    -------
    AnnData with sparse float32 counts in ``X`` and a copy in ``layers["counts"]``; ``obs["cell_type"]``,
    ``obs["batch"]``; ``var["program"]`` (the type whose program contains the gene, or ``"none"``).
    """
    if min(n_cells, n_genes, n_types, n_batches) < 1:
        raise ValueError("n_cells, n_genes, n_types and n_batches must all be at least 1.")
    if type_proportions is None:
        proportions = np.full(n_types, 1.0 / n_types)
    else:
        proportions = np.asarray(type_proportions, dtype=float)
        if proportions.shape != (n_types,) or np.any(proportions < 0) or proportions.sum() <= 0:
            raise ValueError(f"type_proportions must be {n_types} non-negative numbers with a positive sum.")
        proportions = proportions / proportions.sum()

    rng = np.random.default_rng(seed)
    base = rng.lognormal(mean=0.0, sigma=1.0, size=n_genes)
    log_fold = np.zeros((n_types, n_genes))
    program = np.full(n_genes, "none", dtype=object)
    n_program = max(1, n_genes // 20)
    for t in range(n_types):
        genes = rng.choice(n_genes, size=n_program, replace=False)
        log_fold[t, genes] = np.log(rng.uniform(2.0, 8.0, size=n_program))
        program[genes] = f"type_{t}"
    type_profile = base * np.exp(log_fold)
    type_profile /= type_profile.sum(1, keepdims=True)
    batch_factor = rng.lognormal(mean=0.0, sigma=batch_effect, size=(n_batches, n_genes))

    cell_type = rng.choice(n_types, size=n_cells, p=proportions)
    batch = rng.integers(n_batches, size=n_cells)
    library = rng.lognormal(mean=np.log(3000), sigma=0.4, size=n_cells)

    chunks = []
    for start in range(0, n_cells, chunk_size):
        sl = slice(start, min(start + chunk_size, n_cells))
        profile = type_profile[cell_type[sl]] * batch_factor[batch[sl]]
        mean = profile / profile.sum(1, keepdims=True) * library[sl, None]
        rate = rng.gamma(shape=dispersion, scale=mean / dispersion)
        chunks.append(sp.csr_matrix(rng.poisson(rate).astype(np.float32)))
    X = sp.vstack(chunks, format="csr")

    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(
                [f"type_{t}" for t in cell_type], categories=[f"type_{t}" for t in range(n_types)]
            ),
            "batch": pd.Categorical([f"batch_{b}" for b in batch], categories=[f"batch_{b}" for b in range(n_batches)]),
        },
        index=[f"cell_{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame({"program": pd.Categorical(program)}, index=[f"gene_{g}" for g in range(n_genes)])
    adata = ad.AnnData(X=X, obs=obs, var=var)
    adata.layers["counts"] = X.copy()
    return adata
