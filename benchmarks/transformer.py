"""Benchmark CellTypeTransformer against logistic regression and SCANVI on the bundled Zheng and Kang data.

Usage::

    python benchmarks/transformer.py --out docs/benchmarks/transformer
    # a variant of the transformer alone, e.g. without gene masking:
    python benchmarks/transformer.py --out /tmp/v --methods CellTypeTransformer --model-kwargs '{"gene_dropout": 0}'

One process, the same split and the same input genes (all genes of each dataset) for every method
(``celltyper.benchmark._transformer_benchmark``). Tasks: ``zheng_sorted_80_20``, Zheng sorted PBMC split 80/20 by
cell type (``random_state`` = ``--seed``; with ``--zheng-splits K`` also seeds + 1 … + K - 1, and the report ends
with each method's mean and range over the K splits); ``kang_ctrl_to_stim``, Kang IFN-β PBMC, control → stimulated.
Methods: CellTypeTransformer with its defaults (or ``--model-kwargs`` / ``--train-kwargs``); the benchmark's
logistic regression and SCANVI, SCANVI with ``--scvi-epochs`` of SCVI then ``--scanvi-epochs``, far below scvi's own
heuristic (400 epochs for these ~2k cells): say so when quoting it.
Writes ``results.json``, ``report.md`` and one confusion-matrix PNG per task and method to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

from celltyper.benchmark._script_output import script_command
from celltyper.benchmark._transformer_benchmark import (
    TRANSFORMER_METHODS,
    TRANSFORMER_TASKS,
    TransformerBenchmarkSettings,
    run_transformer_benchmark,
)


def main(argv: list[str] | None = None) -> Path:
    """Run every method on every task and write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder for results.json, report.md and the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Zheng split and of every method")
    parser.add_argument("--transformer-seed", type=int, default=None, help="seed of the transformer (default: --seed)")
    parser.add_argument("--methods", nargs="+", default=list(TRANSFORMER_METHODS), choices=TRANSFORMER_METHODS)
    parser.add_argument("--tasks", nargs="+", default=list(TRANSFORMER_TASKS), choices=TRANSFORMER_TASKS)
    parser.add_argument("--zheng-splits", type=int, default=1, help="Zheng splits: --seed, --seed + 1, …")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the target machine has 2 cores)")
    parser.add_argument("--scvi-epochs", type=int, default=40, help="SCVI pre-training epochs of the SCANVI baseline")
    parser.add_argument("--scanvi-epochs", type=int, default=10, help="SCANVI epochs after the SCVI pre-training")
    parser.add_argument("--model-kwargs", type=json.loads, default={}, help="JSON for CellTypeTransformer(...)")
    parser.add_argument("--train-kwargs", type=json.loads, default={}, help="JSON for CellTypeTransformer.train()")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=UserWarning)

    settings = TransformerBenchmarkSettings(
        **{k: v for k, v in vars(args).items() if k != "out"}  # every other flag is a setting of the same name
    )
    command = script_command("transformer.py", sys.argv[1:] if argv is None else argv)
    return run_transformer_benchmark(settings, args.out, command)


if __name__ == "__main__":
    main()
