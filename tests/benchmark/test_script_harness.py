"""The pieces the scripts in ``benchmarks/`` share or compute: tables, pages, exponents, reports (no training)."""

from __future__ import annotations

import json
import sys
import time

import pytest

from celltyper.benchmark._deploy_timing import deploy_report
from celltyper.benchmark._flow_benchmark import flow_table
from celltyper.benchmark._scale import exponent, scale_report, write_scale_report
from celltyper.benchmark._script_output import pipe_table, results_page, script_command
from celltyper.benchmark._timing import Stopwatch, timed_run
from celltyper.benchmark._transfer_speed import write_speed_report
from celltyper.benchmark._vae_benchmark import compare_with_scvi


def scale_rows() -> list[dict]:
    """countvae at three sizes with time ∝ cells^1.5, annotate at one size."""
    rows = [
        {"method": "countvae", "n_cells": n, "seconds_per_epoch": 2e-3 * n**1.5, "cells_per_s": 10.0, "peak_rss_gib": 1}
        for n in (1000, 4000, 16000)
    ]
    rows[0]["read_ms_per_minibatch"] = {"scvi AnnDataLoader": 12.345, "block_size=1": 3.0}
    annotate = {"method": "annotate", "n_cells": 1000, "seconds": 2.0, "cells_per_s": 500.0, "peak_rss_gib": 0.5}
    return [*rows, {**annotate, "accuracy": 0.91234, "write_seconds": 1.4}]


def test_exponent_is_the_log_log_slope_of_either_kind_of_seconds():
    rows = scale_rows()
    assert exponent(rows, "countvae") == pytest.approx(1.5)
    assert exponent(rows, "annotate") is None  # one size
    passes = [{"method": "annotate", "n_cells": n, "seconds": 0.1 * n} for n in (10, 100)]
    assert exponent(passes, "annotate") == pytest.approx(1.0)


def test_scale_report_tables_and_exponents():
    results = {
        "rows": scale_rows()[::-1],
        "exponents": {"countvae": 1.5, "annotate": None},
        "machine": "m",
        "command": "c",
    }
    report = scale_report(results)
    lines = report.splitlines()
    assert lines[:5] == ["# Scaling benchmark", "", "Command: `c`  ", "Machine: m", ""]
    assert lines[5] == "| method | cells | s / epoch or pass | cells / s | peak RSS (GiB) | notes |"
    assert lines[6] == "|---|---|---|---|---|---|"
    assert lines[7] == "| countvae | 1,000 | 63.2 | 10 | 1.00 |  |"  # sorted by method order, then cells
    assert lines[10] == "| annotate | 1,000 | 2.0 | 500 | 0.50 | accuracy 0.912, CSV 1 s |"
    assert "| cells | scvi AnnDataLoader | block_size=1 |" in lines and "| 1,000 | 12.3 | 3.0 |" in lines
    assert report.endswith("Exponent of time vs cells (log-log slope): \n- countvae: 1.500\n")


def test_write_scale_report_writes_the_page_and_the_figure(tmp_path):
    results = {"rows": scale_rows(), "exponents": {"countvae": 1.5}, "machine": "m", "command": "c"}
    report = write_scale_report(results, tmp_path)
    assert (tmp_path / "report.md").read_text() == report and (tmp_path / "scale.png").stat().st_size > 0


def test_pipe_table_aligns_the_number_columns_right():
    assert pipe_table(["a", "b", "c"], [["x", "1", "2"]], text_columns=1) == [
        "| a | b | c |",
        "|---|---:|---:|",
        "| x | 1 | 2 |",
    ]
    assert pipe_table(["a", "b"], [])[1] == "|---|---|"


def test_script_command_quotes_what_the_shell_would_split():
    assert script_command("flow.py", ["--out", "x", "--variants", "flow planar"]) == (
        "python benchmarks/flow.py --out x --variants 'flow planar'"
    )


def test_results_page_is_an_orphan_page_with_a_title():
    assert results_page("T", ["body"]) == "---\norphan: true\n---\n\n# T\n\nbody\n"


def test_stopwatch_and_timed_run_measure_seconds():
    with Stopwatch() as watch:
        time.sleep(0.05)
    assert watch.seconds >= 0.05 and 0 <= watch.cpu_seconds < watch.seconds
    seconds, done = timed_run([sys.executable, "-c", "print('hi')"])
    assert seconds > 0 and done.stdout.strip() == "hi"


