import numpy as np
import pytest
import scipy.sparse as sp

import celltyper as ct


@pytest.mark.parametrize(
    ("loader", "shape", "n_types"),
    [(ct.datasets.kang_ifnb, (1975, 6998), 7), (ct.datasets.zheng_sorted, (2140, 8859), 9)],
)
def test_bundled_data_are_raw_counts_with_labels(loader, shape, n_types):
    adata = loader()
    assert adata.shape == shape
    assert adata.obs["cell_type"].nunique() == n_types
    counts = adata.layers["counts"]
    assert sp.issparse(counts)
    assert np.all(counts.data >= 0)
    assert np.all(counts.data == np.round(counts.data))
    assert (counts != adata.X).nnz == 0
    assert np.asarray(counts.sum(1)).min() > 0


def test_kang_has_both_conditions():
    adata = ct.datasets.kang_ifnb()
    assert adata.obs["condition"].value_counts().to_dict() == {"stimulated": 1039, "control": 936}


def test_simulate_is_reproducible_and_follows_proportions():
    a = ct.datasets.simulate(3000, 200, n_types=3, n_batches=2, type_proportions=[0.7, 0.2, 0.1], seed=1)
    b = ct.datasets.simulate(3000, 200, n_types=3, n_batches=2, type_proportions=[0.7, 0.2, 0.1], seed=1)
    c = ct.datasets.simulate(3000, 200, n_types=3, n_batches=2, type_proportions=[0.7, 0.2, 0.1], seed=2)
    assert a.shape == (3000, 200)
    assert (a.X != b.X).nnz == 0
    assert (a.X != c.X).nnz > 0
    fractions = a.obs["cell_type"].value_counts(normalize=True)
    assert fractions["type_0"] == pytest.approx(0.7, abs=0.03)
    assert fractions["type_2"] == pytest.approx(0.1, abs=0.03)
    assert set(a.obs["batch"].cat.categories) == {"batch_0", "batch_1"}
    assert np.all(a.X.data == np.round(a.X.data))


def test_simulated_cell_types_differ_in_their_programs():
    adata = ct.datasets.simulate(2000, 300, n_types=2, n_batches=1, seed=0)
    genes = adata.var["program"] == "type_0"
    X = adata.X.toarray() / adata.X.sum(1).A
    is_type0 = (adata.obs["cell_type"] == "type_0").to_numpy()
    assert X[is_type0][:, genes].mean() > 1.5 * X[~is_type0][:, genes].mean()


@pytest.mark.parametrize(
    "kwargs",
    [{"n_cells": 0}, {"type_proportions": [1.0, 2.0]}, {"type_proportions": [-1, 1, 1, 1, 1]}],
)
def test_simulate_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="must"):
        ct.datasets.simulate(**{"n_genes": 50, **kwargs})
