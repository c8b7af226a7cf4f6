"""Latency of annotating the bundled Kang data (1975 cells) through the HTTP API vs in Python: median of 3 each.

Fits an annotator on the Kang control cells (latent=False, 500 genes), saves it, starts ``python -m celltyper.serve``
and times ``POST /annotate`` of all 1975 cells against ``read_h5ad`` + ``Annotator.annotate`` of the same file.
Run: ``python scripts/measure_serve_latency.py`` (docs/serve.md reports its output).
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anndata as ad
import httpx

import celltyper as ct


def main() -> None:
    kang = ct.datasets.kang_ifnb()
    reference = kang[kang.obs["condition"] == "control"].copy()
    annotator = ct.Annotator.from_reference(
        reference, "cell_type", layer="counts", latent=False, n_top_genes=500, progress_bar=False
    )
    with tempfile.TemporaryDirectory() as folder:
        model, query = Path(folder) / "kang", Path(folder) / "kang.h5ad"
        annotator.save(model)
        kang.write_h5ad(query)
        size = query.stat().st_size

        python = []
        for _ in range(3):
            start = time.perf_counter()
            annotator.annotate(ad.read_h5ad(query), progress_bar=False)
            python.append(time.perf_counter() - start)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = [sys.executable, "-m", "celltyper.serve", "--model", str(model), "--port", str(port)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    httpx.get(f"{url}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.3)
            api = []
            for _ in range(3):
                start = time.perf_counter()
                with query.open("rb") as f:
                    answer = httpx.post(f"{url}/annotate", files={"file": ("kang.h5ad", f)}, timeout=300)
                answer.raise_for_status()
                api.append(time.perf_counter() - start)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"{len(answer.json()['cells'])} cells, an upload of {size / 2**20:.1f} MiB")
    print(f"Python (read_h5ad + annotate): median {statistics.median(python):.2f} s of {[round(t, 2) for t in python]}")
    print(f"HTTP API (POST /annotate):     median {statistics.median(api):.2f} s of {[round(t, 2) for t in api]}")


if __name__ == "__main__":
    main()
