"""The web service in-process: its endpoints, its answers equal to annotating in Python, and every refusal."""

from __future__ import annotations

import io
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from fastapi.testclient import TestClient

from celltyper.serve import create_app


def python_answer(annotator, query: ad.AnnData) -> pd.DataFrame:
    """What annotating ``query`` in Python gives, as the server's columns."""
    annotator.annotate(query, progress_bar=False)
    obs = query.obs
    return pd.DataFrame(
        {
            "cell": query.obs_names.astype(str),
            "prediction": obs["celltyper_prediction"].astype(str).to_numpy(),
            "confidence": obs["celltyper_confidence"].to_numpy(),
            "novelty": obs["celltyper_novelty"].to_numpy(),
        }
    )


def post(client: TestClient, path: Path, **params) -> object:
    with path.open("rb") as f:
        return client.post("/annotate", files={"file": (path.name, f)}, params=params)


@pytest.fixture(scope="module")
def client(served) -> TestClient:
    return TestClient(create_app(served[0]), raise_server_exceptions=False)


def test_health_and_model_card(client, served):
    assert client.get("/health").json() == {"status": "ok"}
    card = client.get("/model").json()
    assert card["name"] == "simulated" and card == served[0].card


@pytest.mark.parametrize("kind", ["layer", "x"])
def test_annotate_an_h5ad_gives_what_python_gives(client, served, queries, kind):
    expected = python_answer(served[0], ad.read_h5ad(queries[kind]))
    assert expected["prediction"].nunique() > 1

    answer = post(client, queries[kind])
    assert answer.status_code == 200
    pd.testing.assert_frame_equal(pd.DataFrame(answer.json()["cells"]), expected)

    csv = post(client, queries[kind], format="csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(csv.text), dtype={"cell": str, "prediction": str})
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12)


def test_annotate_a_10x_h5(client, served, queries):
    expected = python_answer(served[0], sc.read_10x_h5(queries["tenx"]))
    answer = post(client, queries["tenx"])
    assert answer.status_code == 200
    pd.testing.assert_frame_equal(pd.DataFrame(answer.json()["cells"]), expected)


def test_concurrent_requests_each_get_their_own_file(served, queries):
    app = create_app(served[0])
    expected = {k: python_answer(served[0], ad.read_h5ad(queries[k])) for k in ("layer", "x")}

    def ask(kind: str) -> tuple[str, pd.DataFrame]:
        return kind, pd.DataFrame(post(TestClient(app), queries[kind]).json()["cells"])

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, ["layer", "x"] * 4))
    for kind, table in answers:
        pd.testing.assert_frame_equal(table, expected[kind])


def test_an_upload_over_the_limit_is_refused_while_it_streams(served, queries):
    client = TestClient(create_app(served[0], max_upload_bytes=4096))
    announced = post(client, queries["x"])
    assert announced.status_code == 413 and "limit of 0.0 MiB" in announced.json()["detail"]

    chunks = (b"x" * 1024 for _ in range(100))  # no Content-Length: counted as it arrives
    streamed = client.post("/annotate", content=chunks, headers={"content-type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413 and "limit" in streamed.json()["detail"]


def test_an_upload_that_expands_past_the_data_limit_is_refused(served, tmp_path):
    client = TestClient(create_app(served[0], max_upload_bytes=20_000))  # 50 × 20 kB of data at most
    bomb = tmp_path / "bomb.h5ad"
    ad.AnnData(np.ones((3, 3), dtype=np.float32)).write_h5ad(bomb)
    with h5py.File(bomb, "a") as f:  # 4 MB declared, nothing stored: zeros when read
        f["uns"].create_dataset("zeros", shape=(1000, 1000), dtype="f4", compression="gzip", chunks=(100, 100))
    assert bomb.stat().st_size < 20_000
    answer = post(client, bomb)
    assert answer.status_code == 413 and "uncompressed" in answer.json()["detail"]


def test_bad_uploads_get_clear_4xx_errors(client, served, tmp_path):
    missing = client.post("/annotate")
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "file"]

    text = client.post("/annotate", files={"file": ("query.h5ad", b"cell,gene\n1,2\n")})
    assert text.status_code == 415 and "not an HDF5 file" in text.json()["detail"]

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["table"] = np.arange(3)
    assert post(client, other).status_code == 415

    adata = ad.AnnData(np.ones((5, 4), dtype=np.float32))
    adata.var_names = [f"unknown_{i}" for i in range(4)]
    adata.write_h5ad(tmp_path / "no_genes.h5ad")
    no_genes = post(client, tmp_path / "no_genes.h5ad")
    assert no_genes.status_code == 422 and "genes" in no_genes.json()["detail"]

    not_counts = ad.AnnData(np.full((5, 300), 0.5, dtype=np.float32))
    not_counts.var_names = [f"gene_{i}" for i in range(300)]
    not_counts.write_h5ad(tmp_path / "not_counts.h5ad")
    answer = post(client, tmp_path / "not_counts.h5ad")
    assert answer.status_code == 422 and "count" in answer.json()["detail"].lower()


def test_a_link_to_a_server_file_is_refused(client, tmp_path):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["X"] = np.ones((3, 3))
    linked = tmp_path / "linked.h5ad"
    ad.AnnData(np.ones((3, 3), dtype=np.float32)).write_h5ad(linked)
    with h5py.File(linked, "a") as f:
        del f["X"]
        f["X"] = h5py.ExternalLink(str(secret), "/X")
    answer = post(client, linked)
    assert answer.status_code == 422 and "links to another file" in answer.json()["detail"]


def test_errors_do_not_leak_tracebacks_and_temporary_files_are_deleted(served, queries, tmp_path, monkeypatch):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    annotator = served[0]
    client = TestClient(create_app(annotator), raise_server_exceptions=False)
    assert post(client, queries["x"]).status_code == 200

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(annotator, "annotate", broken)
    answer = post(client, queries["x"])
    assert answer.status_code == 500
    assert "secret" not in answer.text and "Traceback" not in answer.text and "detail" in answer.json()
    assert list(uploads.iterdir()) == []
