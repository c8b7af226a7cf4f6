"""``prepare``: the scanpy preprocessing every celltyper workflow starts from, in one documented call."""

from __future__ import annotations

import warnings

import numpy as np
import scanpy as sc
import scipy.sparse as sp
from anndata import AnnData

from celltyper._counts import check_raw_counts

from ._qc import QC_KEYS, annotate_mt, cell_filter_masks, qc_metrics
from ._summary import PrepareSummary

UNS_KEY = "celltyper_prepare"
#: Cells needed after the filters: highly variable genes and PCA compare cells (one cell crashes scikit-misc's loess).
MIN_CELLS = 2
#: Fewer cells than this after the filters: ``umap=True`` skips the neighbour graph and UMAP, with a warning.
MIN_CELLS_UMAP = 10
#: seurat_v3 fits a loess of variance on mean over the genes that vary; scikit-misc's loess crashes the process
#: (segmentation fault) on 3 such genes and fails with an opaque message on a few more.
MIN_VARYING_GENES = 10
#: What to do when the matrix ``prepare`` reads is not raw counts.
RAW_COUNTS_HINT = (
    "prepare() needs raw UMI counts; point it at them with layer='counts' (it keeps them there), or start again from "
    "the unnormalized data."
)


def prepare(
    adata: AnnData,
    *,
    layer: str | None = None,
    mt_prefix: str = "MT-",
    min_genes: int | None = 200,
    max_genes: int | None = None,
    min_counts: float | None = None,
    max_counts: float | None = None,
    max_pct_mt: float | None = 20.0,
    min_cells: int | None = 3,
    target_sum: float = 1e4,
    n_top_genes: int = 2000,
    batch_key: str | None = None,
    subset_hvg: bool = False,
    combat: bool = False,
    n_pcs: int = 50,
    n_neighbors: int = 15,
    umap: bool = True,
    random_state: int = 0,
    copy: bool = False,
) -> PrepareSummary | AnnData:
    """QC, filter, normalize, select genes, and embed an AnnData of raw counts, with scanpy.

    The steps, in order (each one a scanpy function):

    1. QC metrics of the raw counts (:func:`scanpy.pp.calculate_qc_metrics`): genes and counts per cell, and the
       percentage of counts from mitochondrial genes (names starting with ``mt_prefix``).
    2. Remove cells outside ``min_genes`` / ``max_genes`` / ``min_counts`` / ``max_counts`` / ``max_pct_mt``, then
       genes detected in fewer than ``min_cells`` of the remaining cells.
    3. Keep the raw counts in ``layers["counts"]``; ``X`` becomes ``log1p(target_sum · counts / library size)``
       (:func:`scanpy.pp.normalize_total`, :func:`scanpy.pp.log1p`).
    4. Highly variable genes, ``flavor="seurat_v3"`` on the counts, per batch when ``batch_key`` is given
       (:func:`scanpy.pp.highly_variable_genes`); optionally keep only those genes.
    5. Optionally ComBat on ``X`` (:func:`scanpy.pp.combat`) — for the Gaussian path only: count models
       (``CountVAE`` with ``"nb"`` / ``"zinb"``) read ``layers["counts"]`` and correct batches themselves.
    6. PCA on the highly variable genes, the neighbour graph and UMAP (:func:`scanpy.pp.pca`,
       :func:`scanpy.pp.neighbors`, :func:`scanpy.tl.umap`).

    Parameters
    ----------
    adata
        Cells × genes, at least 2 cells. Must hold raw counts (non-negative integers) in ``X``, or in
        ``layers[layer]``.
    layer
        Where the raw counts are; ``None``: ``adata.X``.
    mt_prefix
        Prefix of mitochondrial gene names, matched case-insensitively (``"MT-"`` matches human ``MT-CO1`` and
        mouse ``mt-Co1``).
    min_genes, max_genes
        Keep cells with at least / at most this many detected genes (``None``: no limit).
    min_counts, max_counts
        Keep cells with at least / at most this many counts (``None``: no limit).
    max_pct_mt
        Keep cells with at most this percentage of mitochondrial counts (``None``: no limit).
    min_cells
        Keep genes detected in at least this many of the remaining cells (``None``: keep all).
    target_sum
        Counts per cell after normalization.
    n_top_genes
        Number of highly variable genes (at most the number of genes).
    batch_key
        Column of ``adata.obs`` with the batch of each cell: genes are ranked within each batch, and ComBat
        corrects it.
    subset_hvg
        Keep only the highly variable genes (``False``: flag them in ``var["highly_variable"]``).
    combat
        Run ComBat on the log-normalized ``X`` (needs ``batch_key``). ``X`` becomes dense; the uncorrected values
        are kept in ``layers["log1p"]``.
    n_pcs
        Principal components (at most ``min(n_cells, n_genes) - 1``).
    n_neighbors
        Neighbours in the kNN graph.
    umap
        Compute the neighbour graph and UMAP (``False``: stop after PCA). Skipped, with a warning, when fewer than
        10 cells pass the filters.
    random_state
        Seed of PCA, neighbours and UMAP.
    copy
        Work on a copy and return it, leaving ``adata`` untouched.

    Returns
    -------
    ``copy=False``: a :class:`~celltyper.pp.PrepareSummary` of what was removed, and ``adata`` is changed in place.
    ``copy=True``: the prepared copy. Either way the summary is in ``adata.uns["celltyper_prepare"]["summary"]``.

    Notes
    -----
    This function transforms ``adata`` by design. Reads ``X`` (or ``layers[layer]``) and ``obs[batch_key]``.
    Writes:

    - cells and genes: the filtered subset (in place);
    - ``X``: log1p-normalized expression (ComBat-corrected and dense when ``combat=True``);
    - ``layers["counts"]``: the raw counts; ``layers["log1p"]``: uncorrected ``X`` (only with ``combat=True``);
    - ``obs``: ``n_genes_by_counts``, ``total_counts``, ``total_counts_mt``, ``pct_counts_mt``;
    - ``var``: ``mt``, ``highly_variable`` and scanpy's HVG statistics, ``n_cells_by_counts``, ``mean_counts``…;
    - ``obsm["X_pca"]``, ``varm["PCs"]``, ``uns["pca"]``; ``obsp["distances"]``, ``obsp["connectivities"]``,
      ``uns["neighbors"]``, ``obsm["X_umap"]``, ``uns["umap"]`` (when ``umap=True``);
    - ``uns["celltyper_prepare"]``: ``params``, ``summary`` and ``qc_before`` (the QC metrics of every cell before
      filtering, which :func:`celltyper.pl.qc_violin` draws beside the ones after).

    Examples
    --------
    >>> import celltyper as ct
    >>> adata = ct.datasets.zheng_sorted()
    >>> summary = ct.pp.prepare(adata, n_top_genes=2000)
    >>> print(summary)  # doctest: +SKIP
    """
    if not isinstance(adata, AnnData):
        raise TypeError(f"prepare() takes an AnnData, not {type(adata).__name__}.")
    if batch_key is not None and batch_key not in adata.obs:
        raise KeyError(f"batch_key={batch_key!r} is not a column of adata.obs; the columns are {list(adata.obs)}.")
    if layer is not None and layer not in adata.layers:
        raise KeyError(f"layer={layer!r} is not in adata.layers; the layers are {list(adata.layers)}.")
    if combat and batch_key is None:
        raise ValueError("combat=True needs batch_key: the column of adata.obs that ComBat corrects.")
    if target_sum <= 0 or n_top_genes < 1 or n_pcs < 1 or n_neighbors < 2:
        raise ValueError("target_sum must be > 0, n_top_genes and n_pcs >= 1, n_neighbors >= 2.")
    if adata.n_obs < MIN_CELLS:
        raise ValueError(
            f"prepare needs at least {MIN_CELLS} cells (highly variable genes and PCA compare cells); adata has "
            f"{adata.n_obs}."
        )
    location = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    check_raw_counts(adata.X if layer is None else adata.layers[layer], location, RAW_COUNTS_HINT)

    params = {k: v for k, v in locals().items() if k not in ("adata", "copy", "location") and v is not None}
    if copy:
        adata = adata.copy()
    n_cells_before, n_genes_before = adata.n_obs, adata.n_vars

    # 1. QC metrics of the raw counts
    counts = adata.X if layer is None else adata.layers[layer]
    adata.layers["counts"] = counts.copy()
    n_mt = annotate_mt(adata, mt_prefix, filtering=max_pct_mt is not None)
    qc_metrics(adata, layer="counts")
    qc_before = {key: adata.obs[key].to_numpy(dtype=float) for key in QC_KEYS}

    # 2. filters
    masks = cell_filter_masks(adata.obs, min_genes, max_genes, min_counts, max_counts, max_pct_mt)
    keep = np.logical_and.reduce(list(masks.values())) if masks else np.ones(adata.n_obs, dtype=bool)
    if keep.sum() < MIN_CELLS:
        passing = "Every cell fails" if not keep.any() else f"Only {int(keep.sum())} cell passes"
        failing = ", ".join(f"{name}: {int((~mask).sum())} fail" for name, mask in masks.items())
        raise ValueError(
            f"{passing} the QC filters ({failing}), and prepare needs at least {MIN_CELLS} cells. Loosen min_genes / "
            "min_counts / max_pct_mt."
        )
    if not keep.all():
        adata._inplace_subset_obs(keep)
    n_genes_unfiltered = adata.n_vars
    if min_cells:
        sc.pp.filter_genes(adata, min_cells=min_cells)  # on X, which still holds the counts
    genes_failing = n_genes_unfiltered - adata.n_vars
    qc_metrics(adata, layer="counts")
    steps = ["qc", "filter"]

    # 3. normalize X; the counts stay in layers["counts"]
    adata.X = adata.layers["counts"].copy()
    sc.pp.normalize_total(adata, target_sum=target_sum)
    sc.pp.log1p(adata)
    steps.append("normalize_total+log1p")

    # 4. highly variable genes on the counts
    _highly_variable_genes(adata, min(n_top_genes, adata.n_vars), batch_key, subset_hvg)
    steps.append("hvg(seurat_v3" + (f", batch_key={batch_key}" if batch_key else "") + ")")

    # 5. ComBat (Gaussian path)
    if combat:
        adata.layers["log1p"] = adata.X.copy()
        sc.pp.combat(adata, key=batch_key)
        steps.append("combat")

    # 6. PCA, neighbours, UMAP
    n_comps = min(n_pcs, adata.n_obs - 1, int(adata.var["highly_variable"].sum()) - 1)
    sc.pp.pca(adata, n_comps=n_comps, mask_var="highly_variable", random_state=random_state)
    steps.append(f"pca({n_comps})")
    if umap and adata.n_obs < MIN_CELLS_UMAP:
        warnings.warn(
            f"No neighbour graph or UMAP of {adata.n_obs} cells: they need at least {MIN_CELLS_UMAP}.",
            UserWarning,
            stacklevel=2,
        )
    elif umap:
        sc.pp.neighbors(adata, n_neighbors=n_neighbors, n_pcs=n_comps, random_state=random_state)
        sc.tl.umap(adata, random_state=random_state)
        steps += ["neighbors", "umap"]

    summary = PrepareSummary(
        n_cells_before=n_cells_before,
        n_cells_after=adata.n_obs,
        n_genes_before=n_genes_before,
        n_genes_after=adata.n_vars,
        cells_failing={name: int((~mask).sum()) for name, mask in masks.items()},
        genes_failing_min_cells=genes_failing,
        n_mt_genes=n_mt,
        n_highly_variable=int(adata.var["highly_variable"].sum()),
        steps=steps,
    )
    adata.uns[UNS_KEY] = {"params": params, "summary": summary.to_dict(), "qc_before": qc_before}
    return adata if copy else summary


