"""A newcomer's three ways to annotate with a built-in model, each timed as a user runs it: Python, CLI and HTTP.

The benchmark of ``benchmarks/deploy.py``. Each way is a whole process on an h5ad file: ``python -c`` calling
``ct.tl.annotate`` (imports and reading included; the call alone is also timed inside that process), ``celltyper
annotate`` (report and figures included), and ``curl`` posting the file to ``celltyper serve`` (the server's start-up
timed separately). The three label sets must be identical.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd

from ._script_output import pipe_table, results_page
from ._timing import timed_run

#: The Python way: argv[1] the h5ad, argv[2] the predictions CSV; prints the seconds of the annotate call alone.
#: The command line of the environment running this benchmark (found without an activated virtual environment).
CELLTYPER = Path(sys.executable).parent / "celltyper"

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_and_post(query: Path, out: Path) -> tuple[float, float]:
    """Start ``celltyper serve``, wait for it, post ``query`` with curl; (start-up seconds, request seconds)."""
    port = free_port()
    start = time.perf_counter()
    server = subprocess.Popen([CELLTYPER, "serve", "--model", "pbmc", "--port", str(port)])
    try:
        _wait_until_healthy(server, port)
        startup = time.perf_counter() - start
        url = f"http://127.0.0.1:{port}/annotate?format=csv"
        seconds, _ = timed_run(["curl", "-sf", "-F", f"file=@{query}", url, "-o", str(out)])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return startup, seconds


def _wait_until_healthy(server: subprocess.Popen, port: int, timeout: float = 120) -> None:
    """Poll the server's ``/health`` until it answers; raise if the server exits or ``timeout`` seconds pass."""
    start = time.perf_counter()
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except OSError:
            if server.poll() is not None or time.perf_counter() - start > timeout:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def time_three_ways(query: Path, work: Path) -> dict:
    """Annotate ``query`` the three ways (outputs under ``work``); seconds, identical labels, predicted type counts."""
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    python_seconds, done = timed_run([sys.executable, "-c", PYTHON, str(query), str(work / "python.csv")], env=env)
    cli_seconds, _ = timed_run(
        [str(CELLTYPER), "annotate", "--model", "pbmc", "--input", str(query), "--out", str(work / "cli")], env=env
    )
    startup, api_seconds = serve_and_post(query, work / "api.csv")
    labels = {
        "python": pd.read_csv(work / "python.csv", index_col=0).iloc[:, 0],
        "cli": pd.read_csv(work / "cli" / "predictions.csv", index_col=0)["celltyper_prediction"],
        "api": pd.read_csv(work / "api.csv", index_col=0)["prediction"],
    }
    identical = all(labels["python"].equals(other.reindex(labels["python"].index)) for other in labels.values())
    return {
        "n_cells": int(len(labels["python"])),
        "seconds": {"python": python_seconds, "cli": cli_seconds, "api": api_seconds},
        "annotate_call_seconds": float(done.stdout.strip().splitlines()[-1]),
        "server_startup_seconds": startup,
        "identical_labels": bool(identical),
        "predictions": labels["python"].value_counts().to_dict(),
        "machine": f"{os.cpu_count()} cores",
    }


def deploy_report(results: dict, command: str) -> str:
    """Markdown page of :func:`time_three_ways`'s results: seconds by way, then cells by predicted type."""
    return results_page(
        "Frozen donor A with the built-in PBMC model",
        [
            f"Command: `{command}`; {results['n_cells']:,} cells, {results['machine']}.",
            "",
            *pipe_table(
                ["way", "seconds (whole process or request)"],
                [[way, f"{seconds:.1f}"] for way, seconds in results["seconds"].items()],
                text_columns=1,
            ),
            "",
            f"`ct.tl.annotate` alone: {results['annotate_call_seconds']:.1f} s; server start-up "
            f"{results['server_startup_seconds']:.1f} s. Identical labels on all three: {results['identical_labels']}.",
            "",
            *pipe_table(
                ["predicted type", "cells"], [[t, f"{n:,}"] for t, n in results["predictions"].items()], text_columns=1
            ),
        ],
    )
