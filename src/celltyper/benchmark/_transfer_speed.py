"""Timing ``transfer_labels`` against logistic regression by size, on a quiet and on a loaded machine.

The benchmark of ``benchmarks/transfer_speed.py``: simulated counts (10,000 genes, 8 types, 4 batches; reference and
query from different batches) at a given number of cells a side. Every row runs in a fresh process, so that no row
inherits another's threads or caches; on a "loaded" machine two other processes keep both cores busy meanwhile (what a
user sees on a shared 2-core machine).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from anndata import AnnData

from ._report import replace_section
from ._script_output import pipe_table, results_page, save_figure, silence_training_logs
from ._timing import Stopwatch

SIZES = (2500, 5000, 10000, 20000)
#: variant → keyword arguments of ``ct.tl.transfer_labels`` (``None``: scikit-learn's logistic regression instead)
VARIANTS: dict[str, dict | None] = {
    "celltyper (defaults)": {},
    "celltyper, latent=False": {"latent": False},
    "celltyper, n_threads=None (torch default)": {"n_threads": None},
    "logistic regression": None,
}


def simulated_pair(n_cells: int) -> tuple[AnnData, AnnData]:
    """Reference (batches 0, 1) and query (batches 2, 3) of about ``n_cells`` cells each."""
    import celltyper as ct

    adata = ct.datasets.simulate(n_cells=2 * n_cells, n_genes=10_000, n_types=8, n_batches=4, seed=0)
    in_reference = adata.obs["batch"].isin(["batch_0", "batch_1"]).to_numpy()
    return adata[in_reference].copy(), adata[~in_reference].copy()


def _time_variant(variant: str, n_cells: int, queue: mp.Queue) -> None:
    """In a worker process: put the seconds of one ``variant`` call on ``n_cells`` cells a side on ``queue``."""
    import celltyper as ct

    silence_training_logs()

    reference, query = simulated_pair(n_cells)
    settings = VARIANTS[variant]
    with Stopwatch() as watch:
        if settings is None:
            from celltyper._normalization import log1p_cp10k

            from ._logreg import fit_logreg

            model = fit_logreg(log1p_cp10k(reference.X), reference.obs["cell_type"].to_numpy())
            model.predict_proba(log1p_cp10k(query.X))
        else:
            ct.tl.transfer_labels(
                reference, query, "cell_type", layer="counts", batch_key="batch", progress_bar=False, **settings
            )
    queue.put(watch.seconds)


def _burn(stop) -> None:
    """Keep one core busy until ``stop`` is set."""
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def measure(variant: str, n_cells: int, load: bool) -> float:
    """Seconds of one row in a fresh process (optionally with two processes burning both cores meanwhile)."""
    context = mp.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    burners = [context.Process(target=_burn, args=(stop,)) for _ in range(2 if load else 0)]
    for burner in burners:
        burner.start()
    worker = context.Process(target=_time_variant, args=(variant, n_cells, queue))
    worker.start()
    seconds = queue.get()
    worker.join()
    stop.set()
    for burner in burners:
        burner.join()
    return seconds


def speed_row(variant: str, n_cells: int, load: bool) -> dict:
    """Measure one row (see :func:`measure`): seconds and query cells per second, rounded as reported."""
    seconds = measure(variant, n_cells, load)
    return {
        "variant": variant,
        "cells per side": n_cells,
        "machine": "loaded" if load else "quiet",
        "seconds": round(seconds, 1),
        "query cells / s": round(n_cells / seconds),
    }


def write_speed_report(rows: list[dict], out: Path, command: str, docs_page: str | None = None) -> None:
    """``results.json``, ``report.md`` (seconds by size) and ``transfer_speed.png``; also ``docs_page``'s section."""
    frame = pd.DataFrame(rows)
    (out / "results.json").write_text(json.dumps({"command": command, "cpus": os.cpu_count(), "rows": rows}, indent=1))
    frame["shown"] = [f"{s:.1f} ({c:,})" for s, c in zip(frame["seconds"], frame["query cells / s"], strict=True)]
    table = frame.pivot_table(
        index=["machine", "variant"], columns="cells per side", values="shown", aggfunc="first", sort=False
    )
    text = [
        f"Command: `{command}`",
        "",
        "Seconds per call, and query cells per second in brackets (reference and query of the same size; 10,000 "
        "genes; 2 cores; loaded: two other processes keep both cores busy):",
        "",
        *pipe_table(
            ["machine", "variant", *(f"{n:,} cells" for n in table.columns)],
            [
                [machine, variant, *("" if pd.isna(x) else x for x in row)]
                for (machine, variant), row in table.iterrows()
            ],
            text_columns=2,
        ),
    ]
    (out / "report.md").write_text(results_page("transfer_labels: speed", text))
    if docs_page is not None:
        replace_section(docs_page, "transfer-speed", "\n".join(text))
    plot_speed(frame, out / "transfer_speed.png")


def plot_speed(frame: pd.DataFrame, path: Path) -> None:
    """Log-log seconds against cells a side, one line per variant and machine (dashed: loaded)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (machine, variant), group in frame.groupby(["machine", "variant"], sort=False):
        style = "-" if machine == "quiet" else "--"
        ax.plot(group["cells per side"], group["seconds"], marker="o", ls=style, label=f"{variant} ({machine})")
    ax.set(xscale="log", yscale="log", title="transfer_labels vs logistic regression, 2 cores")
    ax.set(xlabel="cells in reference and in query", ylabel="seconds")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=120)
