"""Shared fixtures: small real data from the bundled sets, so tests run from a fresh clone."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scvi

import celltyper as ct


@pytest.fixture(autouse=True)
def _seed_and_quiet():
    scvi.settings.seed = 0
    yield


def _top_variable_genes(adata: ad.AnnData, n_genes: int) -> ad.AnnData:
    X = adata.layers["counts"]
    mean = np.asarray(X.mean(0)).ravel()
    sq = np.asarray(X.multiply(X).mean(0)).ravel()
    keep = np.sort(np.argsort(sq - mean**2)[-n_genes:])
    return adata[:, keep].copy()


@pytest.fixture(scope="session")
def _kang_small() -> ad.AnnData:
    return _top_variable_genes(ct.datasets.kang_ifnb(), 500)


@pytest.fixture
def kang_small(_kang_small) -> ad.AnnData:
    """Kang IFN-β PBMC, all 1975 cells, the 500 most variable genes; a fresh copy per test."""
    return _kang_small.copy()
