"""The validation suite that transfer_labels' defaults are chosen on: transfers across donors, studies, conditions,
tissues and simulated platforms, plus leave-one-type-out tasks (celltyper.benchmark._suite).

Runs celltyper (transfer_labels, defaults plus any --set overrides), logistic regression (CellTypist's method) and,
with --methods ... scanvi, SCANVI, every seed in one process per call; rows land in OUT/rows.jsonl as they finish
(a rerun skips what is there), then OUT/results.json, report.md, transfers.png and tradeoff.png are written, and
with --docs-page the page's validation-suite section is replaced:

    python benchmarks/validation_suite.py --out docs/benchmarks/validation --seeds 0 1 2 \
        --novel zheng_halves kang8_4to4 --docs-page docs/transfer.md
    python benchmarks/validation_suite.py --out runs/no_shift_filter --seeds 0 1 2 --set max_gene_shift=null
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import warnings

import yaml

from celltyper.benchmark import Budget
from celltyper.benchmark._suite import NOVEL_TYPE_SOURCES, TRANSFERS
from celltyper.benchmark._validation import METHODS, run_suite, write_suite_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for rows.jsonl, cells/, results.json, report.md, plots")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    parser.add_argument("--transfers", nargs="+", choices=list(TRANSFERS), help="transfers (default: all)")
    parser.add_argument("--novel", nargs="*", default=[], choices=list(NOVEL_TYPE_SOURCES), help="LOTO sources")
    parser.add_argument("--methods", nargs="+", default=["celltyper", "logreg"], choices=METHODS)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="transfer_labels arguments (YAML)")
    parser.add_argument("--data", default=None, help="folder of the real datasets (default: ../shared/data)")
    parser.add_argument("--docs-page", default=None, help="markdown page whose validation-suite section to replace")
    args = parser.parse_args()

    variant = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    rows = run_suite(
        args.out,
        seeds=args.seeds,
        transfers=args.transfers,
        novel_sources=args.novel,
        methods=args.methods,
        novel_methods=args.methods,
        variant=variant,
        data_dir=args.data,
        budget=Budget(),
    )
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    print(write_suite_report(rows, args.out, command, args.docs_page))


if __name__ == "__main__":
    main()
