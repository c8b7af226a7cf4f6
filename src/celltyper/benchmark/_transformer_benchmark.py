"""The CellTypeTransformer benchmark (``benchmarks/transformer.py``): against logistic regression and SCANVI.

One process, the same split and the same input genes (all genes of each dataset) for every method. Tasks:
``zheng_sorted_80_20``, Zheng sorted PBMC split 80/20 by cell type (seed ``seed``, and with ``zheng_splits`` K also
seeds + 1 … + K - 1, summarised by :func:`split_summary`); ``kang_ctrl_to_stim``, Kang IFN-β PBMC, control →
stimulated. SCANVI trains ``scvi_epochs`` of SCVI then ``scanvi_epochs``, far below scvi's own heuristic (400
epochs for these ~2k cells). Writes ``results.json``, ``report.md`` and a confusion matrix per task and method.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scvi
import torch
from anndata import AnnData

import celltyper as ct

from ._logreg import fit_logreg, log_normalized
from ._methods import Budget, run_scanvi
from ._metrics import classification_metrics
from ._pairs import Pair, kang_conditions, pair_task, zheng_holdout
from ._report import write_results

logger = logging.getLogger(__name__)

TRANSFORMER_METHODS = ("CellTypeTransformer", "logreg", "SCANVI")
TRANSFORMER_TASKS = ("zheng_sorted_80_20", "kang_ctrl_to_stim")
COLUMNS = ("method", "accuracy", "macro_f1", "train_s", "cpu_s", "predict_cells_per_s", "n_train", "n_test", "n_genes")
HIGHER_IS_BETTER = {"accuracy": True, "macro_f1": True, "train_s": False, "cpu_s": False, "predict_cells_per_s": True}
TIMING_NOTE = (
    "train_s: wall-clock training seconds; cpu_s: CPU seconds of this process for training and prediction (all "
    "threads). The CPU was shared with other jobs, so wall-clock times are pessimistic; compare within one run only."
)


@dataclass(frozen=True)
class TransformerBenchmarkSettings:
    """Which methods run on which tasks, and what each is given.

    Attributes
    ----------
    seed
        Seed of the first Zheng split and of every method.
    transformer_seed
        Seed of CellTypeTransformer (``None``: the task's seed).
    methods, tasks
        Of :data:`TRANSFORMER_METHODS` and :data:`TRANSFORMER_TASKS`.
    zheng_splits
        Zheng splits, seeded ``seed``, ``seed + 1``, …
    threads
        torch threads.
    scvi_epochs, scanvi_epochs
        SCVI pre-training epochs of the SCANVI baseline, then SCANVI's.
    model_kwargs, train_kwargs
        For ``CellTypeTransformer(...)`` and its ``train()``.
    """

    seed: int = 0
    transformer_seed: int | None = None
    methods: Sequence[str] = TRANSFORMER_METHODS
    tasks: Sequence[str] = TRANSFORMER_TASKS
    zheng_splits: int = 1
    threads: int = 2
    scvi_epochs: int = 40
    scanvi_epochs: int = 10
    model_kwargs: dict = field(default_factory=dict)
    train_kwargs: dict = field(default_factory=dict)

    def method_seed(self, method: str, task_seed: int) -> int:
        """The seed ``method`` trains with on a task of ``task_seed``."""
        if method == "CellTypeTransformer" and self.transformer_seed is not None:
            return self.transformer_seed
        return task_seed

    def recorded(self) -> dict:
        """The settings written to ``results.json`` and ``report.md``."""
        return {
            "seed": self.seed,
            "zheng_splits": self.zheng_splits,
            "transformer_seed": self.seed if self.transformer_seed is None else self.transformer_seed,
            "torch_threads": self.threads,
            "genes": "all genes of each dataset",
            "scanvi_epochs": f"SCVI {self.scvi_epochs} then SCANVI {self.scanvi_epochs}",
            "transformer_model_kwargs": self.model_kwargs,
            "transformer_train_kwargs": self.train_kwargs,
        }


def predict(
    method: str, task: str, reference: AnnData, query: AnnData, seed: int, settings: TransformerBenchmarkSettings
) -> tuple[np.ndarray, float, float]:
    """The query's predicted types by ``method`` trained on ``reference``, and its training and prediction seconds."""
    scvi.settings.seed = seed
    start = time.perf_counter()
    if method == "SCANVI":
        budget = Budget(max_epochs=settings.scvi_epochs, seed=seed, scanvi_max_epochs=settings.scanvi_epochs)
        output = run_scanvi(pair_task(task, reference, query, "cell_type"), budget, {})
        assert output.probabilities is not None  # SCANVI classifies
        return output.probabilities.idxmax(axis=1).to_numpy(), output.train_seconds, output.predict_seconds
    if method == "logreg":
        model = fit_logreg(log_normalized(reference), reference.obs["cell_type"].to_numpy(), max_iter=2000)
    else:
        ct.CellTypeTransformer.setup_anndata(reference, labels_key="cell_type", layer="counts")
        model = ct.CellTypeTransformer(reference, **settings.model_kwargs)
        model.train(seed=seed, **settings.train_kwargs)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(log_normalized(query) if method == "logreg" else query)
    return np.asarray(predicted), train_seconds, time.perf_counter() - start


def zheng_seeds(settings: TransformerBenchmarkSettings) -> list[int]:
    """Seeds of the Zheng splits that run (none when the Zheng task does not)."""
    if "zheng_sorted_80_20" not in settings.tasks:
        return []
    return [settings.seed + i for i in range(settings.zheng_splits)]


def task_runs(settings: TransformerBenchmarkSettings) -> list[tuple[str, Pair, int]]:
    """(name, reference / query, seed) of every run: the first Zheng split, Kang, then the other Zheng splits."""
    zheng = ct.datasets.zheng_sorted()  # read once; every split is taken from it
    zheng_runs = [
        (f"zheng_sorted_80_20{'' if s == settings.seed else f'_seed{s}'}", zheng_holdout(zheng, s), s)
        for s in zheng_seeds(settings)
    ]
    with_kang = "kang_ctrl_to_stim" in settings.tasks
    kang_runs = [("kang_ctrl_to_stim", kang_conditions(), settings.seed)] if with_kang else []
    return zheng_runs[:1] + kang_runs + zheng_runs[1:]


def split_summary(rows: Sequence[dict], seeds: Sequence[int]) -> list[str]:
    """Markdown lines: each method's macro-F1 on every Zheng split, their mean and range."""
    frame = (
        pd.DataFrame(rows).query("dataset == 'zheng'").pivot(index="method", columns="split_seed", values="macro_f1")
    )
    lines = [
        f"## Zheng over {len(seeds)} stratified 80/20 splits",
        "",
        "| method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | min – max |",
        "|---|" + "---|" * (len(seeds) + 2),
    ]
    for method, f1 in frame.iterrows():
        values = " | ".join(f"{v:.3f}" for v in f1)
        lines.append(f"| {method} | {values} | {f1.mean():.3f} | {f1.min():.3f} – {f1.max():.3f} |")
    return [*lines, ""]


def per_class_f1_lines(rows: Sequence[dict]) -> list[str]:
    """Markdown lines: the per-class F1 of every task and method."""
    return ["## Per-class F1", ""] + [
        f"- {r['task']} / {r['method']}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_class_f1"].items())
        for r in rows
    ]


