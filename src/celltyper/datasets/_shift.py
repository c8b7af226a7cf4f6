"""A simulated change of sequencing technology: the same cells, counted by a platform with other gene efficiencies."""

from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp


def shift_technology(
    adata: ad.AnnData,
    *,
    layer: str | None = None,
    capture_sd: float = 0.7,
    depth: float = 0.5,
    lost_fraction: float = 0.1,
    seed: int = 0,
) -> ad.AnnData:
    """A copy of ``adata`` whose counts look as if another platform had measured the same cells.

    Platforms (plate-based vs droplet, one chemistry vs the next) differ in how efficiently they capture each gene, in
    sequencing depth, and in which weakly expressed genes they detect at all. This simulates all three by binomial
    thinning, which keeps counts counts: every count of gene ``g`` is kept with probability

    ``c_g = min(1, depth · exp(capture_sd · z_g))``, ``z_g ~ N(0, 1)``,

    so genes get log-normal capture rates around ``depth`` (``capture_sd = 0.7`` moves a typical gene about 2-fold
    against another); the ``lost_fraction`` of detected genes with the lowest mean count get ``c_g = 0`` (they stay
    in ``var``, always zero). Only counts are thinned, never added, so the shift is a real loss of information.

    Parameters
    ----------
    adata
        Cells × genes with raw counts in ``layer`` (or ``X``). Not modified.
    layer
        Layer with the counts (``None``: ``X``). The thinned counts are written to ``X`` and, if given, to ``layer``.
    capture_sd
        Standard deviation of the genes' log capture rates (0: every gene captured at ``depth``).
    depth
        Median capture rate, i.e. the new sequencing depth relative to the old, in (0, 1].
    lost_fraction
        Fraction of the detected genes, the most weakly expressed, that the new platform does not detect, in [0, 1).
    seed
        Seed of the capture rates and of the thinning.

    Returns
    -------
    A new AnnData with the same ``obs``, ``var`` (plus ``var["capture_rate"]``) and thinned integer counts (float32,
    sparse CSR); other layers and ``obsm`` are not copied.

    Examples
    --------
    >>> import celltyper as ct
    >>> adata = ct.datasets.kang_ifnb()
    >>> shifted = ct.datasets.shift_technology(adata, layer="counts", seed=0)
    >>> float(shifted.X.sum() / adata.X.sum()) < 0.7
    True
    """
    if capture_sd < 0:
        raise ValueError(f"capture_sd must be non-negative, not {capture_sd}.")
    if not 0 < depth <= 1:
        raise ValueError(f"depth must be in (0, 1] (thinning can only remove counts), not {depth}.")
    if not 0 <= lost_fraction < 1:
        raise ValueError(f"lost_fraction must be in [0, 1), not {lost_fraction}.")
    if layer is not None and layer not in adata.layers:
        raise KeyError(f"layer {layer!r} is not in adata.layers ({list(adata.layers)}).")
    counts = sp.csr_matrix(adata.layers[layer] if layer is not None else adata.X, dtype=np.float64)
    if counts.nnz and (counts.data.min() < 0 or not np.array_equal(counts.data, np.round(counts.data))):
        raise ValueError("shift_technology thins raw counts: the matrix must hold non-negative integers.")
    rng = np.random.default_rng(seed)
    capture = np.minimum(1.0, depth * np.exp(capture_sd * rng.standard_normal(adata.n_vars)))
    mean = np.asarray(counts.mean(axis=0)).ravel()
    detected = np.flatnonzero(mean > 0)
    n_lost = int(round(lost_fraction * detected.size))
    capture[detected[np.argsort(mean[detected], kind="stable")[:n_lost]]] = 0.0

    thinned = counts.copy()
    thinned.data = rng.binomial(counts.data.astype(np.int64), capture[counts.indices]).astype(np.float64)
    thinned.eliminate_zeros()
    thinned = thinned.astype(np.float32)
    shifted = ad.AnnData(X=thinned, obs=adata.obs.copy(), var=adata.var.copy())
    shifted.var["capture_rate"] = capture
    if layer is not None:
        shifted.layers[layer] = thinned.copy()
    return shifted
