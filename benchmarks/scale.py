"""Scaling to a million cells: one epoch of CountVAE from a backed file, of SCVI in memory, and annotation throughput.

Simulated counts (``ct.datasets.simulate``, 2,000 genes) are written once to sparse h5ad files under ``--data``
(see ``celltyper.benchmark._scale_data``). Every (method, size) runs in its own subprocess, whose resident memory the
parent samples every 0.05 s (``celltyper.benchmark.run_with_peak_memory``): ``peak_rss_gib`` is that run's own peak,
not ``ru_maxrss``, which a child inherits from this parent (which may hold gigabytes after writing the files). Methods:

- ``countvae``: ``CountVAE`` (default settings) set up on ``anndata.read_h5ad(path, backed="r")``, one epoch;
- ``scvi``: ``scvi.model.SCVI`` (default settings) on the file read into memory, one epoch, as users run it;
- ``annotate``: ``ct.tl.annotate_h5ad`` with a trained ``CellTypeTransformer`` (default settings) — what
  ``celltyper annotate`` runs;
- ``annotate_countvae``: ``ct.tl.annotate_h5ad`` with a trained ``SemiSupervisedCountVAE`` (encoder + classifier on
  the latent space);
- ``annotate_annotator``: ``ct.tl.annotate_h5ad`` with a saved ``ct.Annotator`` (label transfer's linear classifier
  and calibration) — what ``celltyper annotate --stream true`` runs.

Both training rows use batch size 128, 90 % of the cells for training and no validation pass; ``seconds_per_epoch``
is the wall time of the training epoch, ``cells_per_s`` training cells per second. Annotation rows time the
prediction pass over every cell, after the file was read through once (``file_read_seconds``) so that it sits in the
OS page cache and the pass measures celltyper rather than the disk; ``write_seconds`` is writing its predictions CSV.
Writes ``scale.json`` (``{"rows": [...], "exponents": {method: slope of log time vs log cells}}``), ``report.md`` and
``scale.png`` to ``--out``; rows measured by earlier runs into the same ``--out`` are kept unless measured again.

    python benchmarks/scale.py --out runs/scale [--cells 100000 300000 1000000] [--methods countvae scvi annotate]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from celltyper.benchmark import run_with_peak_memory
from celltyper.benchmark._scale_data import nnz_per_cell, reference, simulated_h5ad

METHODS = ("countvae", "scvi", "annotate", "annotate_countvae", "annotate_annotator")
TRAINING = ("countvae", "scvi")
ANNOTATORS = {
    "annotate": "transformer",
    "annotate_countvae": "semisupervised_countvae",
    "annotate_annotator": "annotator",
}


def threads() -> int:
    """Threads torch computes with."""
    import torch

    return torch.get_num_threads()


def train_one_epoch(method: str, path: Path) -> dict:
    """One training epoch of ``method`` on the file at ``path``; runs in a child process."""
    import anndata as ad
    import scvi

    import celltyper as ct
    from celltyper.benchmark import EpochTimer

    scvi.settings.seed = 0
    start = time.perf_counter()
    if method == "countvae":
        adata = ad.read_h5ad(path, backed="r")
        ct.CountVAE.setup_anndata(adata, batch_key="batch")
        model = ct.CountVAE(adata)
    else:
        adata = ad.read_h5ad(path)
        scvi.model.SCVI.setup_anndata(adata, batch_key="batch")
        model = scvi.model.SCVI(adata)
    setup_seconds = time.perf_counter() - start
    timer = EpochTimer()
    model.train(
        max_epochs=1,
        batch_size=128,
        accelerator="cpu",
        check_val_every_n_epoch=None,
        callbacks=[timer],
        enable_progress_bar=False,
    )
    n_train = len(model.train_indices)
    row = {
        "seconds_per_epoch": timer.seconds[0],
        "cells_per_s": n_train / timer.seconds[0],
        "n_train_cells": n_train,
        "setup_seconds": setup_seconds,
    }
    if method == "countvae":
        row["read_ms_per_minibatch"] = read_times(model.adata_manager, model.train_indices)
    return row


def read_times(adata_manager, indices, n_batches: int = 100) -> dict[str, float]:
    """Milliseconds to load one shuffled 128-cell training minibatch of a backed file, by loader."""
    from scvi.dataloaders import AnnDataLoader

    from celltyper.train import BackedDataLoader

    loaders = {"scvi AnnDataLoader": AnnDataLoader(adata_manager, indices=indices, shuffle=True, batch_size=128)}
    for block_size in (1, 16, 128):
        loaders[f"block_size={block_size}"] = BackedDataLoader(
            adata_manager, indices=indices, shuffle=True, batch_size=128, block_size=block_size
        )
    times = {}
    for name, loader in loaders.items():
        start = time.perf_counter()
        for i, _ in enumerate(loader):
            if i + 1 == n_batches:
                break
        times[name] = (time.perf_counter() - start) / n_batches * 1000
    return times


def train_annotators(model_dir: Path) -> None:
    """Train and save the two annotation models on simulated reference cells (same gene programs as the files)."""
    import scvi

    import celltyper as ct
    from celltyper.model import SemiSupervisedCountVAE

    adata = reference()
    del adata.layers["counts"]  # raw counts in X, like the files
    scvi.settings.seed = 0
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    transformer = ct.CellTypeTransformer(adata)
    transformer.train(max_epochs=3, accelerator="cpu", enable_progress_bar=False)
    transformer.save(model_dir / "transformer", overwrite=True, save_anndata=True)
    scvi.settings.seed = 0
    SemiSupervisedCountVAE.setup_anndata(adata, labels_key="cell_type", batch_key="batch")
    vae = SemiSupervisedCountVAE(adata)
    vae.train(max_epochs=10, accelerator="cpu", enable_progress_bar=False)
    vae.save(model_dir / "semisupervised_countvae", overwrite=True, save_anndata=True)
    annotator = ct.Annotator.from_reference(adata, "cell_type", batch_key="batch", latent=False, progress_bar=False)
    annotator.save(model_dir / "annotator", overwrite=True)


def annotate(method: str, path: Path, model_dir: Path, out: Path) -> dict:
    """Stream every cell of ``path`` through ``ct.tl.annotate_h5ad``; runs in a child process."""
    import anndata as ad

    import celltyper as ct
    from celltyper.model import SemiSupervisedCountVAE

    loaders = {"annotate": ct.CellTypeTransformer.load, "annotate_countvae": SemiSupervisedCountVAE.load}
    model = loaders.get(method, ct.Annotator.load)(str(model_dir / ANNOTATORS[method]))
    start = time.perf_counter()
    with open(path, "rb") as f:  # into the OS page cache: the timed pass measures celltyper, not the disk
        while f.read(64 * 2**20):
            pass
    file_read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    table = ct.tl.annotate_h5ad(model, path)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    table.to_csv(out / "predictions.csv")  # what annotate_h5ad(predictions=...) adds
    write_seconds = time.perf_counter() - start
    (out / "predictions.csv").unlink()
    truth = ad.read_h5ad(path, backed="r").obs["cell_type"].astype(str).to_numpy()
    accuracy = float((table.iloc[:, 0].astype(str).to_numpy() == truth).mean())
    return {
        "seconds": seconds,
        "cells_per_s": len(table) / seconds,
        "accuracy": accuracy,
        "write_seconds": write_seconds,
        "file_read_seconds": file_read_seconds,
    }


def child(method: str, n_cells: int, data_dir: Path, out: Path) -> None:
    """Measure one (method, size) in this process and print its row as JSON on the last line."""
    warnings.filterwarnings("ignore")
    path = simulated_h5ad(n_cells, data_dir)
    if method in TRAINING:
        row = train_one_epoch(method, path)
    else:
        row = annotate(method, path, out / "models", out)
    row = {"method": method, "n_cells": n_cells, **row}
    print(json.dumps(row), flush=True)


def run_child(argv: list[str]) -> dict:
    """Run this script with ``argv`` in a fresh Python process; the JSON row it prints last, with its peak memory."""
    done, peak_gib = run_with_peak_memory([sys.executable, __file__, *argv])
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-4000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "peak_rss_gib": peak_gib}


def seconds(row: dict) -> float:
    """Seconds of the training epoch or of the annotation pass."""
    return row["seconds_per_epoch"] if "seconds_per_epoch" in row else row["seconds"]


def exponent(rows: list[dict], method: str) -> float | None:
    """Slope of log(seconds) against log(cells) over the sizes measured for ``method``."""
    points = sorted((r["n_cells"], seconds(r)) for r in rows if r["method"] == method)
    if len(points) < 2:
        return None
    log_cells, log_seconds = np.log(np.array(points)).T
    return float(np.polyfit(log_cells, log_seconds, 1)[0])


def plot(rows: list[dict], path: Path) -> None:
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(results: dict, command: str) -> str:
    """Markdown table of the rows and the fitted exponents."""
    lines = [
        "# Scaling benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {results['machine']}",
        "",
        "| method | cells | s / epoch or pass | cells / s | peak RSS (GiB) | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(results["rows"], key=lambda r: (METHODS.index(r["method"]), r["n_cells"])):
        notes = f"accuracy {r['accuracy']:.3f}, CSV {r['write_seconds']:.0f} s" if "accuracy" in r else ""
        lines.append(
            f"| {r['method']} | {r['n_cells']:,} | {seconds(r):.1f} | {r['cells_per_s']:,.0f} | "
            f"{r['peak_rss_gib']:.2f} | {notes} |"
        )
    reads = [r for r in results["rows"] if "read_ms_per_minibatch" in r]
    if reads:
        loaders = list(reads[0]["read_ms_per_minibatch"])
        lines += ["", "Reading one shuffled 128-cell minibatch from the backed file (ms):", ""]
        lines += ["| cells | " + " | ".join(loaders) + " |", "|---" * (len(loaders) + 1) + "|"]
        for r in sorted(reads, key=lambda r: r["n_cells"]):
            values = " | ".join(f"{r['read_ms_per_minibatch'][name]:.1f}" for name in loaders)
            lines.append(f"| {r['n_cells']:,} | {values} |")
    lines += ["", "Exponent of time vs cells (log-log slope): "]
    lines += [f"- {method}: {value:.3f}" for method, value in results["exponents"].items() if value is not None]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cells", nargs="+", type=int, default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--data", type=Path, default=Path("/tmp/celltyper_scale"), help="where the h5ad files go")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "N_CELLS"), help=argparse.SUPPRESS)
    parser.add_argument("--train-annotators", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.data, args.out)
        return
    if args.train_annotators:
        warnings.filterwarnings("ignore")
        train_annotators(args.out / "models")
        print("{}")
        return

    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "scale.json"
    rows = json.loads(results_path.read_text())["rows"] if results_path.exists() else []
    for n_cells in args.cells:  # write the files first, outside the measured runs
        path = simulated_h5ad(n_cells, args.data)
        print(f"{path}: {nnz_per_cell(path):.0f} non-zeros per cell", flush=True)
    if any(not (args.out / "models" / ANNOTATORS[m]).exists() for m in args.methods if m in ANNOTATORS):
        run_child(["--out", str(args.out), "--train-annotators"])
    for method in args.methods:
        for n_cells in args.cells:
            row = run_child(["--out", str(args.out), "--data", str(args.data), "--child", method, str(n_cells)])
            print(json.dumps(row), flush=True)
            rows = [r for r in rows if (r["method"], r["n_cells"]) != (method, n_cells)] + [row]
            results = {
                "rows": rows,
                "exponents": {m: exponent(rows, m) for m in METHODS if any(r["method"] == m for r in rows)},
                "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, torch threads {threads()}",
                "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
            }
            results_path.write_text(json.dumps(results, indent=2))
    plot(rows, args.out / "scale.png")
    (args.out / "report.md").write_text(report(results, results["command"]))
    print(report(results, results["command"]))


if __name__ == "__main__":
    main()