def run_transformer_benchmark(settings: TransformerBenchmarkSettings, out: str | Path, command: str) -> Path:
    """Run every method of ``settings`` on every task, save the confusion matrices and write the report.

    Confusion matrices (``confusion_<task>_<method>.png``) are drawn for the runs of seed ``settings.seed``.
    Returns the path of ``report.md``.
    """
    torch.set_num_threads(settings.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task, (reference, query), task_seed in task_runs(settings):
        truth = query.obs["cell_type"].astype(str).to_numpy()
        labels = sorted(set(reference.obs["cell_type"].astype(str)))
        for method in settings.methods:
            seed = settings.method_seed(method, task_seed)
            cpu_start = time.process_time()
            predicted, train_s, predict_s = predict(method, task, reference.copy(), query.copy(), seed, settings)
            scores = classification_metrics(truth, predicted.tolist(), labels=labels)
            if task_seed == settings.seed:
                obs = pd.DataFrame({"cell_type": truth, "prediction": predicted})
                path = out / f"confusion_{task}_{method}.png"
                plt.close(ct.pl.confusion_matrix(AnnData(obs=obs), "cell_type", "prediction", save=path))
            rows.append(
                {
                    "dataset": task.split("_")[0],
                    "task": task,
                    "split_seed": task_seed,
                    "method": method,
                    "accuracy": scores["accuracy"],
                    "macro_f1": scores["macro_f1"],
                    "train_s": train_s,
                    "cpu_s": time.process_time() - cpu_start,
                    "predict_cells_per_s": len(truth) / predict_s,
                    "n_train": reference.n_obs,
                    "n_test": query.n_obs,
                    "n_genes": reference.n_vars,
                    "per_class_f1": scores["per_class_f1"],
                }
            )
            accuracy, macro_f1 = scores["accuracy"], scores["macro_f1"]
            logger.info("%s %s: acc %.3f macro-F1 %.3f %.0f s", task, method, accuracy, macro_f1, train_s)
    seeds = zheng_seeds(settings)
    notes = (split_summary(rows, seeds) if len(seeds) > 1 else []) + per_class_f1_lines(rows)
    return write_results(
        rows,
        out,
        title="CellTypeTransformer vs logistic regression vs SCANVI",
        command=command,
        columns=COLUMNS,
        higher_is_better=HIGHER_IS_BETTER,
        group_by=("task",),
        settings=settings.recorded(),
        notes="\n".join(notes) + "\n\n" + TIMING_NOTE,
    )
