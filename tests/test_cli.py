from __future__ import annotations

import json
import shutil

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import celltyper as ct
from celltyper.cli import DEFAULTS, load_config, main
from celltyper.cli._config import NULLABLE


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
    assert "holds no saved annotator" in _error(capsys)


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
    again = tmp_path / "vae_no_copy"
    assert main(["train", "--model", "vae", "--input", str(counts_file), "--out", str(again), "--max-epochs", "1",
                 "--umap", "false", "--write-embedded", "false", "--set", "model_kwargs.n_hidden=16",
                 "--set", "train_kwargs.enable_progress_bar=false"]) == 0  # fmt: skip
    assert (again / "model" / "model.json").exists() and not (again / "embedded.h5ad").exists()


def test_prepared_outputs_of_in_memory_data_are_only_the_prepared_copy(tmp_path):
    """The demo prepares bundled data in memory: it is written once, prepared; no UMAP figure without a UMAP."""
    from celltyper.cli._outputs import write_prepared

    adata = ct.datasets.simulate(n_cells=100, n_genes=80, n_types=2, seed=0)
    summary = ct.pp.prepare(adata, min_genes=5, umap=False, n_top_genes=40)
    written = write_prepared(adata, summary, tmp_path, ["cell_type"])
    assert sorted(p.name for p in tmp_path.rglob("*.h5ad")) == ["prepared.h5ad"]
    assert ad.read_h5ad(written["prepared"]).n_obs == adata.n_obs
    assert json.loads(written["summary"].read_text())["n_cells_after"] == adata.n_obs
    assert "umap" not in written and written["qc_violin"].stat().st_size > 1000


def test_train_checkpoints_and_resume(tmp_path, counts_file):
    out = tmp_path / "vae"
    args = ["train", "--model", "vae", "--input", str(counts_file), "--out", str(out), "--max-epochs", "2",
            "--umap", "false", "--set", "model_kwargs.n_hidden=16",
            "--set", "train_kwargs.enable_progress_bar=false"]  # fmt: skip
    assert main([*args, "--checkpoint-every", "1"]) == 0
    assert {entry.name for entry in (out / "checkpoint").iterdir()} == {"checkpoint.json", "checkpoint.safetensors"}
    assert main([*args, "--resume"]) == 0  # the checkpoint of the last epoch: nothing left to train, same result
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert "elbo_validation" in history


