from __future__ import annotations

import json

import anndata as ad
import pandas as pd
import pytest

import celltyper as ct
from celltyper.cli import load_config, main


@pytest.fixture(scope="module")
def counts_file(tmp_path_factory):
    """300 simulated cells of 3 types × 200 genes, raw counts in X and layers["counts"]."""
    adata = ct.datasets.simulate(n_cells=300, n_genes=200, n_types=3, n_batches=2, seed=1)
    path = tmp_path_factory.mktemp("data") / "sim.h5ad"
    adata.write_h5ad(path)
    return path


def _error(capsys) -> str:
    return capsys.readouterr().err


def test_config_files_in_the_repository_load():
    for name, command in [("prepare", "prepare"), ("train_vae", "train"), ("train_transformer", "train")]:
        assert load_config(command, f"configs/{name}.yaml")["out"]
    demo = load_config("demo", "configs/demo.yaml", {"vae.max_epochs": 3})
    assert demo["vae"]["max_epochs"] == 3 and demo["prepare"]["subset_hvg"] is True
    assert demo["vae"]["model_kwargs"]["gene_likelihood"] == "zinb"  # the file's value survives the flag


def test_clear_errors(tmp_path, counts_file, capsys):
    assert main(["train", "--model", "cnn"]) == 2
    assert "model='cnn' is not allowed; choose one of ['vae', 'transformer']" in _error(capsys)
    assert main(["prepare", "--input", str(tmp_path / "missing.h5ad")]) == 2
    assert "missing.h5ad does not exist" in _error(capsys)
    assert main(["prepare", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml does not exist" in _error(capsys)
    (tmp_path / "bad.yaml").write_text("min_gene: 3\n")
    assert main(["prepare", "--config", str(tmp_path / "bad.yaml")]) == 2
    assert "unknown key 'min_gene'" in _error(capsys)
    assert main(["prepare", "--input", str(counts_file), "--min-genes", "many"]) == 2
    assert "min_genes must be a number" in _error(capsys)
    assert main(["train", "--input", str(counts_file), "--labels-key", "celltype"]) == 2
    assert "labels_key='celltype' is not a column of adata.obs" in _error(capsys)
    assert main(["train", "--input", str(counts_file), "--set", "model_kwargs.n_token=3"]) == 2
    assert "model_kwargs has unknown keys ['n_token']" in _error(capsys)
    assert main(["annotate", "--model", str(tmp_path), "--input", str(counts_file)]) == 2
    assert "is not a saved model folder" in _error(capsys)


def test_prepare_command(tmp_path, counts_file):
    out = tmp_path / "prep"
    assert main(["prepare", "--input", str(counts_file), "--out", str(out), "--min-genes", "20", "--umap", "false",
                 "--n-top-genes", "100", "--batch-key", "batch"]) == 0  # fmt: skip
    prepared = ad.read_h5ad(out / "prepared.h5ad")
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["n_cells_after"] == prepared.n_obs and prepared.var["highly_variable"].sum() == 100
    assert "counts" in prepared.layers and "X_pca" in prepared.obsm
    assert (out / "figures" / "qc_violin.png").stat().st_size > 1000


def test_train_transformer_then_annotate(tmp_path, counts_file):
    out = tmp_path / "transformer"
    small = "model_kwargs={n_tokens: 16, d_model: 16, n_layers: 1}"
    args = ["train", "--input", str(counts_file), "--out", str(out), "--max-epochs", "2", "--set", small]
    assert main([*args, "--train-kwargs", "{enable_progress_bar: false}"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == 60 and 0 <= metrics["test"]["accuracy"] <= 1
    assert set(metrics["test"]["per_class_f1"]) == {"type_0", "type_1", "type_2"}
    for figure in ("training_curves", "confusion_matrix", "f1_per_class"):
        assert (out / "figures" / f"{figure}.png").exists()
    assert len(list((out / "figures" / "importance").glob("*.png"))) >= 1

    annotated = tmp_path / "annotated"
    assert main(["annotate", "--model", str(out / "model"), "--input", str(counts_file), "--out", str(annotated),
                 "--labels-key", "cell_type", "--unknown-threshold", "0.999", "--embed", "false"]) == 0  # fmt: skip
    table = pd.read_csv(annotated / "predictions.csv", index_col=0)
    result = ad.read_h5ad(annotated / "annotated.h5ad")
    assert len(table) == result.n_obs == 300
    assert {"celltyper_prediction", "celltyper_confidence", "p_type_0"} <= set(table.columns)
    low = table["celltyper_confidence"] < 0.999
    assert (table.loc[low, "celltyper_prediction"] == "Unknown").all()
    assert (table["p_type_0"] + table["p_type_1"] + table["p_type_2"]).round(4).eq(1).all()
    assert json.loads((annotated / "metrics.json").read_text())["n_cells"] == 300


def test_train_vae(tmp_path, counts_file):
    out = tmp_path / "vae"
    assert main(["train", "--model", "vae", "--input", str(counts_file), "--out", str(out), "--batch-key", "batch",
                 "--max-epochs", "2", "--umap", "false", "--set", "model_kwargs.n_hidden=16",
                 "--set", "train_kwargs.enable_progress_bar=false"]) == 0  # fmt: skip
    embedded = ad.read_h5ad(out / "embedded.h5ad")
    assert embedded.obsm["X_celltyper"].shape == (300, 10)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["latent"]["knn_accuracy"] <= 1 and "elbo_validation" in metrics["history"]
    assert (out / "model" / "model.json").exists() and (out / "figures" / "training_curves.png").exists()
