"""Run label transfer and its anchors on the validation suite, score every run, and summarise by worst case and mean.

The suite's transfers are defined in ``_suite.py``, the methods compared in ``_validation_runs.py``, their scores in
``_validation_scores.py``, the summaries in ``_validation_tables.py`` and the report in ``_validation_report.py``.
This module runs them all, resumably, and is where the benchmark scripts import the suite from.

Transfers are scored by macro-F1 over the query's types with at least 10 cells, "Unknown" counting as a miss;
leave-one-type-out tasks by how well each method's score ranks the left-out type's cells first (AUROC) and by what
its "Unknown" calls catch and cost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ._methods import Budget
from ._suite import novel_type_transfers, suite_transfers
from ._validation_report import write_suite_report
from ._validation_runs import METHODS, Run, as_task, run_method
from ._validation_scores import score_novel_type, transfer_scores
from ._validation_tables import transfer_table

# What benchmarks/validation_suite.py, validation_choices.py and flow.py import from here, besides run_suite.
__all__ = [
    "METHODS",
    "as_task",
    "run_suite",
    "transfer_scores",
    "transfer_table",
    "write_suite_report",
]


def run_suite(
    out_dir: str | Path,
    *,
    seeds: Sequence[int],
    transfers: Sequence[str] | None = None,
    novel_sources: Sequence[str] = (),
    methods: Sequence[str] = ("celltyper", "logreg"),
    novel_methods: Sequence[str] = ("celltyper", "logreg"),
    variant: dict | None = None,
    data_dir: str | Path | None = None,
    budget: Budget | None = None,
) -> pd.DataFrame:
    """Run ``methods`` on every transfer and seed, and ``novel_methods`` on every left-out type of ``novel_sources``.

    Each run's scores are appended to ``out_dir/rows.jsonl`` as soon as it finishes (a run already there is skipped,
    so an interrupted suite resumes), and each query cell's truth, prediction, confidence and novelty go to
    ``out_dir/cells/`` for the trade-off curves. Leave-one-type-out runs of celltyper skip the latent model, which
    changes neither its labels nor its scores.

    Returns
    -------
    Every row of ``rows.jsonl``.
    """
    out = Path(out_dir)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    rows_file = out / "rows.jsonl"
    done = {(r["method"], r["transfer"], r["seed"]) for r in _read_rows(rows_file)}
    variant = variant or {}
    budget = budget or Budget()

    def record(run_key: tuple, fields: dict, run: Run) -> None:
        method, name, seed = run_key
        run.cells.to_csv(out / "cells" / f"{method}__{name}__{seed}.csv.gz", index=False)
        with rows_file.open("a") as handle:
            handle.write(json.dumps({"method": method, "transfer": name, "seed": seed, **fields}) + "\n")

    for seed in seeds:
        for transfer in suite_transfers(list(transfers) if transfers else None, data_dir, seed):
            for method in methods:
                if (method, transfer.name, seed) in done:
                    continue
                run = run_method(method, transfer, seed, variant, budget)
                sizes = {"n_reference": transfer.reference.n_obs, "n_query": transfer.query.n_obs}
                record((method, transfer.name, seed), {"kind": transfer.kind, **sizes, **run.record}, run)
        for source in novel_sources:
            for transfer in novel_type_transfers(source, data_dir, seed):
                for method in novel_methods:
                    if (method, transfer.name, seed) in done:
                        continue
                    run = run_method(method, transfer, seed, {**variant, "latent": False}, budget)
                    fields = {"kind": "novel type", "source": source, "novel_type": transfer.novel_type}
                    record((method, transfer.name, seed), {**fields, "scores": score_novel_type(transfer, run)}, run)
    return pd.DataFrame(_read_rows(rows_file))


def _read_rows(rows_file: Path) -> list[dict]:
    return [json.loads(line) for line in rows_file.read_text().splitlines()] if rows_file.exists() else []