def _highly_variable_genes(adata: AnnData, n_top_genes: int, batch_key: str | None, subset: bool) -> None:
    """Scanpy's seurat_v3 ranking on ``layers["counts"]``; clear errors for a missing scikit-misc and too few genes."""
    try:
        import skmisc.loess  # noqa: F401  (seurat_v3 fits a loess from scikit-misc)
    except ImportError as error:
        raise ImportError(
            "Highly variable genes with flavor='seurat_v3' need scikit-misc: pip install scikit-misc"
        ) from error
    groups = (
        [np.ones(adata.n_obs, dtype=bool)]
        if batch_key is None
        else [(adata.obs[batch_key] == batch).to_numpy() for batch in adata.obs[batch_key].unique()]
    )
    counts = adata.layers["counts"]
    fewest = min(_n_varying_genes(counts[group]) for group in groups)
    where = "" if batch_key is None else " in one of the batches"
    if fewest < MIN_VARYING_GENES:
        raise ValueError(
            f"Only {fewest} genes vary across the cells{where}; highly variable genes (seurat_v3) need at least "
            f"{MIN_VARYING_GENES}. Use more genes or cells (or min_cells=None to keep rarely detected genes)."
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expects raw count data.*")
        try:
            sc.pp.highly_variable_genes(
                adata, flavor="seurat_v3", n_top_genes=n_top_genes, layer="counts", batch_key=batch_key, subset=subset
            )
        except ValueError as error:  # scikit-misc's loess: b'svddc failed in l2fit.' and the like
            raise ValueError(
                f"Highly variable genes (seurat_v3's loess fit of variance on mean) failed on {adata.n_vars} genes of "
                f"{adata.n_obs} cells{where} ({error}); use more cells or genes."
            ) from error


def _n_varying_genes(counts) -> int:
    """Genes whose counts are not the same in every cell (dense or sparse ``counts``)."""
    high, low = counts.max(axis=0), counts.min(axis=0)
    if sp.issparse(high):
        high, low = high.toarray(), low.toarray()
    return int(np.count_nonzero(np.ravel(high) != np.ravel(low)))