def _flat(defaults: dict, prefix: str = ""):
    """(dotted key, default) of every key a config may set, nested sections included."""
    for key, default in defaults.items():
        if isinstance(default, dict) and default:
            yield from _flat(default, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", default


def _wrong_value(key: str, default) -> str:
    """A value of the wrong type for ``key`` (as a flag's text)."""
    kind = NULLABLE[key.rsplit(".", 1)[-1]] if default is None else type(default).__name__
    return {"bool": "maybe", "int": "high", "float": "high", "whole number": "high", "number": "high"}.get(kind, "3")


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def _cells(counts_file, tmp_path, n: int):
    path = tmp_path / f"cells{n}.h5ad"
    ad.read_h5ad(counts_file)[:n].copy().write_h5ad(path)
    return path


def _damaged_model(saved, tmp_path, damage: str):
    folder = tmp_path / "damaged"
    shutil.copytree(saved, folder)
    if damage == "random json":
        _random_bytes(folder / "model.json")
    elif damage == "truncated weights":
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "old pickle":
        (folder / "model.json").unlink()
        (folder / "model.pt").write_bytes(b"junk")
    elif damage == "impossible settings":
        manifest = json.loads((folder / "model.json").read_text())
        manifest["attributes"]["init_params_"]["non_kwargs"]["n_tokens"] = "many"
        (folder / "model.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def saved_transformer(tmp_path_factory, counts_file):
    adata = ad.read_h5ad(counts_file)
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type", layer="counts")
    model = ct.CellTypeTransformer(adata, n_genes=50, n_tokens=8, d_model=16, n_layers=1)
    model.train(max_epochs=1, enable_progress_bar=False, accelerator="cpu")
    path = tmp_path_factory.mktemp("models") / "transformer"
    model.save(path, save_anndata=True)
    return path


def _annotate(model, data, out):
    return ["annotate", "--model", str(model), "--input", str(data), "--out", str(out)]


def _wrong_config(command: str, key: str, default):
    return lambda t, c, m: [command, "--set", f"{key}={_wrong_value(key, default)}"]


def _damaged_checkpoint_out(tmp_path):
    """An output folder whose checkpoint holds a truncated checkpoint.json."""
    (tmp_path / "o" / "checkpoint").mkdir(parents=True)
    _text(tmp_path / "o" / "checkpoint" / "checkpoint.json", "{")
    return tmp_path / "o"


def _text(path, text: str):
    path.write_text(text)
    return path


#: (case, command line from (tmp_path, counts_file, saved model), exit status, text of the error line or of stdout)
_CASES = [
    ("random bytes", lambda t, c, m: _annotate(m, _random_bytes(t / "x.h5ad"), t / "o"), 2, "not a readable h5ad"),
    ("empty file", lambda t, c, m: ["prepare", "--input", str(_text(t / "x.h5ad", "")), "--out", str(t / "o")], 2,
     "not a readable h5ad"),
    ("train on random bytes", lambda t, c, m: ["train", "--input", str(_random_bytes(t / "x.h5ad"))], 2,
     "not a readable h5ad"),
    ("0 cells", lambda t, c, m: _annotate(m, _cells(c, t, 0), t / "o"), 2, "has no cells to annotate"),
    *[(f"{n} cells", lambda t, c, m, n=n: _annotate(m, _cells(c, t, n), t / "o"), 0, f"no UMAP: {n} cells")
      for n in (1, 2, 3)],
    ("prepare 1 cell", lambda t, c, m: ["prepare", "--input", str(_cells(c, t, 1)), "--out", str(t / "o")], 2,
     "needs at least 2 cells"),
    ("train 5 cells", lambda t, c, m: ["train", "--input", str(_cells(c, t, 5)), "--out", str(t / "o")], 2,
     "train needs at least 50"),
    ("out under a file", lambda t, c, m: _annotate(m, c, _random_bytes(t / "file") / "out"), 2,
     "is a file, not a folder"),
    *[(f"model: {damage}", lambda t, c, m, d=damage: _annotate(_damaged_model(m, t, d), c, t / "o"), 2, message)
      for damage, message in [("random json", "model.json is not valid JSON"),
                              ("truncated weights", "does not match the checksum"),
                              ("old pickle", "convert_legacy_model"),
                              ("impossible settings", "does not describe a CellTypeTransformer")]],
    *[(f"{command} {key}", _wrong_config(command, key, default), 2, key)
      for command, defaults in DEFAULTS.items() for key, default in _flat(defaults)],
    ("input is a folder", lambda t, c, m: _annotate(m, t, t / "o"), 2, "is a folder; pass an .h5ad file"),
    ("0 epochs", lambda t, c, m: ["train", "--max-epochs", "0"], 2, "max_epochs must be at least 1, not 0"),
    ("resume without checkpoint", lambda t, c, m: ["train", "--input", str(c), "--out", str(t / "o"), "--resume"], 2,
     "holds no checkpoint"),
    ("resume a damaged checkpoint", lambda t, c, m: ["train", "--input", str(c), "--out",
                                                     str(_damaged_checkpoint_out(t)), "--resume"], 2,
     "checkpoint.json is not valid JSON"),
    ("demo batch of 0", lambda t, c, m: ["demo", "--set", "vae.batch_size=0"], 2, "vae.batch_size must be at least 1"),
    ("config file", lambda t, c, m: ["annotate", "--config", str(_text(t / "c.yaml", "unknown_threshold: high"))], 2,
     "unknown_threshold must be a number"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "status", "expected"), [case[1:] for case in _CASES], ids=[c[0] for c in _CASES])
def test_every_failure_is_exit_status_2_and_one_line(args, status, expected, tmp_path, counts_file, saved_transformer,
                                                     capsys):  # fmt: skip
    assert main(args(tmp_path, counts_file, saved_transformer)) == status
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": error: " in line]
    if status == 2:
        assert len(errors) == 1 and errors[0].startswith("celltyper ") and expected in errors[0], err
    else:
        assert not errors and expected in out
