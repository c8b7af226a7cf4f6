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
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

import celltyper as ct

PYTHON = """
import time, sys
import anndata as ad
import celltyper as ct
adata = ad.read_h5ad(sys.argv[1])
annotate = ct.tl.annotate  # imports celltyper.tl (torch, scvi-tools) outside the timed call
start = time.perf_counter()
annotate(adata, model="pbmc", progress_bar=False)
print(time.perf_counter() - start)
adata.obs["celltyper_prediction"].to_csv(sys.argv[2])
"""


def timed(command: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, **kwargs)
    return time.perf_counter() - start, done


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_and_post(query: Path, out: Path) -> tuple[float, float]:
    """Start ``celltyper serve``, wait for it, post ``query`` with curl; (start-up seconds, request seconds)."""
    port = free_port()
    start = time.perf_counter()
    server = subprocess.Popen(
        [Path(sys.executable).parent / "celltyper", "serve", "--model", "pbmc", "--port", str(port)]
    )
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        startup = time.perf_counter() - start
        url = f"http://127.0.0.1:{port}/annotate?format=csv"
        seconds, _ = timed(["curl", "-sf", "-F", f"file=@{query}", url, "-o", str(out)])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return startup, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())  # the h5ad, the CLI's outputs and the answers: not results
    query = work / "donor_a.h5ad"
    ct.datasets.zheng_donor_a().write_h5ad(query)
    env = {**os.environ, "OMP_NUM_THREADS": "2"}

    python_seconds, done = timed([sys.executable, "-c", PYTHON, str(query), str(work / "python.csv")], env=env)
    cli_seconds, _ = timed(
        ["celltyper", "annotate", "--model", "pbmc", "--input", str(query), "--out", str(work / "cli")], env=env
    )
    startup, api_seconds = serve_and_post(query, work / "api.csv")

    labels = {
        "python": pd.read_csv(work / "python.csv", index_col=0).iloc[:, 0],
        "cli": pd.read_csv(work / "cli" / "predictions.csv", index_col=0)["celltyper_prediction"],
        "api": pd.read_csv(work / "api.csv", index_col=0)["prediction"],
    }
    identical = all(labels["python"].equals(other.reindex(labels["python"].index)) for other in labels.values())
    results = {
        "n_cells": int(len(labels["python"])),
        "seconds": {"python": python_seconds, "cli": cli_seconds, "api": api_seconds},
        "annotate_call_seconds": float(done.stdout.strip().splitlines()[-1]),
        "server_startup_seconds": startup,
        "identical_labels": bool(identical),
        "predictions": labels["python"].value_counts().to_dict(),
        "machine": f"{os.cpu_count()} cores",
    }
    (args.out / "deploy.json").write_text(json.dumps(results, indent=2))
    rows = [f"| {way} | {seconds:.1f} |" for way, seconds in results["seconds"].items()]
    report = [
        *("---", "orphan: true", "---", ""),  # a results page the docs link to, outside the toctree
        "# Frozen donor A with the built-in PBMC model",
        "",
        f"Command: `python benchmarks/deploy.py --out {args.out}`; {results['n_cells']:,} cells, {results['machine']}.",
        "",
        "| way | seconds (whole process or request) |",
        "|---|---:|",
        *rows,
        "",
        f"`ct.tl.annotate` alone: {results['annotate_call_seconds']:.1f} s; server start-up "
        f"{startup:.1f} s. Identical labels on all three: {identical}.",
        "",
        "| predicted type | cells |",
        "|---|---:|",
        *[f"| {t} | {n:,} |" for t, n in results["predictions"].items()],
    ]
    (args.out / "report.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
