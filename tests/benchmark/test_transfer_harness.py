"""The scores and reports of the label-transfer and transformer benchmarks, on tiny synthetic data (no training)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata import AnnData

from celltyper.benchmark import Budget, _transfer_tasks
from celltyper.benchmark._transfer_methods import (
    TransferMethodRun,
    TransferPair,
    TransferSettings,
    run_transfer_methods,
)
from celltyper.benchmark._transfer_report import save_task_rows, write_transfer_report
from celltyper.benchmark._transfer_tasks import (
    LINEAGE_MARKERS,
    confidences,
    labelled_task,
    marker_agreement,
    marker_lineages,
    novel_type_scores,
    run_transfer_task,
)
from celltyper.benchmark._transformer_benchmark import (
    TransformerBenchmarkSettings,
    per_class_f1_lines,
    split_summary,
    zheng_seeds,
)


def _run(probabilities: list[list[float]], extra: dict | None = None) -> TransferMethodRun:
    return TransferMethodRun("m", ["a", "b"], np.asarray(probabilities), dict(extra or {}), 1.0)


def test_marker_lineages_pick_the_lineage_whose_markers_are_highest():
    genes = [g for markers in LINEAGE_MARKERS.values() for g in markers if g != "KLRF1"] + ["OTHER"]
    lineages = ["T", "B", "NK", "monocyte"] * 3
    counts = np.ones((len(lineages), len(genes)), dtype=np.float32)
    for cell, lineage in enumerate(lineages):
        for gene in LINEAGE_MARKERS[lineage]:
            if gene in genes:
                counts[cell, genes.index(gene)] = 50
    query = AnnData(X=sp.csr_matrix(counts), var=pd.DataFrame(index=genes))
    query.layers["counts"] = query.X.copy()
    assert list(marker_lineages(query)) == lineages  # KLRF1 is missing and ignored


def test_marker_agreement_maps_predicted_types_to_lineages():
    lineages = np.array(["T", "B", "NK", "monocyte"])
    assert marker_agreement(["naivet", "bcells", "nk", "monocytes"], lineages) == 1.0
    assert marker_agreement(["cytotoxict", "nk", "nk", "bcells"], lineages) == 0.5
    assert marker_agreement(["unmapped", "bcells", "nk", "monocytes"], lineages) == 0.75


def test_confidences_default_to_the_top_probability_and_its_threshold():
    run = _run([[0.9, 0.1], [0.4, 0.35]])
    confidence, unknown, scores = confidences(run)
    assert confidence.tolist() == [0.9, 0.4] and unknown.tolist() == [False, True] and scores == {}
    own = {"confidence": np.array([0.2, 0.3]), "unknown": np.array([False, False]), "scores": {"s": 1}, "x": 2}
    run = _run([[0.9, 0.1], [0.4, 0.35]], own)
    confidence, unknown, scores = confidences(run)
    assert confidence.tolist() == [0.2, 0.3] and not unknown.any() and scores == {"s": 1}
    assert run.extra == {"x": 2}  # what is left is reported


def test_novel_type_scores():
    novel = np.array([True, True, False, False, False])
    confidence = np.array([0.1, 0.3, 0.9, 0.8, 0.2])
    unknown = confidence < 0.5
    shares, aurocs = novel_type_scores(novel, confidence, unknown, {"s": np.array([0.0, 0.1, 0.9, 0.9, 0.9])})
    assert shares["auroc_novel"] == pytest.approx(5 / 6)
    assert shares["unknown_novel"] == 1.0 and shares["unknown_known"] == pytest.approx(1 / 3)
    assert aurocs == {"auroc_novel_s": 1.0}


def test_labelled_task_scores_each_method(monkeypatch):
    query = AnnData(obs=pd.DataFrame({"cell_type": ["a", "a", "b", "b"]}, index=[f"c{i}" for i in range(4)]))
    runs = [
        _run([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.4]]),
        _run([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]], {"unknown": np.array([1, 0, 0, 0], bool), "k": 7}),
    ]
    monkeypatch.setattr(_transfer_tasks, "run_transfer_methods", lambda pair, settings: iter(runs))
    rows = labelled_task("t", TransferPair(query, query, "cell_type"), TransferSettings(Budget()))
    assert [row["accuracy"] for row in rows] == [0.75, 1.0]
    assert rows[0]["unknown_known"] == 0.25 and rows[1]["unknown_known"] == 0.25 and rows[1]["k"] == 7
    assert rows[1]["per_class_f1"] == {"a": 1.0, "b": 1.0} and rows[1]["macro_f1"] == 1.0
    assert list(rows[0])[:6] == ["task", "method", "macro_f1", "accuracy", "ece_query", "seconds"]


def _counts(n_cells: int, shift: int, seed: int) -> AnnData:
    rng = np.random.default_rng(seed)
    rates = np.ones((n_cells, 30))
    rates[: n_cells // 2, :10] += 20 + shift  # the first half is type "a", high on the first 10 genes
    counts = sp.csr_matrix(rng.poisson(rates).astype(np.float32))
    adata = AnnData(X=counts, var=pd.DataFrame(index=[f"g{i}" for i in range(30)]))
    adata.obs_names = [f"s{seed}_{i}" for i in range(n_cells)]
    adata.layers["counts"] = counts.copy()
    return adata


def test_baselines_run_on_an_unlabelled_query():
    reference, query = _counts(40, 0, 0), _counts(20, 2, 1)  # the query has no cell_type column, like Zheng donor A
    reference.obs["cell_type"] = ["a"] * 20 + ["b"] * 20
    settings = TransferSettings(Budget(), n_top_genes=20, methods=["logreg"])
    (run,) = run_transfer_methods(TransferPair(reference, query, "cell_type"), settings)
    assert run.method == "logreg" and run.classes == ["a", "b"] and run.probabilities.shape == (20, 2)
    assert (run.probabilities.argmax(1) == np.repeat([0, 1], 10)).all()
    assert "cell_type" not in query.obs  # the caller's query is untouched


def test_unknown_transfer_task():
    with pytest.raises(ValueError, match="Unknown transfer task"):
        run_transfer_task("pbmc", TransferSettings(Budget()))


def test_transfer_report_covers_every_saved_task_in_task_order(tmp_path):
    novel = [{"task": "novel type (B left out)", "method": "logreg", "auroc_novel": 0.7, "unknown_novel": 0.2}]
    kang = [
        {"task": "kang ctrl→stim", "method": m, "macro_f1": f, "accuracy": 0.9, "per_class_f1": {"B": f}}
        for m, f in (("logreg", 0.7), ("celltyper", 0.8))
    ]
    save_task_rows(tmp_path, "novel", novel, "python transfer.py --tasks novel", {"epochs": 3})
    save_task_rows(tmp_path, "kang", kang, "python transfer.py --tasks kang", {"epochs": 3})
    report = write_transfer_report(tmp_path).read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    assert [row["task"] for row in results["rows"]] == ["kang ctrl→stim"] * 2 + ["novel type (B left out)"]
    assert results["settings"] == {"kang": {"epochs": 3}, "novel": {"epochs": 3}}
    assert "Command: `python transfer.py --tasks kang; python transfer.py --tasks novel`" in report
    assert report.index("## kang ctrl→stim") < report.index("## novel type (B left out)")
    assert "| celltyper | **0.8** | **0.9** |" in report
    assert (tmp_path / "transfer_benchmark.png").stat().st_size > 0


def test_split_summary_and_per_class_lines():
    rows = [
        {"dataset": "zheng", "task": f"z{s}", "method": m, "split_seed": s, "macro_f1": f, "per_class_f1": {"B": f}}
        for m, scores in (("logreg", (0.8, 0.9)), ("SCANVI", (0.5, 0.7)))
        for s, f in zip((0, 1), scores, strict=True)
    ]
    rows.append({"dataset": "kang", "task": "k", "method": "logreg", "split_seed": 0, "macro_f1": 0.1})
    lines = split_summary(rows, [0, 1])
    assert lines[0] == "## Zheng over 2 stratified 80/20 splits"
    assert lines[2] == "| method | seed 0 | seed 1 | mean | min – max |"
    assert "| logreg | 0.800 | 0.900 | 0.850 | 0.800 – 0.900 |" in lines
    assert "| SCANVI | 0.500 | 0.700 | 0.600 | 0.500 – 0.700 |" in lines
    assert per_class_f1_lines(rows[:1]) == ["## Per-class F1", "", "- z0 / logreg: B 0.80"]


def test_transformer_settings_seeds():
    settings = TransformerBenchmarkSettings(seed=3, zheng_splits=2, transformer_seed=7)
    assert zheng_seeds(settings) == [3, 4]
    assert settings.method_seed("CellTypeTransformer", 4) == 7 and settings.method_seed("logreg", 4) == 4
    assert settings.recorded()["transformer_seed"] == 7
    assert TransformerBenchmarkSettings(seed=3).recorded()["transformer_seed"] == 3
    assert zheng_seeds(TransformerBenchmarkSettings(tasks=("kang_ctrl_to_stim",))) == []
