"""SemiSupervisedCountVAE with and without the z1 / z2 hierarchy and a normalizing flow, on validation-suite transfers.

Each variant trains on the reference (labelled) and the query (unlabelled) together, the M2 / scANVI setting, for
the same epochs, batch size and seed, on the reference's 2,000 most variable shared genes; the query's batches are
batches of their own. Scored: the classifier's macro-F1 on the query (types with ≥ 10 cells) and its expected
calibration error, the ELBO of the held-out validation cells (10 %, never trained on), and seconds per epoch,
wall-clock and CPU (the process's own CPU time, which other jobs on shared cores inflate far less).
Writes OUT/results.json and OUT/table.md:

    python benchmarks/flow.py --out docs/benchmarks/flow
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from celltyper.benchmark import Budget
from celltyper.benchmark._flow_benchmark import (
    DEFAULT_TRANSFERS,
    VARIANTS,
    fastest_of_repeats,
    flow_table,
    write_flow_results,
)
from celltyper.benchmark._script_output import script_command, silence_training_logs
from celltyper.benchmark._suite import TRANSFERS, suite_transfers
from celltyper.benchmark._validation import as_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for results.json and table.md")
    parser.add_argument("--transfers", nargs="+", default=DEFAULT_TRANSFERS, choices=list(TRANSFERS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS)[:4], choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of every variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each variant, interleaved; the fastest kept")
    args = parser.parse_args()
    torch.set_num_threads(1)
    silence_training_logs()
    budget = Budget(max_epochs=args.epochs, seed=args.seed)
    rows = []
    for transfer in suite_transfers(args.transfers, seed=args.seed):
        task = as_task(transfer, n_top_genes=2000)
        rows += fastest_of_repeats(task, transfer.name, args.variants, args.repeats, budget)
    settings = {"epochs": args.epochs, "seed": args.seed, "repeats": args.repeats, "batch_size": budget.batch_size}
    write_flow_results(rows, Path(args.out), script_command("flow.py", sys.argv[1:]), settings)
    print("\n".join(flow_table(rows)))


if __name__ == "__main__":
    main()
