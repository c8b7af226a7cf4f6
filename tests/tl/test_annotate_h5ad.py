"""Streaming annotation of an h5ad file: same answers as in memory, one chunk at a time, the file left as it was."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import celltyper as ct

SMALL = {"n_genes": 100, "n_tokens": 16, "d_model": 16, "n_layers": 1}


@pytest.fixture(scope="module")
def model_and_query(tmp_path_factory):
    """A small transformer trained on simulated cells, and a query file (raw counts in X, genes shuffled)."""
    reference = ct.datasets.simulate(n_cells=400, n_genes=150, n_types=3, seed=0)
    ct.CellTypeTransformer.setup_anndata(reference, labels_key="cell_type", layer="counts")
    model = ct.CellTypeTransformer(reference, **SMALL)
    model.train(max_epochs=3, enable_progress_bar=False)
    query = ct.datasets.simulate(n_cells=250, n_genes=150, n_types=3, seed=0)[:, ::-1].copy()
    path = tmp_path_factory.mktemp("query") / "query.h5ad"
    query.write_h5ad(path)
    return model, query, path


def test_same_predictions_as_in_memory_one_chunk_at_a_time(model_and_query, tmp_path, monkeypatch):
    model, query, path = model_and_query
    chunk_sizes = []
    predict = model.predict

    def recording_predict(adata, **kwargs):
        chunk_sizes.append(adata.n_obs)
        return predict(adata, **kwargs)

    monkeypatch.setattr(model, "predict", recording_predict)
    table = ct.tl.annotate_h5ad(
        model, path, annotated=tmp_path / "annotated.h5ad", predictions=tmp_path / "p.csv", chunk_size=60
    )
    assert chunk_sizes == [60, 60, 60, 60, 10]
    expected = predict(query, soft=True)
    np.testing.assert_allclose(table[[f"p_{c}" for c in expected.columns]].to_numpy(), expected.to_numpy(), atol=1e-5)
    assert (table["celltyper_prediction"].astype(str).to_numpy() == expected.idxmax(axis=1).to_numpy()).all()
    assert table.index.equals(query.obs_names)

    written = pd.read_csv(tmp_path / "p.csv", index_col=0)
    np.testing.assert_allclose(written["celltyper_confidence"], table["celltyper_confidence"], rtol=1e-6)
    annotated = ad.read_h5ad(tmp_path / "annotated.h5ad")
    assert (annotated.obs["celltyper_prediction"] == table["celltyper_prediction"]).all()
    categories = annotated.obs["celltyper_prediction"].cat.categories
    assert set(categories) == set(table["celltyper_prediction"]) and "Unknown" not in categories  # none left unused
    assert (annotated.obs["cell_type"] == query.obs["cell_type"]).all()
    assert (annotated.layers["counts"] != query.layers["counts"]).nnz == 0
    assert "celltyper_prediction" not in ad.read_h5ad(path).obs  # the input file is untouched


def test_unknown_threshold_and_bad_arguments(model_and_query):
    model, _, path = model_and_query
    table = ct.tl.annotate_h5ad(model, path, unknown_threshold=0.9, chunk_size=100)
    unsure = table["celltyper_confidence"] < 0.9
    assert (table.loc[unsure, "celltyper_prediction"] == "Unknown").all()
    assert (table.loc[~unsure, "celltyper_prediction"] != "Unknown").all()
    assert unsure.any() and "Unknown" in table["celltyper_prediction"].cat.categories
    with pytest.raises(ValueError, match=r"unknown_threshold must be in \[0, 1\)"):
        ct.tl.annotate_h5ad(model, path, unknown_threshold=1.5)
    with pytest.raises(ValueError, match="positive number of cells"):
        ct.tl.annotate_h5ad(model, path, chunk_size=0)


def test_missing_layer_is_a_clear_error(model_and_query, tmp_path):
    model, query, _ = model_and_query
    no_layer = tmp_path / "x_only.h5ad"
    ad.AnnData(X=query.layers["counts"], obs=query.obs, var=query.var).write_h5ad(no_layer)
    with pytest.raises(KeyError, match="has no layers/counts"):
        ct.tl.annotate_h5ad(model, no_layer)


@pytest.mark.filterwarnings("error:The given NumPy array is not writable")  # torch warns once, then silently
def test_semisupervised_countvae_streams_and_forgets_the_chunks(tmp_path):
    from celltyper.model import SemiSupervisedCountVAE

    reference = ct.datasets.simulate(n_cells=300, n_genes=100, n_types=3, seed=2)
    SemiSupervisedCountVAE.setup_anndata(reference, labels_key="cell_type", layer="counts", batch_key="batch")
    model = SemiSupervisedCountVAE(reference, n_hidden=16)
    model.train(max_epochs=2, enable_progress_bar=False)
    path = tmp_path / "query.h5ad"
    reference.write_h5ad(path)
    managers = len(model._per_instance_manager_store[model.id])
    table = ct.tl.annotate_h5ad(model, path, chunk_size=70)
    expected = model.predict(reference.copy(), soft=True)
    np.testing.assert_allclose(table[[f"p_{c}" for c in expected.columns]].to_numpy(), expected.to_numpy(), atol=1e-5)
    assert len(model._per_instance_manager_store[model.id]) == managers + 1  # the copy above; no chunk is kept


def test_a_labels_column_of_the_query_is_not_read(tmp_path):
    """The model predicts the labels: a query's own cell_type column, with types the model never saw, is ignored."""
    from celltyper.model import SemiSupervisedCountVAE

    reference = ct.datasets.simulate(n_cells=300, n_genes=100, n_types=3, seed=3)
    SemiSupervisedCountVAE.setup_anndata(reference, labels_key="cell_type", layer="counts", batch_key="batch")
    model = SemiSupervisedCountVAE(reference, n_hidden=16)
    model.train(max_epochs=1, enable_progress_bar=False)
    query = reference.copy()
    query.obs["cell_type"] = "a type the model does not know"
    query.write_h5ad(tmp_path / "query.h5ad")
    table = ct.tl.annotate_h5ad(model, tmp_path / "query.h5ad", chunk_size=128)
    expected = model.predict(reference.copy(), soft=True)
    np.testing.assert_allclose(table[[f"p_{c}" for c in expected.columns]].to_numpy(), expected.to_numpy(), atol=1e-5)


