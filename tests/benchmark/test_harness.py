"""The benchmark harness: tasks are built without touching the data, methods are scored, outputs are written."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest

import celltyper as ct
from celltyper import benchmark
from celltyper.cli import load_config, main


@pytest.fixture
def kang_task(kang_small):
    query = (kang_small.obs["condition"] == "stimulated").to_numpy()
    return benchmark.make_task("kang/ctrl_to_stim", kang_small, query, "cell_type", "condition", "Kang", 300)


def test_make_task_selects_genes_on_the_reference_and_copies(kang_small):
    before = kang_small.X.copy()
    query = (kang_small.obs["condition"] == "stimulated").to_numpy()
    task = benchmark.make_task("kang/x", kang_small, query, "cell_type", "condition", "Kang", 300)
    assert task.adata.n_vars == 300 and task.adata.n_obs == kang_small.n_obs
    assert task.classifies and task.reference.n_obs == (~query).sum() and task.query.n_obs == query.sum()
    assert (kang_small.X != before).nnz == 0 and kang_small.n_vars == 500  # the caller's AnnData is untouched
    with pytest.raises(ValueError, match="every cell is a query cell"):
        benchmark.make_task("kang/x", kang_small, np.ones(kang_small.n_obs, bool), "cell_type", None, "", 300)
    with pytest.raises(KeyError, match="'donor' is not a column"):
        benchmark.make_task("kang/x", kang_small, query, "cell_type", "donor", "", 300)


def test_task_from_config_errors(tmp_path, kang_small):
    path = tmp_path / "kang.h5ad"
    kang_small.write_h5ad(path)
    task = benchmark.task_from_config("kang", {"path": str(path), "labels_key": "cell_type"}, n_top_genes=200)
    assert task.is_query.mean() == pytest.approx(0.2, abs=0.01) and task.batch_key is None
    entry = {"path": str(path), "labels_key": "cell_type", "query_key": "condition", "query_values": ["stimulated"]}
    task = benchmark.task_from_config("kang", entry, n_top_genes=200)
    assert task.is_query.sum() == (kang_small.obs["condition"] == "stimulated").sum()
    with pytest.raises(FileNotFoundError, match="no file at"):
        benchmark.task_from_config("x", {"path": str(tmp_path / "missing.h5ad"), "labels_key": "cell_type"})
    with pytest.raises(KeyError, match="unknown keys \\['label'\\]"):
        benchmark.task_from_config("x", {"path": str(path), "label": "cell_type"})
    with pytest.raises(ValueError, match="needs query_values"):
        benchmark.task_from_config("x", {"path": str(path), "labels_key": "cell_type", "query_key": "condition"})
    with pytest.raises(ValueError, match="give labels_key, batch_key or both"):
        benchmark.task_from_config("x", {"path": str(path)})


def test_integration_scores_rank_a_label_preserving_latent_above_noise(kang_task):
    pytest.importorskip("scib_metrics", reason='scib-metrics comes with pip install "celltyper[benchmark]"')
    from celltyper.benchmark._integration import integration_scores

    rng = np.random.default_rng(0)
    codes = kang_task.adata.obs["cell_type"].cat.codes.to_numpy()
    informative = np.eye(codes.max() + 1)[codes] * 3 + rng.normal(size=(kang_task.adata.n_obs, codes.max() + 1))
    noise = rng.normal(size=informative.shape)
    scores = integration_scores(kang_task, {"informative": informative, "noise": noise})
    assert scores.loc["informative", "scib_bio_conservation"] > scores.loc["noise", "scib_bio_conservation"] + 0.2
    assert {"scib_batch_correction", "scib_total"} <= set(scores.columns)


def test_scoring_without_scib_metrics_fails_before_training_and_names_the_extra(kang_task, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "scib_metrics", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "celltyper.benchmark._integration", raising=False)
    with pytest.raises(ImportError, match=re.escape('pip install "celltyper[benchmark]"')):
        benchmark.run_benchmark([kang_task], tmp_path, methods=["logreg"], scib=True, progress=False)
    assert not (tmp_path / "results.json").exists()


def test_run_benchmark_scores_methods_and_writes_outputs(kang_task, tmp_path):
    budget = benchmark.Budget(max_epochs=2, query_epochs=1)
    rows = benchmark.run_benchmark(
        [kang_task], tmp_path, methods=["logreg", "countvae_nb"], budget=budget, umap=False, scib=False, progress=False
    )
    by_method = {row["method"]: row for row in rows}
    truth = kang_task.adata.obs["cell_type"][kang_task.is_query]
    majority_f1 = 1 / truth.nunique()  # macro-F1 of always predicting one class is at most this
    assert by_method["logreg"]["macro_f1"] > 0.5 > majority_f1
    assert 0 <= by_method["countvae_nb"]["macro_f1"] <= 1 and by_method["countvae_nb"]["epochs"] == 2
    assert by_method["logreg"]["n_query"] == kang_task.is_query.sum() and by_method["logreg"]["peak_rss_gib"] > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["method"] for r in saved["rows"]] == ["logreg", "countvae_nb"] and saved["settings"]["max_epochs"] == 2
    assert (tmp_path / "confusion_kang_ctrl_to_stim_logreg.png").is_file()
    assert (tmp_path / "curves_kang_ctrl_to_stim_countvae_nb.png").is_file() and (tmp_path / "summary.png").is_file()
    assert "| logreg |" in (tmp_path / "report.md").read_text().replace("**", "")
    page = benchmark.write_docs_page(tmp_path, tmp_path / "page.md")
    assert "macro_f1: celltyper's best, `countvae_nb`" in page.read_text()


def test_unknown_method_is_an_error(kang_task, tmp_path):
    with pytest.raises(ValueError, match="Unknown methods \\['svm'\\]"):
        benchmark.run_benchmark([kang_task], tmp_path, methods=["svm"])


def test_cli_benchmark(tmp_path, capsys):
    assert load_config("benchmark", "configs/benchmark.yaml")["h5ad"] == {}
    assert main(["benchmark", "--quick", "--methods", "transformerx"]) == 2
    assert "Unknown methods ['transformerx']" in capsys.readouterr().err
    out, scale = tmp_path / "bench", tmp_path / "scale"
    scale.mkdir()
    scale_row = {"method": "annotate_countvae", "n_cells": 1000, "seconds": 0.5, "cells_per_s": 2000, "peak_rss_gib": 1}
    (scale / "scale.json").write_text(
        json.dumps({"rows": [scale_row], "exponents": {}, "machine": "m", "command": "python benchmarks/scale.py"})
    )
    code = main(
        ["benchmark", "--quick", "--methods", "logreg", "--tasks", "zheng_sorted/holdout_20", "--out", str(out)]
        + ["--umap", "false", "--scib", "false", "--docs-page", str(tmp_path / "benchmarks.md")]
        + ["--scale-results", str(scale)]
    )
    assert code == 0
    rows = pd.DataFrame(json.loads((out / "results.json").read_text())["rows"])
    assert rows["task"].tolist() == ["zheng_sorted/holdout_20"] and rows["macro_f1"].iloc[0] > 0.6
    page = (tmp_path / "benchmarks.md").read_text()
    assert "## zheng_sorted/holdout_20" in page
    assert "| `annotate_countvae` | 1,000 | 0.5 | 2,000 | 1.00 |" in page
    assert ct.datasets.zheng_sorted().n_obs == rows["n_reference"].iloc[0] + rows["n_query"].iloc[0]
