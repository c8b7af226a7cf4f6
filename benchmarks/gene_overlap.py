"""Label transfer with fewer and fewer of the annotator's genes in the query, on the validation suite.

Measures where ``celltyper._gene_overlap.MIN_GENE_OVERLAP`` (refuse) and ``WARN_GENE_OVERLAP`` (warn) sit: an
annotator fitted on each reference alone annotates its query with a random share of the genes it reads removed
(``celltyper.benchmark._gene_overlap_sweep``). Cells of each entry: macro-F1 ("Unknown" a miss) and, in brackets,
the share of the annotator's genes the query then has. Writes ``results.json`` and ``report.md`` to ``--out``:

    python benchmarks/gene_overlap.py --out docs/benchmarks/gene_overlap [--transfers kang8_4to4 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from celltyper.benchmark._gene_overlap_sweep import FRACTIONS, sweep_report, sweep_transfer
from celltyper.benchmark._script_output import results_page, script_command, silence_training_logs
from celltyper.benchmark._suite import TRANSFERS, suite_transfers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--transfers", nargs="+", choices=TRANSFERS, default=None, help="default: every transfer")
    parser.add_argument("--data", default=None, help="folder with the shared datasets (default ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    silence_training_logs()
    rows = []
    for transfer in suite_transfers(args.transfers, args.data, args.seed):
        rows += sweep_transfer(transfer, FRACTIONS, args.seed)
        print(json.dumps(rows[-len(FRACTIONS) :]), flush=True)
    command = script_command("gene_overlap.py", sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1))
    body = [f"Command: `{command}`", "", *sweep_report(rows)]
    (args.out / "report.md").write_text(results_page("Label transfer with missing genes", body))


if __name__ == "__main__":
    main()