@pytest.mark.parametrize("layout", ["csr", "csc", "dense"])
def test_row_chunk_reader_reads_what_slicing_reads(tmp_path, layout):
    import h5py
    import scipy.sparse as sp

    from celltyper.tl._h5ad_chunks import RowChunkReader

    X = sp.random(250, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    X[40:60] = 0  # rows without values, and a chunk of them
    X.eliminate_zeros()
    stored = {"csr": X, "csc": X.tocsc(), "dense": X.toarray()}[layout]
    ad.AnnData(X=stored).write_h5ad(tmp_path / "m.h5ad")
    chunks = [slice(start, start + 20) for start in range(0, 250, 20)]
    with h5py.File(tmp_path / "m.h5ad", "r") as f:
        reader = RowChunkReader(f["X"], chunks)
        previous = None
        for i, rows in enumerate(chunks):
            chunk = reader.read(i, rows)
            np.testing.assert_array_equal(sp.csr_matrix(chunk).toarray(), X[rows].toarray())
            if previous is not None:  # the chunk before stays valid while the next one is read
                np.testing.assert_array_equal(sp.csr_matrix(previous[1]).toarray(), X[previous[0]].toarray())
            previous = (rows, chunk)


@pytest.fixture(scope="module")
def semisupervised(tmp_path_factory):
    """A small SemiSupervisedCountVAE of two batches and its reference."""
    from celltyper.model import SemiSupervisedCountVAE

    reference = ct.datasets.simulate(n_cells=300, n_genes=100, n_types=3, seed=4)
    SemiSupervisedCountVAE.setup_anndata(reference, labels_key="cell_type", layer="counts", batch_key="batch")
    model = SemiSupervisedCountVAE(reference, n_hidden=16)
    model.train(max_epochs=1, enable_progress_bar=False)
    return model, reference


def test_predict_counts_gives_the_numbers_of_predict_and_clear_errors(semisupervised):
    model, reference = semisupervised
    counts, batch = reference.layers["counts"], reference.obs["batch"]
    expected = model.predict(reference.copy(), soft=True)
    probabilities = model.predict_counts(counts, batch, soft=True, batch_size=64)
    np.testing.assert_allclose(probabilities.to_numpy(), expected.to_numpy(), atol=1e-5)
    assert list(probabilities.columns) == list(expected.columns)
    labels = model.predict_counts(counts.toarray(), batch.astype(str).to_numpy())
    assert (labels == expected.idxmax(axis=1).to_numpy()).all()
    with pytest.raises(ValueError, match="model's 100 genes"):
        model.predict_counts(counts[:, :50], batch)
    with pytest.raises(ValueError, match="pass each cell's batch"):
        model.predict_counts(counts)
    with pytest.raises(ValueError, match="not among the model's batches"):
        model.predict_counts(counts, np.where(np.arange(counts.shape[0]) < 5, "new donor", batch.astype(str)))
    with pytest.raises(ValueError, match="negative"):
        model.predict_counts(-counts.toarray(), batch)


def test_a_file_with_other_genes_is_refused_before_any_prediction(semisupervised, tmp_path):
    model, reference = semisupervised
    reference[:, ::-1].copy().write_h5ad(tmp_path / "reversed.h5ad")
    with pytest.raises(ValueError, match="not the model's 100 genes in the model's order"):
        ct.tl.annotate_h5ad(model, tmp_path / "reversed.h5ad")


def test_a_file_without_the_batch_column_is_a_clear_error(semisupervised, tmp_path):
    model, reference = semisupervised
    query = reference.copy()
    del query.obs["batch"]
    query.write_h5ad(tmp_path / "no_batch.h5ad")
    with pytest.raises(KeyError, match="no column 'batch'"):
        ct.tl.annotate_h5ad(model, tmp_path / "no_batch.h5ad")
