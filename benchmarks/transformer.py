"""Benchmark CellTypeTransformer against logistic regression and SCANVI on the bundled Zheng and Kang data.

Usage::

    python benchmarks/transformer.py --out docs/benchmarks/transformer
    # a variant of the transformer alone, e.g. without gene masking:
    python benchmarks/transformer.py --out /tmp/v --methods CellTypeTransformer --model-kwargs '{"gene_dropout": 0}'

One process, the same split and the same input genes (all genes of each dataset) for every method. Tasks
(``celltyper.benchmark._pairs``): ``zheng_sorted_80_20``, Zheng sorted PBMC split 80/20 by cell type
(``random_state`` = ``--seed``; with ``--zheng-splits K`` also seeds + 1 … + K - 1, and the report ends with each
method's mean and range over the K splits); ``kang_ctrl_to_stim``, Kang IFN-β PBMC, control → stimulated.
Methods: CellTypeTransformer with its defaults (or ``--model-kwargs`` / ``--train-kwargs``); the benchmark's
logistic regression and SCANVI (``celltyper.benchmark``), SCANVI with ``--scvi-epochs`` of SCVI then
``--scanvi-epochs``, far below scvi's own heuristic (400 epochs for these ~2k cells): say so when quoting it.
Writes ``results.json``, ``report.md`` and one confusion-matrix PNG per task and method to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scvi
import torch
from anndata import AnnData

import celltyper as ct
from celltyper.benchmark import Budget, classification_metrics, write_results
from celltyper.benchmark._logreg import fit_logreg, log_normalized
from celltyper.benchmark._methods import run_scanvi
from celltyper.benchmark._pairs import kang_conditions, pair_task, zheng_holdout

METHODS = ("CellTypeTransformer", "logreg", "SCANVI")
TASKS = ("zheng_sorted_80_20", "kang_ctrl_to_stim")


def predict(method: str, task: str, ref: AnnData, query: AnnData, seed: int, args) -> tuple[np.ndarray, float, float]:
    """The query's predicted types, and the training and prediction seconds (wall) of ``method``."""
    scvi.settings.seed = seed
    start = time.perf_counter()
    if method == "SCANVI":
        budget = Budget(max_epochs=args.scvi_epochs, seed=seed, scanvi_max_epochs=args.scanvi_epochs)
        output = run_scanvi(pair_task(task, ref, query, "cell_type"), budget, {})
        assert output.probabilities is not None  # SCANVI classifies
        return output.probabilities.idxmax(axis=1).to_numpy(), output.train_seconds, output.predict_seconds
    if method == "logreg":
        model = fit_logreg(log_normalized(ref), ref.obs["cell_type"].to_numpy(), max_iter=2000)
    else:
        ct.CellTypeTransformer.setup_anndata(ref, labels_key="cell_type", layer="counts")
        model = ct.CellTypeTransformer(ref, **args.model_kwargs)
        model.train(seed=seed, **args.train_kwargs)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(log_normalized(query) if method == "logreg" else query)
    return np.asarray(predicted), train_s, time.perf_counter() - start


def split_summary(rows: list[dict], seeds: list[int]) -> list[str]:
    """Markdown: each method's macro-F1 on every Zheng split, their mean and range."""
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
        lines.append(
            f"| {method} | "
            + " | ".join(f"{v:.3f}" for v in f1)
            + f" | {f1.mean():.3f} | {f1.min():.3f} – {f1.max():.3f} |"
        )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> Path:
    """Run every method on every task and write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder for results.json, report.md and the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Zheng split and of every method")
    parser.add_argument("--transformer-seed", type=int, default=None, help="seed of the transformer (default: --seed)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--zheng-splits", type=int, default=1, help="Zheng splits: --seed, --seed + 1, …")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the target machine has 2 cores)")
    parser.add_argument("--scvi-epochs", type=int, default=40, help="SCVI pre-training epochs of the SCANVI baseline")
    parser.add_argument("--scanvi-epochs", type=int, default=10, help="SCANVI epochs after the SCVI pre-training")
    parser.add_argument("--model-kwargs", type=json.loads, default={}, help="JSON for CellTypeTransformer(...)")
    parser.add_argument("--train-kwargs", type=json.loads, default={}, help="JSON for CellTypeTransformer.train()")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    args.out.mkdir(parents=True, exist_ok=True)

    zheng = ct.datasets.zheng_sorted()  # read once; every split is taken from it
    seeds = [args.seed + i for i in range(args.zheng_splits)] if "zheng_sorted_80_20" in args.tasks else []
    zheng_runs = [
        (f"zheng_sorted_80_20{'' if s == args.seed else f'_seed{s}'}", zheng_holdout(zheng, s), s) for s in seeds
    ]
    kang_runs = [("kang_ctrl_to_stim", kang_conditions(), args.seed)] if "kang_ctrl_to_stim" in args.tasks else []
    runs = zheng_runs[:1] + kang_runs + zheng_runs[1:]
    rows = []
    for task, (ref, query), task_seed in runs:
        truth = query.obs["cell_type"].astype(str).to_numpy()
        labels = sorted(set(ref.obs["cell_type"].astype(str)))
        for method in args.methods:
            seed = (
                args.transformer_seed
                if method == "CellTypeTransformer" and args.transformer_seed is not None
                else task_seed
            )
            cpu_start = time.process_time()
            predicted, train_s, predict_s = predict(method, task, ref.copy(), query.copy(), seed, args)
            scores = classification_metrics(truth, predicted, labels=labels)
            if task_seed == args.seed:
                obs = pd.DataFrame({"cell_type": truth, "prediction": predicted})
                ct.pl.confusion_matrix(
                    AnnData(obs=obs), "cell_type", "prediction", save=args.out / f"confusion_{task}_{method}.png"
                )
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
                    "n_train": ref.n_obs,
                    "n_test": query.n_obs,
                    "n_genes": ref.n_vars,
                    "per_class_f1": scores["per_class_f1"],
                }
            )
            print(f"{task} {method}: acc {scores['accuracy']:.3f} macro-F1 {scores['macro_f1']:.3f} {train_s:.0f} s")

    notes = split_summary(rows, seeds) if len(seeds) > 1 else []
    notes += ["## Per-class F1", ""] + [
        f"- {r['task']} / {r['method']}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_class_f1"].items())
        for r in rows
    ]
    return write_results(
        rows,
        args.out,
        title="CellTypeTransformer vs logistic regression vs SCANVI",
        command="python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        columns=[
            "method",
            "accuracy",
            "macro_f1",
            "train_s",
            "cpu_s",
            "predict_cells_per_s",
            "n_train",
            "n_test",
            "n_genes",
        ],
        higher_is_better={
            "accuracy": True,
            "macro_f1": True,
            "train_s": False,
            "cpu_s": False,
            "predict_cells_per_s": True,
        },
        group_by=("task",),
        settings={
            "seed": args.seed,
            "zheng_splits": args.zheng_splits,
            "transformer_seed": args.seed if args.transformer_seed is None else args.transformer_seed,
            "torch_threads": args.threads,
            "genes": "all genes of each dataset",
            "scanvi_epochs": f"SCVI {args.scvi_epochs} then SCANVI {args.scanvi_epochs}",
            "transformer_model_kwargs": args.model_kwargs,
            "transformer_train_kwargs": args.train_kwargs,
        },
        notes="\n".join(notes)
        + "\n\ntrain_s: wall-clock training seconds; cpu_s: CPU seconds of this process for training "
        "and prediction (all threads). The CPU was shared with other jobs, so wall-clock times are pessimistic; "
        "compare within one run only.",
    )


if __name__ == "__main__":
    main()
