import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata import AnnData

from celltyper.benchmark._pairs import PAIR_BATCH, pair_task


def _side(n: int, genes: list[str], donor: str) -> AnnData:
    counts = sp.csr_matrix(np.random.default_rng(0).poisson(2.0, (n, len(genes))).astype(np.float32))
    obs = pd.DataFrame({"cell_type": ["a", "b"] * (n // 2), "donor": donor}, index=[f"{donor}_{i}" for i in range(n)])
    adata = AnnData(X=counts, obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["counts"] = counts.copy()
    return adata


def test_pair_task_puts_the_query_in_batches_of_its_own():
    genes = [f"g{i}" for i in range(5)]
    task = pair_task("t", _side(6, genes, "d1"), _side(4, genes, "d1"), "cell_type", batch_key="donor")
    assert task.is_query.sum() == 4 and list(task.adata.var_names) == genes
    assert set(task.reference.obs[PAIR_BATCH]) == {"d1"} and set(task.query.obs[PAIR_BATCH]) == {"query:d1"}
    task = pair_task("t", _side(6, genes, "d1"), _side(4, genes, "d2"), "cell_type")
    assert set(task.query.obs[PAIR_BATCH]) == {"query"}


def test_pair_task_needs_the_same_genes():
    with pytest.raises(ValueError, match="same genes"):
        pair_task("t", _side(4, ["g1", "g2"], "d1"), _side(4, ["g2", "g1"], "d1"), "cell_type")
