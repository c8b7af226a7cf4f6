"""Speed of transfer_labels against logistic regression, by size, on a quiet and on a loaded machine.

Simulated counts (celltyper.datasets.simulate: 10,000 genes, 8 types, 4 batches, reference and query from different
batches) at 2,500 to 20,000 cells a side. Every row runs in a fresh process, so no row inherits another's threads or
caches. Rows: transfer_labels with its defaults; with latent=False; with torch's default threads (n_threads=None);
scikit-learn's LogisticRegression(max_iter=1000) on log1p(CP10k) of every gene. Two other processes keep
both cores busy while each row runs at the --load-sizes (what a user sees on a shared 2-core machine). Writes
results.json, report.md and transfer_speed.png:

    python benchmarks/transfer_speed.py --out docs/benchmarks/transfer_speed
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from celltyper.benchmark._script_output import script_command
from celltyper.benchmark._transfer_speed import SIZES, VARIANTS, speed_row, write_speed_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--load-sizes", type=int, nargs="*", default=[10000], help="sizes also measured under load")
    parser.add_argument("--docs-page", default=None, help="markdown page whose transfer-speed section to replace")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for load in (False, True):
        for variant in args.variants:
            for n_cells in args.load_sizes if load else args.sizes:
                rows.append(speed_row(variant, n_cells, load))
                print(rows[-1], flush=True)
    write_speed_report(rows, out, script_command("transfer_speed.py", sys.argv[1:]), args.docs_page)


if __name__ == "__main__":
    main()
