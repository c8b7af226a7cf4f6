"""Compare validation-suite runs of transfer_labels variants: the table its defaults were chosen from.

Each run is a folder written by benchmarks/validation_suite.py (with --set for the variant); this prints, and writes
to --out as markdown and JSON, each variant's mean and worst difference to logistic regression over the transfers:

    python benchmarks/validation_choices.py --out docs/benchmarks/validation_choices \
        --run "default=runs/default" --run "C=0.001=runs/c0001" ...
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import pandas as pd

from celltyper.benchmark._report import replace_section
from celltyper.benchmark._validation import transfer_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, metavar="NAME=FOLDER", help="a variant's suite run")
    parser.add_argument("--out", required=True, help="folder for choices.md and choices.json")
    parser.add_argument("--docs-page", default=None, help="markdown page whose validation-choices section to replace")
    args = parser.parse_args()
    rows, per_transfer = [], {}
    for item in args.run:
        name, folder = item.rsplit("=", 1)
        runs = pd.read_json(Path(folder) / "rows.jsonl", lines=True)
        runs = runs[runs["kind"] != "novel type"]
        _, summary = transfer_table(runs)
        wide = runs.pivot_table(index=["transfer", "seed"], columns="method", values="macro_f1")
        difference = (wide["celltyper"] - wide["logreg"]).groupby(level="transfer").mean()
        per_transfer[name] = difference.round(3).to_dict()
        rows.append(
            {
                "variant": name,
                "mean difference": round(summary["mean_difference"], 3),
                "worst transfer": f"{summary['worst_transfer']} ({summary['worst_difference']:+.3f})",
                "worst single seed": round(summary["worst_single_seed_difference"], 3),
                "transfers within −0.005": f"{summary['transfers_within_0.005']} of {summary['n_transfers']}",
            }
        )
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "choices.json").write_text(json.dumps({"variants": rows, "per_transfer": per_transfer}, indent=1))
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns)
    lines = [header, *("| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False))]
    detail = pd.DataFrame(per_transfer)
    detail_lines = ["| transfer | " + " | ".join(detail.columns) + " |", "|---|" + "---:|" * len(detail.columns)]
    detail_lines += [f"| {t} | " + " | ".join(f"{v:+.3f}" for v in row) + " |" for t, row in detail.iterrows()]
    front = ["---", "orphan: true", "---", "", "# transfer_labels variants on the validation suite", ""]
    (out / "choices.md").write_text("\n".join([*front, *lines, "", *detail_lines, ""]))
    if args.docs_page is not None:
        command = "python benchmarks/validation_choices.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        replace_section(args.docs_page, "validation-choices", "\n".join([f"`{command}`", "", *lines]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
