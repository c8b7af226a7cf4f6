"""The parent side of the scaling benchmark (``benchmarks/scale.py``): child runs, ``scale.json``, exponents, report.

Each (method, size) runs as ``python benchmarks/scale.py --child METHOD N_CELLS`` (see
:mod:`celltyper.benchmark._scale_runs`) while this process samples that child's resident memory every 0.05 s
(:func:`celltyper.benchmark.run_with_peak_memory`): ``peak_rss_gib`` is the run's own peak, not ``ru_maxrss``, which a
child inherits from this parent (which may hold gigabytes after writing the files). Rows measured by earlier runs
into the same ``--out`` are kept unless measured again; the exponent of a method is the slope of log time against
log cells over its sizes.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ._measure import run_with_peak_memory
from ._scale_data import nnz_per_cell, simulated_h5ad
from ._scale_runs import ANNOTATORS, METHODS
from ._script_output import pipe_table, save_figure


def run_child(script: str | Path, argv: Sequence[str]) -> dict:
    """Run ``script`` with ``argv`` in a fresh Python process; the JSON row it prints last, with its peak memory."""
    done, peak_gib = run_with_peak_memory([sys.executable, str(script), *argv])
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-4000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "peak_rss_gib": peak_gib}


def measure_scaling(
    script: str | Path, out: Path, data_dir: Path, cells: Sequence[int], methods: Sequence[str], command: str
) -> dict:
    """Measure every (method, size) in its own process, rewriting ``out/scale.json`` after each; its content.

    Parameters
    ----------
    script
        The script whose ``--child`` and ``--train-annotators`` modes run the measurements.
    out
        Output folder: ``scale.json`` (rows of earlier runs kept unless measured again) and the trained ``models``.
    data_dir
        Where the simulated h5ad files are (written first, outside the measured runs, if missing).
    cells, methods
        Sizes and methods of :data:`~celltyper.benchmark._scale_runs.METHODS` to measure.
    command
        The command line recorded with the results.

    Returns
    -------
    ``{"rows", "exponents", "machine", "command"}`` as written to ``scale.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "scale.json"
    rows = json.loads(results_path.read_text())["rows"] if results_path.exists() else []
    for n_cells in cells:
        path = simulated_h5ad(n_cells, data_dir)
        print(f"{path}: {nnz_per_cell(path):.0f} non-zeros per cell", flush=True)
    if any(not (out / "models" / ANNOTATORS[m]).exists() for m in methods if m in ANNOTATORS):
        run_child(script, ["--out", str(out), "--train-annotators"])
    results = scale_results(rows, command)
    for method in methods:
        for n_cells in cells:
            row = run_child(script, ["--out", str(out), "--data", str(data_dir), "--child", method, str(n_cells)])
            print(json.dumps(row), flush=True)
            rows = [r for r in rows if (r["method"], r["n_cells"]) != (method, n_cells)] + [row]
            results = scale_results(rows, command)
            results_path.write_text(json.dumps(results, indent=2))
    return results


def scale_results(rows: list[dict], command: str) -> dict:
    """The content of ``scale.json``: rows, each measured method's exponent, the machine and the command."""
    import torch

    cores, threads = len(os.sched_getaffinity(0)), torch.get_num_threads()
    return {
        "rows": rows,
        "exponents": {m: exponent(rows, m) for m in METHODS if any(r["method"] == m for r in rows)},
        "machine": f"{platform.machine()}, {cores} cores, torch threads {threads}",
        "command": command,
    }


def seconds(row: dict) -> float:
    """Seconds of the training epoch or of the annotation pass."""
    return row["seconds_per_epoch"] if "seconds_per_epoch" in row else row["seconds"]


def exponent(rows: list[dict], method: str) -> float | None:
    """Slope of log(seconds) against log(cells) over the sizes measured for ``method`` (``None`` under two sizes)."""
    points = sorted((r["n_cells"], seconds(r)) for r in rows if r["method"] == method)
    if len(points) < 2:
        return None
    log_cells, log_seconds = np.log(np.array(points)).T
    return float(np.polyfit(log_cells, log_seconds, 1)[0])


def plot_scaling(rows: list[dict], path: Path) -> None:
    """Log-log time and peak memory against cells, one line per method."""
    fig, (time_ax, memory_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for method in METHODS:
        points = sorted((r["n_cells"], seconds(r), r["peak_rss_gib"]) for r in rows if r["method"] == method)
        if not points:
            continue
        cells, times, memory = np.array(points).T
        time_ax.plot(cells, times, "o-", label=method)
        memory_ax.plot(cells, memory, "o-", label=method)
    time_ax.set(xscale="log", yscale="log", xlabel="cells", ylabel="seconds (one epoch / one annotation pass)")
    memory_ax.set(xscale="log", yscale="log", xlabel="cells", ylabel="peak RSS (GiB)")
    memory_ax.axhline(4, color="grey", linestyle=":", label="4 GiB")
    for ax in (time_ax, memory_ax):
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    save_figure(fig, path, dpi=120)


def scale_report(results: dict) -> str:
    """Markdown of ``scale.json``'s content: the rows, the backed-file read times and the fitted exponents."""
    lines = ["# Scaling benchmark", "", f"Command: `{results['command']}`  ", f"Machine: {results['machine']}", ""]
    header = ["method", "cells", "s / epoch or pass", "cells / s", "peak RSS (GiB)", "notes"]
    rows = sorted(results["rows"], key=lambda r: (METHODS.index(r["method"]), r["n_cells"]))
    lines += pipe_table(header, [_cells(r) for r in rows])
    reads = [r for r in results["rows"] if "read_ms_per_minibatch" in r]
    if reads:
        loaders = list(reads[0]["read_ms_per_minibatch"])
        lines += ["", "Reading one shuffled 128-cell minibatch from the backed file (ms):", ""]
        lines += pipe_table(
            ["cells", *loaders],
            [
                [f"{r['n_cells']:,}", *(f"{r['read_ms_per_minibatch'][name]:.1f}" for name in loaders)]
                for r in sorted(reads, key=lambda r: r["n_cells"])
            ],
        )
    lines += ["", "Exponent of time vs cells (log-log slope): "]
    lines += [f"- {method}: {value:.3f}" for method, value in results["exponents"].items() if value is not None]
    return "\n".join(lines) + "\n"


def _cells(row: dict) -> list[str]:
    """The formatted cells of one row of the scaling table."""
    notes = f"accuracy {row['accuracy']:.3f}, CSV {row['write_seconds']:.0f} s" if "accuracy" in row else ""
    return [
        row["method"],
        f"{row['n_cells']:,}",
        f"{seconds(row):.1f}",
        f"{row['cells_per_s']:,.0f}",
        f"{row['peak_rss_gib']:.2f}",
        notes,
    ]


def write_scale_report(results: dict, out: Path) -> str:
    """Write ``scale.png`` and ``report.md`` of ``scale.json``'s content to ``out``; the report's markdown."""
    plot_scaling(results["rows"], out / "scale.png")
    report = scale_report(results)
    (out / "report.md").write_text(report)
    return report
