"""``celltyper demo``: acquire → prepare → train (CountVAE and CellTypeTransformer) → evaluate → annotate.

The steps are the Python API a user would call (``ct.pp.prepare``, the models' ``setup_anndata`` / ``train``,
``celltyper.train.evaluate_classifier``, ``ct.tl.annotate_h5ad``); the files are written as ``celltyper prepare`` /
``train`` / ``annotate`` write them (:mod:`._outputs`), so the demo's folder shows what each command leaves.
"""

from __future__ import annotations

import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scvi

from celltyper import _keys as keys
from celltyper import datasets, pl, pp, tl
from celltyper._split import holdout_split
from celltyper.model import CellTypeTransformer, CountVAE

from ._io import require_obs, write_json
from ._outputs import write_prepared, write_transformer_run, write_vae_run

#: The layer of raw counts that :func:`celltyper.pp.prepare` writes and both models read.
COUNTS = "counts"


def _step(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.perf_counter()


def run_demo(config: dict) -> dict[str, Path]:
    """Run the whole pipeline on a bundled dataset and write every artefact under ``out``.

    Layout of ``out``: ``prepare/`` (prepared h5ad, QC violins, UMAP), ``vae/`` and ``transformer/`` (saved model,
    training curves, metrics; the transformer is scored on held-out cells), ``annotate/`` (annotated h5ad,
    predictions CSV, UMAP by prediction and confidence) and ``metrics.json`` (all numbers, with the time each step
    took). The annotated h5ad is the result (the transformer's folder also holds its training cells, which loading
    it needs).
    """
    out = Path(config["out"])
    labels_key, batch_key, seed = config["labels_key"], config["batch_key"], config["seed"]
    source = f"celltyper.datasets.{config['dataset']}()"
    timings: dict[str, float] = {}

    start = _step(f"1/5 acquire: {source}")
    adata = getattr(datasets, config["dataset"])()
    require_obs(adata, labels_key, "labels_key", source)
    require_obs(adata, batch_key, "batch_key", source)
    print(f"{adata.n_obs} cells × {adata.n_vars} genes")
    timings["acquire"] = time.perf_counter() - start

    start = _step("2/5 prepare: QC, filtering, normalization, highly variable genes, PCA, UMAP")
    summary = pp.prepare(adata, batch_key=batch_key, **config["prepare"])
    print(summary)
    colors = [key for key in (labels_key, batch_key) if key is not None]
    prepared = write_prepared(adata, summary, out / "prepare", colors)["prepared"]
    timings["prepare"] = time.perf_counter() - start

    start = _step("3/5 train CountVAE (batch-corrected latent space)")
    scvi.settings.seed = seed
    cells = ad.read_h5ad(prepared)  # as `celltyper train` reads it: the models see the file's values
    CountVAE.setup_anndata(cells, layer=COUNTS, batch_key=batch_key)
    vae = CountVAE(cells, **config["vae"]["model_kwargs"])
    settings = config["vae"]
    vae.train(max_epochs=settings["max_epochs"], batch_size=settings["batch_size"], **settings["train_kwargs"])
    _, vae_metrics = write_vae_run(vae, cells, out / "vae", labels_key, colors, seed, umap=True)
    timings["train_vae"] = time.perf_counter() - start

    start = _step("4/5 train CellTypeTransformer and evaluate it on held-out cells")
    settings = config["transformer"]
    scvi.settings.seed = seed
    cells = ad.read_h5ad(prepared)
    train, test = holdout_split(cells.obs[labels_key].astype(str), settings["holdout"], seed)
    reference = cells[train].copy()
    CellTypeTransformer.setup_anndata(reference, labels_key=labels_key, layer=COUNTS, batch_key=batch_key)
    transformer = CellTypeTransformer(reference, **settings["model_kwargs"])
    transformer.train(
        max_epochs=settings["max_epochs"], batch_size=settings["batch_size"], seed=seed, **settings["train_kwargs"]
    )
    _, transformer_metrics = write_transformer_run(transformer, cells, test, labels_key, out / "transformer")
    timings["train_transformer"] = time.perf_counter() - start

    start = _step("5/5 annotate every cell with the trained models")
    annotated = _annotate(transformer, vae, prepared, out / "annotate", test)
    timings["annotate"] = time.perf_counter() - start

    metrics = {
        "dataset": config["dataset"],
        "prepare": summary.to_dict(),
        "vae": vae_metrics,
        "transformer": transformer_metrics,
        "timings_s": {key: round(value, 1) for key, value in timings.items()},
    }
    metrics_path = write_json(metrics, out / "metrics.json")
    test_metrics = transformer_metrics.get("test", {})
    print(
        f"\nDone in {sum(timings.values()):.0f} s. Held-out accuracy {test_metrics.get('accuracy', float('nan')):.3f}, "
        f"macro-F1 {test_metrics.get('macro_f1', float('nan')):.3f}. Everything is in {out}/:"
    )
    for path in sorted(p for p in out.rglob("*") if p.is_file() and "model" not in p.parts):
        print(f"  {path.relative_to(out)}")
    return {"metrics": metrics_path, "annotated": annotated}


def _annotate(transformer: CellTypeTransformer, vae: CountVAE, prepared: Path, out: Path, test: np.ndarray) -> Path:
    """Label every prepared cell, add the VAE's latent space, its UMAP and the train / test split; write the files."""
    annotated, predictions = out / "annotated.h5ad", out / "predictions.csv"
    table = tl.annotate_h5ad(transformer, prepared, annotated=annotated, predictions=predictions)
    print("predicted cell types:\n" + table[keys.prediction_key()].value_counts().to_string())
    result = ad.read_h5ad(annotated)
    # on a copy: registering the cells with the VAE writes scvi-tools' bookkeeping columns, not part of the result
    result.obsm[keys.latent_key()] = vae.get_latent_representation(result.copy())
    sc.pp.neighbors(result, use_rep=keys.latent_key())
    sc.tl.umap(result)
    split = pd.Series("train", index=result.obs_names)
    split.iloc[test] = "test"
    result.obs[keys.split_key()] = pd.Categorical(split.to_numpy())
    result.write_h5ad(annotated)
    pl.umap(result, [keys.prediction_key(), keys.confidence_key()], save=out / "figures" / "umap_predictions.png")
    return annotated
