"""celltyper transfer / annotate (with an annotator) / models: outputs, input formats, and the Python answers."""

from __future__ import annotations

import gzip

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

import celltyper as ct
from celltyper.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A labelled reference (counts in layers["counts"], log values in X) and a query (counts in X), as h5ad."""
    adata = ct.datasets.simulate(n_cells=500, n_genes=200, n_types=3, n_batches=2, seed=4)
    folder = tmp_path_factory.mktemp("data")
    reference = adata[adata.obs["batch"] == "batch_0"].copy()
    reference.X = np.log1p(reference.layers["counts"])  # X is not counts: the layer "counts" is found
    query = adata[adata.obs["batch"] == "batch_1"].copy()
    del query.layers["counts"]
    reference.write_h5ad(folder / "reference.h5ad")
    query.write_h5ad(folder / "query.h5ad")
    return folder, query


def _write_mtx(adata: ad.AnnData, folder) -> None:
    """A 10x Cell Ranger v3 matrix folder (genes × cells, gzipped) of ``adata``'s counts."""
    folder.mkdir()
    with gzip.open(folder / "matrix.mtx.gz", "wb") as handle:
        scipy.io.mmwrite(handle, sp.csr_matrix(adata.X).T.astype(np.int64))
    pd.Series(adata.obs_names).to_csv(folder / "barcodes.tsv.gz", index=False, header=False, compression="gzip")
    features = pd.DataFrame({"id": adata.var_names, "name": adata.var_names, "type": "Gene Expression"})
    features.to_csv(folder / "features.tsv.gz", sep="\t", index=False, header=False, compression="gzip")


def test_transfer_then_annotate_with_the_saved_annotator(files, tmp_path):
    folder, query = files
    out = tmp_path / "transfer"
    args = ["transfer", "--reference", str(folder / "reference.h5ad"), "--query", str(folder / "query.h5ad")]
    args += ["--out", str(out), "--latent", "false", "--query-labels-key", "cell_type", "--majority-voting"]
    assert main(args) == 0

    for name in ("annotated.h5ad", "predictions.csv", "report.md", "metrics.json", "annotator/annotator.json"):
        assert (out / name).is_file(), name
    for figure in ("umap_predictions", "confidence_per_type", "confusion_matrix"):
        assert (out / "figures" / f"{figure}.png").is_file(), figure
    annotated = ad.read_h5ad(out / "annotated.h5ad")
    assert annotated.X.shape == query.X.shape and (annotated.X != query.X).nnz == 0  # the query's data untouched
    truth = annotated.obs["cell_type"].astype(str)
    assert (annotated.obs["celltyper_prediction"].astype(str) == truth).mean() > 0.9
    table = pd.read_csv(out / "predictions.csv", index_col=0)
    assert {"celltyper_confidence", "celltyper_novelty", "celltyper_majority_voting"} <= set(table.columns)

    # The saved annotator, from the command line and from Python, on a 10x .mtx folder of the same cells.
    _write_mtx(query, tmp_path / "mtx")
    again = tmp_path / "annotate"
    assert (
        main(["annotate", "--model", str(out / "annotator"), "--input", str(tmp_path / "mtx"), "--out", str(again)])
        == 0
    )
    from_cli = ad.read_h5ad(again / "annotated.h5ad").obs["celltyper_prediction"].astype(str)
    in_python = query.copy()
    ct.tl.annotate(in_python, out / "annotator", progress_bar=False)
    np.testing.assert_array_equal(from_cli.to_numpy(), in_python.obs["celltyper_prediction"].astype(str).to_numpy())
    np.testing.assert_array_equal(from_cli.to_numpy(), annotated.obs["celltyper_prediction"].astype(str).to_numpy())


def test_annotate_streams_an_h5ad(files, tmp_path):
    folder, query = files
    annotator = ct.Annotator.from_reference(
        ad.read_h5ad(folder / "reference.h5ad"), "cell_type", layer="counts", latent=False, progress_bar=False
    )
    annotator.save(tmp_path / "annotator")
    out = tmp_path / "stream"
    args = ["annotate", "--model", str(tmp_path / "annotator"), "--input", str(folder / "query.h5ad")]
    assert main([*args, "--out", str(out), "--stream", "true"]) == 0
    assert len(pd.read_csv(out / "predictions.csv")) == query.n_obs


def test_models_lists_the_built_in_annotators(capsys):
    assert main(["models"]) == 0
    assert capsys.readouterr().out.split() == ct.models.available()


def test_clear_errors(files, tmp_path, capsys):
    folder, _ = files
    assert (
        main(["annotate", "--model", "no_such_model", "--input", str(folder / "query.h5ad"), "--out", str(tmp_path)])
        == 2
    )
    assert "neither a folder holding a saved annotator nor a built-in model" in capsys.readouterr().err
    assert main(["transfer", "--reference", str(folder / "reference.h5ad"), "--out", str(tmp_path)]) == 2
    assert "No query given: pass --query" in capsys.readouterr().err
    text = tmp_path / "cells.txt"
    text.write_text("not cells")
    args = ["transfer", "--reference", str(folder / "reference.h5ad"), "--query", str(text), "--out", str(tmp_path)]
    assert main(args) == 2
    assert "is not an .h5ad file, a 10x .h5 file or a 10x .mtx folder" in capsys.readouterr().err


def test_annotate_with_a_transformer_and_vae_reads_a_query_with_other_genes(tmp_path):
    """The models' genes are read from a query with other genes (more, fewer, another order): missing ones as zeros."""
    adata = ct.datasets.simulate(n_cells=300, n_genes=120, n_types=3, n_batches=2, seed=6)
    train_file = tmp_path / "train.h5ad"
    adata.write_h5ad(train_file)
    quiet = ["--set", "train_kwargs.enable_progress_bar=false", "--max-epochs", "1"]
    small = "model_kwargs={n_tokens: 16, d_model: 16, n_layers: 1}"
    assert main(["train", "--input", str(train_file), "--out", str(tmp_path / "tf"), "--set", small, *quiet]) == 0
    args = ["train", "--model", "vae", "--input", str(train_file), "--out", str(tmp_path / "vae"), "--umap", "false"]
    assert main([*args, "--batch-key", "batch", "--set", "model_kwargs.n_hidden=16", *quiet]) == 0

    extra = ad.AnnData(
        X=sp.csr_matrix(np.ones((adata.n_obs, 30), dtype=np.float32)),
        obs=adata.obs,
        var=pd.DataFrame(index=[f"extra_{i}" for i in range(30)]),
    )
    extra.layers["counts"] = extra.X.copy()
    query = ad.concat([adata[:, 5:], extra], axis=1, merge="first")[:, ::-1].copy()  # lacks 5 of the models' genes
    query.obs = adata.obs.copy()
    query.write_h5ad(tmp_path / "query.h5ad")
    out = tmp_path / "annotated"
    args = ["annotate", "--model", str(tmp_path / "tf" / "model"), "--vae", str(tmp_path / "vae" / "model")]
    assert main([*args, "--input", str(tmp_path / "query.h5ad"), "--out", str(out)]) == 0
    assert ad.read_h5ad(out / "annotated.h5ad").obsm["X_celltyper"].shape == (adata.n_obs, 10)
