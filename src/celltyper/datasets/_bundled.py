"""Small real PBMC datasets that ship inside the package (as scanpy ships ``pbmc68k_reduced``)."""

from __future__ import annotations

from importlib.resources import files

import anndata as ad
import numpy as np


def _read_bundled(filename: str) -> ad.AnnData:
    with files("celltyper.datasets").joinpath("data", filename).open("rb") as handle:
        adata = ad.read_h5ad(handle)
    adata.X = adata.X.astype(np.float32)
    adata.layers["counts"] = adata.X.copy()
    return adata


def kang_ifnb() -> ad.AnnData:
    """Kang et al. 2018: control and IFN-β-stimulated human PBMC (10x v1).

    1975 cells × 6998 genes from one lupus-donor pool, sequenced unstimulated (``control``, 936 cells) and after
    6 h of interferon-β (``stimulated``, 1039 cells). The stimulation changes the expression of hundreds of genes in
    every cell type, which makes control → stimulated a hard label-transfer task.

    Returns
    -------
    AnnData with raw UMI counts in ``X`` (float32, sparse) and a copy in ``layers["counts"]``;
    ``obs["cell_type"]`` (7 types: CD4T, FCGR3A+Mono, CD14+Mono, B, NK, CD8T, Dendritic) and ``obs["condition"]``
    (``control`` / ``stimulated``).

    Notes
    -----
    Source: the validation split of the Kang data prepared by the scGen authors (``theislab/scgen``,
    ``data/valid.h5ad``, GPL-3.0), restricted by them to 6998 highly variable genes. Its log-normalized values were
    inverted exactly to integer counts (every value integral within 1e-3). Publication: Kang HM et al.,
    *Multiplexed droplet single-cell RNA-sequencing using natural genetic variation*, Nat Biotechnol 36:89–94 (2018),
    GEO GSE96583. Rebuilt by ``scripts/make_bundled_data.py``.

    Examples
    --------
    >>> import celltyper as ct
    >>> adata = ct.datasets.kang_ifnb()
    >>> adata.obs["condition"].value_counts().to_dict()
    {'stimulated': 1039, 'control': 936}
    """
    return _read_bundled("kang2018_ifnb.h5ad")


def zheng_sorted() -> ad.AnnData:
    """Zheng et al. 2017: FACS/bead-sorted human PBMC populations (10x v1).

    2140 cells × 8859 genes, each cell labelled by the population it was sorted from — labels that come from the
    sorting, not from clustering. Nine types: ``nk`` 769, ``bcells`` 330, ``memoryt`` 252, ``regulatoryt`` 226,
    ``thelper`` 191, ``cytotoxict`` 148, ``monocytes`` 129, ``naivet`` 52, ``naivecytotoxic`` 43. The T-cell
    subsets are hard to tell apart from expression alone.

    Returns
    -------
    AnnData with raw UMI counts in ``X`` (float32, sparse) and a copy in ``layers["counts"]``; ``obs["cell_type"]``.

    Notes
    -----
    Source: ``referenceCounts`` / ``referenceAnnot`` of the MUDAN R package (``JEFworks/MUDAN``, GPL-3), a subsample of
    the 10x Genomics sorted-population datasets (CC BY 4.0). Genes detected in fewer than 20 cells are dropped.
    Publication: Zheng GXY et al., *Massively parallel digital transcriptional profiling of single cells*,
    Nat Commun 8:14049 (2017). Rebuilt by ``scripts/make_bundled_data.py``.
    """
    return _read_bundled("zheng2017_sorted.h5ad")


def zheng_donor_a() -> ad.AnnData:
    """Zheng et al. 2017: frozen PBMC of donor A (10x v1), unlabelled — cells to annotate.

    2896 cells of one donor, frozen and thawed, never sorted or labelled: what a user brings to an annotator. Genes
    detected in fewer than 10 cells are dropped.

    Returns
    -------
    AnnData with raw UMI counts in ``X`` (float32, sparse) and a copy in ``layers["counts"]``; no labels.

    Notes
    -----
    Source: ``pbmcA`` of the MUDAN R package (``JEFworks/MUDAN``, GPL-3), 10x Genomics' "Frozen PBMCs (Donor A)"
    (CC BY 4.0). Publication: Zheng GXY et al., Nat Commun 8:14049 (2017). Rebuilt by
    ``scripts/make_bundled_data.py``.
    """
    return _read_bundled("zheng2017_donor_a.h5ad")
