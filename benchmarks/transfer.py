"""Label transfer: celltyper.tl.transfer_labels vs SCANVI (scArches), logistic regression and kNN on the scVI latent.

Every method runs in this one process on the same reference / query cells, with the same epochs for reference
training and query mapping. ``transfer_labels`` gets the full data and picks its own genes; the baselines get the
reference's ``--n-top-genes`` highly variable genes (seurat_v3). Methods, tasks and their scores are
``celltyper.benchmark._transfer_methods`` and ``._transfer_tasks``:

- ``kang``: Kang IFN-β PBMC (bundled), train on control, annotate stimulated.
- ``kang_8donors``: Kang control PBMC of 8 donors (shared data), train on 4 donors, annotate the other 4.
- ``zheng``: Zheng sorted PBMC (bundled) → frozen donor A (shared data, no labels): predicted composition and the
  share of cells whose predicted lineage (T / B / NK / monocyte) has the highest marker score.
- ``novel``: Kang ctrl → stim with one type removed from the reference: AUROC of (1 − confidence) separating that
  type's query cells from the others, and the share of them called "Unknown".

Each task's rows are kept in ``--out/rows/<task>.json``, so tasks can run as separate commands into one folder;
every run writes ``results.json``, ``report.md`` and ``transfer_benchmark.png`` of all tasks found there:

    python benchmarks/transfer.py --out runs/transfer [--tasks kang kang_8donors zheng novel] [--epochs 50]
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from celltyper.benchmark import Budget
from celltyper.benchmark._script_output import script_command
from celltyper.benchmark._transfer_methods import ALL_TRANSFER_METHODS, DEFAULT_TRANSFER_METHODS, TransferSettings
from celltyper.benchmark._transfer_report import save_task_rows, write_transfer_report
from celltyper.benchmark._transfer_tasks import TRANSFER_TASKS, run_transfer_task


def main(argv: list[str] | None = None) -> Path:
    """Run the chosen methods on the chosen tasks, keep each task's rows and write the report of all tasks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--data", default=None, help="folder with the shared datasets (default ../shared/data)")
    parser.add_argument("--tasks", nargs="+", default=list(TRANSFER_TASKS), choices=TRANSFER_TASKS)
    parser.add_argument("--epochs", type=int, default=50, help="reference training epochs (every model)")
    parser.add_argument("--query-epochs", type=int, default=50, help="query mapping epochs (every model)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-top-genes", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=DEFAULT_TRANSFER_METHODS, choices=ALL_TRANSFER_METHODS)
    parser.add_argument("--novel-types", nargs="+", default=["B", "NK"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    warnings.filterwarnings("ignore")

    budget = Budget(max_epochs=args.epochs, query_epochs=args.query_epochs, batch_size=args.batch_size)
    settings = TransferSettings(budget, args.n_top_genes, args.methods, args.novel_types, args.data)
    recorded = {k: v for k, v in vars(args).items() if k not in ("out", "tasks", "methods", "data")}
    command = script_command("transfer.py", sys.argv[1:] if argv is None else argv)
    for task in args.tasks:
        save_task_rows(args.out, task, run_transfer_task(task, settings), command, recorded)
    return write_transfer_report(args.out)


if __name__ == "__main__":
    main()
