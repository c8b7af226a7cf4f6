"""run_benchmark: every method on every task in this one process, then results.json, report.md and the figures."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from celltyper.tl._calibration import expected_calibration_error

from . import _figures
from ._measure import PeakMemory
from ._methods import METHODS, Budget, MethodOutput
from ._metrics import classification_metrics
from ._report import write_results
from ._tasks import Task

logger = logging.getLogger(__name__)

#: Columns of the report's tables, in order, and whether higher is better for each scored one.
COLUMNS = (
    "method",
    "macro_f1",
    "accuracy",
    "ece",
    "scib_bio_conservation",
    "scib_batch_correction",
    "scib_total",
    "scib_ilisi",
    "train_seconds",
    "seconds_per_epoch",
    "predict_cells_per_s",
    "peak_rss_gib",
)
HIGHER_IS_BETTER = {
    "macro_f1": True,
    "accuracy": True,
    "ece": False,
    "scib_bio_conservation": True,
    "scib_batch_correction": True,
    "scib_total": True,
    "scib_ilisi": True,
    "train_seconds": False,
    "seconds_per_epoch": False,
    "predict_cells_per_s": True,
}

FAIRNESS = """\
**What every method gets.** The same cells, the same genes (the reference's highly variable genes, seurat_v3 on
counts, batch-aware), raw counts (each method normalizes them its own way), the same minibatch size, the same
reference epochs for every VAE (SCVI, the three CountVAEs and the model inside `transfer_labels`: KL warm-up over the
first half, validation every epoch, no early stopping), the same query-mapping epochs for every scArches-mapped
model, and `scvi.settings.seed` set before each. Architectures are each method's defaults. SCANVI starts from the
SCVI reference model and trains half as many epochs again (its training time includes SCVI's). CellTypeTransformer
gets the same epoch budget but stops early on its validation loss, as it does by default; `transfer_labels` runs
with its defaults, so its prediction is a class-balanced logistic regression with C = 0.003 on the genes its shift
filter keeps (the CountVAE inside it gives the latent space). Logistic
regression is scikit-learn's L2 model (C = 1) on log1p(CP10k). SCVI and the CountVAEs are scored as classifiers by a
15-NN vote of the reference cells in their latent space.

**Where a method could do better.** The epoch budget is far below scvi-tools' own heuristic for small datasets
(400 epochs for ≤ 20k cells), chosen to fit 2 CPU cores; every VAE would gain from more. Nothing is tuned per
dataset. Seconds are wall-clock and grow when other processes share the CPU (`load_average` above: the machine's
1-minute load at the start and end of the run; 2 means both cores were busy). `train_seconds` includes query
mapping; `peak_rss_gib` is the whole process's resident memory (the data loaded for every task included), sampled
every 50 ms.

**Metrics.** Accuracy and macro-F1 over the query's cell types; ECE of the top-class confidence (15 bins);
scib-metrics' Benchmarker with its default metrics except kBET (it builds an index per label and latent: 225 of
308 s for 6 latents of 1975 cells on 2 CPU cores), unscaled (bio conservation, batch correction, total = 0.6 bio +
0.4 batch), on the latent of all cells of a task with labels and ≥ 2 batches; iLISI alone where there are no labels.
"""


def _score(task: Task, output: MethodOutput) -> dict:
    """Classification scores of the query predictions (argmax of the probabilities, no "Unknown")."""
    if output.probabilities is None:
        return {}
    probabilities = output.probabilities
    classes = np.asarray(probabilities.columns, dtype=object)
    predicted = classes[probabilities.to_numpy().argmax(1)]
    truth = task.adata.obs[task.labels_key][task.is_query].astype(str).to_numpy()
    scores = classification_metrics(truth, predicted, labels=sorted(set(truth)))
    scores["ece"] = expected_calibration_error(truth, probabilities.to_numpy(), classes.tolist())
    return scores


def _integration_scorer() -> Callable[..., pd.DataFrame]:
    """:func:`~._integration.integration_scores`, imported only when asked for: scib-metrics pulls in jax."""
    try:
        from ._integration import integration_scores
    except ImportError as error:
        raise ImportError(
            f'Scoring latent spaces needs scib-metrics ({error}). Install it with pip install "celltyper[benchmark]", '
            "or run without it (scib=False; --scib false on the command line)."
        ) from error
    return integration_scores


def _row(task: Task, method: str, output: MethodOutput, peak_gib: float) -> dict:
    n_query = int(task.is_query.sum())
    predict = output.predict_seconds
    return {
        "dataset": task.dataset,
        "task": task.name,
        "method": method,
        **_score(task, output),
        "train_seconds": output.train_seconds,
        "seconds_per_epoch": float(np.median(output.epoch_seconds)) if output.epoch_seconds else None,
        "epochs": len(output.epoch_seconds) or None,
        "predict_cells_per_s": n_query / predict if n_query and predict and np.isfinite(predict) else None,
        "peak_rss_gib": peak_gib,
        "n_reference": int((~task.is_query).sum()),
        "n_query": n_query,
        "n_genes": task.adata.n_vars,
        **output.extra,
    }


def run_benchmark(
    tasks: Sequence[Task],
    out: str | Path,
    *,
    methods: Sequence[str] | None = None,
    budget: Budget | None = None,
    umap: bool = True,
    scib: bool = True,
    command: str = "celltyper.benchmark.run_benchmark(...)",
    progress: bool = True,
) -> list[dict]:
    """Run every method on every task in this process and write the results to ``out``.

    Parameters
    ----------
    tasks
        From :func:`quick_tasks`, :func:`full_tasks` or :func:`task_from_config`.
    out
        Folder for ``results.json``, ``report.md`` and the PNGs (created if missing).
    methods
        Names of :data:`METHODS` (default all). Methods that need labels are skipped on integration-only tasks.
    budget
        Epochs, batch size and seed given to every method (default: :class:`Budget`'s defaults).
    umap
        Draw UMAPs of every latent space (one PNG per task).
    scib
        Score every latent space with scib-metrics.
    command
        The command that reproduces the run, recorded in the outputs.
    progress
        Show a progress bar over task × method.

    Returns
    -------
    The rows of ``results.json``: one per task × method.
    """
    budget = budget or Budget()
    load_at_start = os.getloadavg()[0]
    methods = list(METHODS) if methods is None else list(methods)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {list(METHODS)}.")
    integration_scores = _integration_scorer() if scib else None  # a missing scib-metrics fails before training
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = [(t, m) for t in tasks for m in methods if t.classifies or not METHODS[m][1]]
    rows: list[dict] = []
    bar = tqdm(total=len(plan), desc="benchmark", unit="run", disable=not progress)
    for task in tasks:
        latents: dict[str, np.ndarray] = {}
        task_rows: dict[str, dict] = {}
        cache: dict = {}
        for method in [m for t, m in plan if t is task]:
            bar.set_postfix_str(f"{task.name} · {method}")
            runner, _ = METHODS[method]
            start = time.perf_counter()
            with PeakMemory() as memory, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                output = runner(task, budget, cache)
            task_rows[method] = row = _row(task, method, output, memory.peak_gib)
            logger.info("%s · %s: %.0f s", task.name, method, time.perf_counter() - start)
            if output.latent is not None:
                latents[method] = output.latent
            if output.probabilities is not None:
                predicted = np.asarray(output.probabilities.columns)[output.probabilities.to_numpy().argmax(1)]
                _figures.confusion_matrix(task, method, predicted, out)
            if output.history:
                _figures.training_curves(task, method, output.history, out)
            bar.update()
            if progress:
                score = row.get("macro_f1", float("nan"))
                tqdm.write(f"{task.name:28s} {method:18s} macro-F1 {score:.3f}  train {row['train_seconds']:.0f} s")
        if integration_scores is not None and latents:
            scores = integration_scores(task, latents, out)
            for method, values in scores.iterrows():
                task_rows[method].update({k: float(v) for k, v in values.items()})
        if umap and latents:
            _figures.umaps(task, latents, out)
        rows += task_rows.values()
        # written after every task, so that a run stopped part-way keeps the tasks it finished
        _write(rows, out, tasks, budget, command, load_at_start)
    bar.close()
    return rows


def _write(
    rows: list[dict], out: Path, tasks: Sequence[Task], budget: Budget, command: str, load_at_start: float
) -> None:
    """``results.json``, ``report.md`` and ``summary.png`` of the rows so far."""
    _figures.summary(rows, out)
    write_results(
        rows,
        out,
        title="celltyper vs SCVI / SCANVI / logistic regression",
        command=command,
        columns=COLUMNS,
        higher_is_better=HIGHER_IS_BETTER,
        group_by=("task",),
        settings={
            **asdict(budget),
            "scanvi_epochs": budget.scanvi_epochs,
            "torch_threads": torch.get_num_threads(),
            # other processes on the machine slow every method down: the 1-minute load average, start and end
            "load_average": f"{load_at_start:.1f} → {os.getloadavg()[0]:.1f}",
        },
        notes="\n".join(["**Tasks.**", "", *(f"- `{t.name}`: {t.description}" for t in tasks), "", FAIRNESS]),
    )
