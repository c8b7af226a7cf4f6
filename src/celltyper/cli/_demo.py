"""``celltyper demo``: acquire → prepare → train (CountVAE and CellTypeTransformer) → evaluate → annotate."""

from __future__ import annotations

import time
from pathlib import Path

import anndata as ad
import pandas as pd

from celltyper import datasets

from ._commands import run_annotate_model, run_prepare, run_train
from ._io import write_json


def _step(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.perf_counter()


def run_demo(config: dict) -> dict[str, Path]:
    """Run the whole pipeline on a bundled dataset and write every artefact under ``out``.

    Layout of ``out``: ``prepare/`` (prepared h5ad, QC violins, UMAP), ``vae/`` and ``transformer/`` (saved model,
    training curves, metrics; the transformer is scored on held-out cells), ``annotate/`` (annotated h5ad,
    predictions CSV, UMAP by prediction and confidence) and ``metrics.json`` (all numbers, with the time each step
    took). The data is written once, prepared, and every later step reads that file; the annotated h5ad is the
    result (the transformer's folder also holds its training cells, which loading it needs).
    """
    out = Path(config["out"])
    labels_key, batch_key, seed = config["labels_key"], config["batch_key"], config["seed"]
    timings: dict[str, float] = {}

    start = _step(f"1/5 acquire: celltyper.datasets.{config['dataset']}()")
    adata = getattr(datasets, config["dataset"])()
    if batch_key is not None and batch_key not in adata.obs:
        raise KeyError(f"batch_key={batch_key!r} is not a column of {config['dataset']}; it has {list(adata.obs)}.")
    print(f"{adata.n_obs} cells × {adata.n_vars} genes")
    timings["acquire"] = time.perf_counter() - start

    start = _step("2/5 prepare: QC, filtering, normalization, highly variable genes, PCA, UMAP")
    prepare = {**config["prepare"], "input": f"celltyper.datasets.{config['dataset']}()", "out": out / "prepare"}
    written = run_prepare({**prepare, "labels_key": labels_key, "batch_key": batch_key}, adata)
    prepared = written["prepared"]
    timings["prepare"] = time.perf_counter() - start

    common = {"input": prepared, "labels_key": labels_key, "batch_key": batch_key, "layer": "counts", "seed": seed}
    common |= {"checkpoint_every": None, "resume": False}  # a demo trains for a minute: no checkpoints
    start = _step("3/5 train CountVAE (batch-corrected latent space)")
    vae = {**config["vae"], **common, "model": "vae", "out": out / "vae", "holdout": 0.0, "umap": True}
    vae["write_embedded"] = False  # step 5 writes the latent space and its UMAP into the annotated h5ad
    vae_written = run_train(vae)
    timings["train_vae"] = time.perf_counter() - start

    start = _step("4/5 train CellTypeTransformer and evaluate it on held-out cells")
    transformer = {**config["transformer"], **common, "model": "transformer", "out": out / "transformer", "umap": False}
    transformer_written = run_train(transformer)
    timings["train_transformer"] = time.perf_counter() - start

    start = _step("5/5 annotate every cell with the saved models")
    annotate = {
        "model": transformer_written["model"],
        "vae": vae_written["model"],
        "input": prepared,
        "out": out / "annotate",
        "labels_key": None,
        "unknown_threshold": 0.0,
        "embed": True,
    }
    annotated = run_annotate_model(annotate)
    split = pd.read_csv(transformer_written["split"], index_col=0)["split"]
    result = ad.read_h5ad(annotated["annotated"])
    result.obs["celltyper_split"] = pd.Categorical(split.reindex(result.obs_names).to_numpy())
    result.write_h5ad(annotated["annotated"])
    timings["annotate"] = time.perf_counter() - start

    metrics = {
        "dataset": config["dataset"],
        "prepare": _read_json(written["summary"]),
        "vae": _read_json(vae_written["metrics"]),
        "transformer": _read_json(transformer_written["metrics"]),
        "timings_s": {key: round(value, 1) for key, value in timings.items()},
    }
    metrics_path = write_json(metrics, out / "metrics.json")
    test = metrics["transformer"].get("test", {})
    print(
        f"\nDone in {sum(timings.values()):.0f} s. Held-out accuracy {test.get('accuracy', float('nan')):.3f}, "
        f"macro-F1 {test.get('macro_f1', float('nan')):.3f}. Everything is in {out}/:"
    )
    for path in sorted(p for p in out.rglob("*") if p.is_file() and "model" not in p.parts):
        print(f"  {path.relative_to(out)}")
    return {"metrics": metrics_path, "annotated": annotated["annotated"]}


def _read_json(path: Path) -> dict:
    import json

    return json.loads(Path(path).read_text())
