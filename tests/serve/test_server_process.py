"""The real server: ``python -m celltyper.serve`` started in a subprocess, called over HTTP, then stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import anndata as ad
import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_server_answers_over_http(served, queries):
    annotator, folder = served
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "celltyper.serve", "--model", str(folder), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"the server exited: {server.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("the server did not answer /health within 90 s")
                time.sleep(0.3)
        with queries["x"].open("rb") as f:
            answer = httpx.post(f"{url}/annotate", files={"file": ("x.h5ad", f)}, timeout=60)
        assert answer.status_code == 200
        query = ad.read_h5ad(queries["x"])
        annotator.annotate(query, progress_bar=False)
        cells = answer.json()["cells"]
        assert [c["cell"] for c in cells] == list(query.obs_names)
        assert [c["prediction"] for c in cells] == list(query.obs["celltyper_prediction"].astype(str))
        assert httpx.get(f"{url}/model", timeout=5).json()["name"] == "simulated"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_a_model_that_is_not_a_folder_is_a_usage_error(tmp_path, capsys):
    from celltyper.serve.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["--model", str(tmp_path / "missing" / "annotator")])
    assert exit_.value.code == 2 and "no such folder" in capsys.readouterr().err