def test_compare_with_scvi_only_touches_the_dataset_it_is_given():
    rows = [
        {"dataset": "d", "method": "scvi", "seconds_per_epoch": 2.0, "knn_accuracy": 0.8},
        {"dataset": "d", "method": "countvae_nb", "seconds_per_epoch": 1.0, "knn_accuracy": 0.9},
        {"dataset": "e", "method": "countvae_nb", "seconds_per_epoch": 1.0, "knn_accuracy": 0.9},
    ]
    compare_with_scvi(rows, "d")
    compare_with_scvi(rows, "e")  # no scvi row there: nothing added
    assert rows[1]["epoch_time_vs_scvi"] == 0.5 and rows[1]["knn_accuracy_minus_scvi"] == pytest.approx(0.1)
    assert rows[0]["epoch_time_vs_scvi"] == 1.0 and "epoch_time_vs_scvi" not in rows[2]


def test_flow_table_ends_with_each_variants_mean():
    scores = {"ece": 0.1, "heldout_elbo": -1000.0, "seconds_per_epoch": 2.0, "cpu_seconds_per_epoch": 1.0}
    rows = [
        {"transfer": t, "variant": v, "macro_f1": f, **scores}
        for t, v, f in [("a", "flat", 0.6), ("a", "flow", 0.5), ("b", "flat", 0.8), ("b", "flow", 0.7)]
    ]
    lines = flow_table(rows)
    assert lines[1] == "|---|---|---:|---:|---:|---:|---:|" and len(lines) == 2 + 4 + 2
    assert lines[-2:] == [
        "| **mean** | flat | 0.700 | 0.100 | -1000.0 | 2.00 | 1.00 |",
        "| **mean** | flow | 0.600 | 0.100 | -1000.0 | 2.00 | 1.00 |",
    ]


def test_deploy_report_lists_the_ways_and_the_predicted_types():
    results = {
        "n_cells": 2896,
        "seconds": {"python": 10.04, "cli": 20.0, "api": 3.0},
        "annotate_call_seconds": 1.23,
        "server_startup_seconds": 8.0,
        "identical_labels": True,
        "predictions": {"B": 1500, "NK": 1396},
        "machine": "2 cores",
    }
    lines = deploy_report(results, "python benchmarks/deploy.py --out x").splitlines()
    assert lines[4:7] == [
        "# Frozen donor A with the built-in PBMC model",
        "",
        "Command: `python benchmarks/deploy.py --out x`; 2,896 cells, 2 cores.",
    ]
    assert "| python | 10.0 |" in lines and "| B | 1,500 |" in lines
    assert "`ct.tl.annotate` alone: 1.2 s; server start-up 8.0 s. Identical labels on all three: True." in lines


def test_write_speed_report_pivots_by_size_and_fills_the_docs_section(tmp_path):
    rows = [
        {"variant": "lr", "cells per side": n, "machine": m, "seconds": s, "query cells / s": round(n / s)}
        for n, m, s in [(100, "quiet", 1.0), (200, "quiet", 2.5), (200, "loaded", 5.0)]
    ]
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- transfer-speed -->\nold\n<!-- /transfer-speed -->\nend\n")
    write_speed_report(rows, tmp_path, "cmd", str(page))
    report = (tmp_path / "report.md").read_text()
    assert "| machine | variant | 100 cells | 200 cells |\n|---|---|---:|---:|" in report
    assert "| quiet | lr | 1.0 (100) | 2.5 (80) |\n| loaded | lr |  | 5.0 (40) |" in report
    assert "old" not in page.read_text() and "| loaded | lr |  | 5.0 (40) |" in page.read_text()
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == rows
    assert (tmp_path / "transfer_speed.png").exists()


def test_gene_overlap_report_gives_mean_worst_and_loss_per_fraction():
    from celltyper.benchmark._gene_overlap_sweep import sweep_report

    rows = [
        {"transfer": name, "kept": kept, "genes_found": kept * found, "macro_f1": f1}
        for name, found, scores in (("a", 1.0, (0.9, 0.5)), ("b", 0.5, (0.7, 0.6)))
        for kept, f1 in zip((1.0, 0.5), scores, strict=True)
    ]
    lines = sweep_report(rows)
    assert lines[0] == "| transfer | 100% kept | 50% kept |"
    assert "| a | 0.900 (100%) | 0.500 (50%) |" in lines
    assert "| b | 0.700 (50%) | 0.600 (25%) |" in lines
    assert "| **mean** | 0.800 | 0.550 |" in lines
    assert "| **worst** | 0.700 | 0.500 |" in lines
    assert lines[-1] == "| **worst loss vs all kept** | +0.000 | -0.400 |"
