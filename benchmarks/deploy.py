"""A newcomer's three ways to annotate frozen donor A with the built-in PBMC model: Python, CLI and HTTP.

Each is timed as a user runs it, as a whole process on the bundled cells written to an h5ad (2,896 cells):

- ``python``: ``python -c "... ct.tl.annotate(adata, model='pbmc') ..."`` (imports and reading included), and the
  ``ct.tl.annotate`` call alone (after the imports), measured inside that process;
- ``cli``: ``celltyper annotate --model pbmc --input donor_a.h5ad --out DIR`` (report and figures included);
- ``api``: ``curl -F file=@donor_a.h5ad http://127.0.0.1:PORT/annotate`` against ``celltyper serve --model pbmc``
  (the server's start-up is timed separately).

The three label sets must be identical. Writes ``deploy.json`` and ``report.md`` to ``--out``.

    python benchmarks/deploy.py --out docs/benchmarks/deploy
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import celltyper as ct
from celltyper.benchmark._deploy_timing import deploy_report, time_three_ways
from celltyper.benchmark._script_output import script_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())  # the h5ad, the CLI's outputs and the answers: not results
    query = work / "donor_a.h5ad"
    ct.datasets.zheng_donor_a().write_h5ad(query)
    results = time_three_ways(query, work)
    (args.out / "deploy.json").write_text(json.dumps(results, indent=2))
    report = deploy_report(results, script_command("deploy.py", ["--out", str(args.out)]))
    (args.out / "report.md").write_text(report)
    print(report, end="")


if __name__ == "__main__":
    main()
