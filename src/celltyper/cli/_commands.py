"""The commands: each reads its settings (a dict from :func:`load_config`), calls celltyper's Python API, writes files.

Nothing here computes anything itself: ``prepare`` is :func:`celltyper.pp.prepare`, training is the models' own
``train``, the figures are :mod:`celltyper.pl`, the metrics come from :mod:`celltyper.benchmark`.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import scanpy as sc
import scvi
from anndata import AnnData

from celltyper import pl, pp, tl
from celltyper.model import CellTypeTransformer, CountVAE
from celltyper.model._checkpoints import CHECKPOINT_FILE
from celltyper.model._model_files import read_model_dir
from celltyper.pp._prepare import MIN_CELLS_UMAP

from ._evaluate import classifier_figures, classifier_metrics, holdout_split, last_values, latent_metrics
from ._io import read_h5ad, read_obs, require_dir, require_obs, write_json

logger = logging.getLogger(__name__)

PREPARE_ARGS = tuple(p for p in inspect.signature(pp.prepare).parameters if p not in ("adata", "copy"))
MODELS = {"vae": CountVAE, "transformer": CellTypeTransformer}
LATENT_KEY = "X_celltyper"
#: The folder inside ``out`` where ``train`` saves checkpoints (``checkpoint_every``) and resumes from (``resume``).
CHECKPOINT_DIR = "checkpoint"
#: Fewer cells than this: ``train`` stops with an error (it splits validation and held-out cells off them).
MIN_CELLS_TRAIN = 50


def _check_kwargs(function, kwargs: dict[str, Any], name: str) -> None:
    """Raise a ``ConfigError``-like ``ValueError`` if ``kwargs`` has keys ``function`` does not take."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()) and name == "train_kwargs":
        return
    allowed = [p for p in parameters if p not in ("self", "adata", "registry")]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; {function.__qualname__} takes {allowed}.")


def run_prepare(config: dict, adata: AnnData | None = None) -> dict[str, Path]:
    """``celltyper prepare``: :func:`celltyper.pp.prepare` on ``input``; writes the prepared h5ad and QC figures.

    ``adata``, if given, is prepared instead of reading ``input`` (which then only names it in messages): the demo's
    bundled data, so that it is not written to disk once more before being prepared.
    """
    adata = read_h5ad(config["input"]) if adata is None else adata
    require_obs(adata, config["labels_key"], "labels_key", config["input"])
    require_obs(adata, config["batch_key"], "batch_key", config["input"])
    summary = pp.prepare(adata, **{key: config[key] for key in PREPARE_ARGS})
    print(summary)
    out = Path(config["out"])
    written = {
        "prepared": out / "prepared.h5ad",
        "summary": write_json(summary.to_dict(), out / "prepare_summary.json"),
        "qc_violin": out / "figures" / "qc_violin.png",
    }
    pl.qc_violin(adata, save=written["qc_violin"])
    colors = [key for key in (config["labels_key"], config["batch_key"]) if key is not None]
    if "X_umap" in adata.obsm and colors:  # pp.prepare skips the UMAP of fewer than MIN_CELLS_UMAP cells
        written["umap"] = out / "figures" / "umap.png"
        pl.umap(adata, colors, save=written["umap"])
    plt.close("all")
    adata.write_h5ad(written["prepared"])
    return written


def run_train(config: dict) -> dict[str, Path]:
    """``celltyper train``: train a CountVAE (``model: vae``) or a CellTypeTransformer (``model: transformer``)."""
    path = config["input"]
    adata = read_h5ad(path)
    if adata.n_obs < MIN_CELLS_TRAIN:
        raise ValueError(
            f"{path} has {adata.n_obs} cells; train needs at least {MIN_CELLS_TRAIN} (validation and held-out cells "
            "are split off them): pass a larger reference."
        )
    require_obs(adata, config["labels_key"], "labels_key", path)
    require_obs(adata, config["batch_key"], "batch_key", path)
    if config["layer"] is not None and config["layer"] not in adata.layers:
        raise KeyError(
            f"layer={config['layer']!r} is not in adata.layers of {path}; the layers are {list(adata.layers)}."
        )
    model_cls = MODELS[config["model"]]
    _check_kwargs(model_cls.__init__, config["model_kwargs"], "model_kwargs")
    _check_kwargs(model_cls.train, config["train_kwargs"], "train_kwargs")
    scvi.settings.seed = config["seed"]
    out = Path(config["out"])
    config = {**config, "train_kwargs": {**config["train_kwargs"], **_checkpoint_kwargs(config, out)}}
    if config["model"] == "transformer":
        if config["labels_key"] is None:
            raise ValueError("model: transformer needs labels_key, the column of adata.obs with the cell types.")
        return _train_transformer(adata, config, out)
    return _train_vae(adata, config, out)


def _checkpoint_kwargs(config: dict, out: Path) -> dict[str, Any]:
    """The checkpoint arguments of ``train`` from ``checkpoint_every`` and ``resume``, in ``out/checkpoint``."""
    folder = out / CHECKPOINT_DIR
    kwargs: dict[str, Any] = {}
    if config["checkpoint_every"] is not None:
        kwargs.update(checkpoint_dir=folder, checkpoint_every=config["checkpoint_every"])
    if config["resume"]:
        if not (folder / CHECKPOINT_FILE).is_file():
            raise ValueError(
                f"--resume: {folder} holds no checkpoint; a run with the same --out and --checkpoint-every N writes "
                "one there."
            )
        kwargs["resume_from"] = folder
    return kwargs


def _train_transformer(adata, config: dict, out: Path) -> dict[str, Path]:
    labels_key = config["labels_key"]
    train, test = holdout_split(adata.obs[labels_key].astype(str), config["holdout"], config["seed"])
    reference = adata[train].copy()
    CellTypeTransformer.setup_anndata(
        reference, labels_key=labels_key, layer=config["layer"], batch_key=config["batch_key"]
    )
    model = CellTypeTransformer(reference, **config["model_kwargs"])
    model.train(
        max_epochs=config["max_epochs"], batch_size=config["batch_size"], seed=config["seed"], **config["train_kwargs"]
    )
    written = {"model": out / "model"}
    model.save(written["model"], overwrite=True, save_anndata=True)
    figures = out / "figures"
    written["training_curves"] = figures / "training_curves.png"
    pl.training_curves(model, save=written["training_curves"])
    split = pd.Series("train", index=adata.obs_names, name="split")
    split.iloc[test] = "test"
    written["split"] = out / "split.csv"
    split.to_csv(written["split"])
    metrics: dict[str, Any] = {"model": "transformer", "n_train": len(train), "n_test": len(test)}
    metrics["history"] = last_values(model.history)
    if len(test):
        held_out = adata[test].copy()
        model.annotate(held_out)
        probabilities = model.predict(held_out, soft=True)
        metrics["test"] = classifier_metrics(held_out, labels_key, probabilities)
        classifier_figures(held_out, labels_key, figures)
        frame = held_out.obs[[labels_key, "celltyper_prediction", "celltyper_confidence"]]
        written["test_predictions"] = out / "test_predictions.csv"
        frame.to_csv(written["test_predictions"])
        print(
            f"held-out {len(test)} cells: accuracy {metrics['test']['accuracy']:.3f}, "
            f"macro-F1 {metrics['test']['macro_f1']:.3f}, ECE {metrics['test']['ece']:.3f}"
        )
    for label in model.cell_types:
        safe = "".join(c if c.isalnum() else "_" for c in str(label))
        try:
            importance = model.get_feature_importance(str(label))
        except ValueError as error:  # no reference cell is predicted as this label
            logger.warning("no feature importance for %s: %s", label, error)
            continue
        pl.feature_importance(importance, title=f"genes driving {label}", save=figures / "importance" / f"{safe}.png")
        plt.close("all")
    written["importance"] = figures / "importance"
    written["metrics"] = write_json(metrics, out / "metrics.json")
    plt.close("all")
    return written


def _train_vae(adata, config: dict, out: Path) -> dict[str, Path]:
    CountVAE.setup_anndata(adata, layer=config["layer"], batch_key=config["batch_key"])
    model = CountVAE(adata, **config["model_kwargs"])
    model.train(max_epochs=config["max_epochs"], batch_size=config["batch_size"], **config["train_kwargs"])
    written = {"model": out / "model"}
    model.save(written["model"], overwrite=True, save_anndata=False)
    adata.obsm[LATENT_KEY] = model.get_latent_representation()
    labels = adata.obs[config["labels_key"]] if config["labels_key"] is not None else None
    metrics = {"model": "vae", "history": last_values(model.history)}
    metrics["latent"] = latent_metrics(adata.obsm[LATENT_KEY], labels, config["seed"])
    figures = out / "figures"
    written["training_curves"] = figures / "training_curves.png"
    pl.training_curves(model, save=written["training_curves"])
    colors = [key for key in (config["labels_key"], config["batch_key"]) if key is not None]
    if config["umap"] and _enough_cells_to_embed(adata.n_obs):
        embedded = adata.copy()
        sc.pp.neighbors(embedded, use_rep=LATENT_KEY, random_state=config["seed"])
        sc.tl.umap(embedded, random_state=config["seed"])
        adata.obsm["X_umap_celltyper"] = embedded.obsm["X_umap"]
        if colors:
            written["umap"] = figures / "umap_latent.png"
            pl.umap(embedded, colors, save=written["umap"])
    if config["write_embedded"]:
        written["embedded"] = out / "embedded.h5ad"
        adata.write_h5ad(written["embedded"])
    written["metrics"] = write_json(metrics, out / "metrics.json")
    if "knn_accuracy" in metrics["latent"]:
        print(f"kNN accuracy of {config['labels_key']} in the latent space: {metrics['latent']['knn_accuracy']:.3f}")
    plt.close("all")
    return written


def _enough_cells_to_embed(n_cells: int) -> bool:
    """Whether ``n_cells`` are enough for a neighbour graph and UMAP; if not, say that they are skipped."""
    if n_cells >= MIN_CELLS_UMAP:
        return True
    print(f"no UMAP: {n_cells} cells are fewer than the {MIN_CELLS_UMAP} a neighbour graph and UMAP need")
    return False


def _on_genes(query: AnnData, genes: pd.Index, layer: str | None) -> AnnData:
    """The query's counts on a model's ``genes`` (zeros where the query lacks one), matched as label transfer does."""
    aligned, _ = tl.align_genes(query, AnnData(var=pd.DataFrame(index=genes)), layer=layer)
    return aligned


def run_annotate_model(config: dict) -> dict[str, Path]:
    """``celltyper annotate --model DIR`` with a saved CellTypeTransformer: labels an h5ad; writes it and a CSV.

    The predictions stream through :func:`celltyper.tl.annotate_h5ad` (the query is read in chunks, never loaded
    whole); only a UMAP (``embed`` or ``vae``) reads the whole annotated query into memory.
    """
    model_dir = require_dir(config["model"], "model")
    vae_dir = require_dir(config["vae"], "vae") if config["vae"] is not None else None
    obs = read_obs(config["input"])
    require_obs(AnnData(obs=obs), config["labels_key"], "labels_key", config["input"])
    model = CellTypeTransformer.load(str(model_dir))
    vae_genes = read_model_dir(vae_dir).var_names if vae_dir is not None else None  # a damaged VAE fails before output
    out = Path(config["out"])
    written = {"predictions": out / "predictions.csv", "annotated": out / "annotated.h5ad"}
    table = tl.annotate_h5ad(
        model,
        config["input"],
        annotated=written["annotated"],
        predictions=written["predictions"],
        unknown_threshold=config["unknown_threshold"] or 0.0,
    )
    probabilities = table.iloc[:, 2:].rename(columns=lambda column: column.removeprefix("p_"))
    if (vae_dir is not None or config["embed"]) and _enough_cells_to_embed(len(table)):
        query = read_h5ad(written["annotated"], "annotated")
        if vae_dir is not None:
            on_vae_genes = _on_genes(query, vae_genes, CountVAE.load_registry(vae_dir)["setup_args"].get("layer"))
            vae = CountVAE.load(str(vae_dir), adata=on_vae_genes)
            query.obsm[LATENT_KEY] = vae.get_latent_representation(on_vae_genes)
            sc.pp.neighbors(query, use_rep=LATENT_KEY)
            sc.tl.umap(query)
        elif "X_umap" not in query.obsm:
            layer = "counts" if "counts" in query.layers else None
            pp.prepare(query, layer=layer, min_genes=None, max_pct_mt=None, min_cells=None)
        query.write_h5ad(written["annotated"])
        written["umap"] = out / "figures" / "umap_predictions.png"
        colors = ["celltyper_prediction", "celltyper_confidence"]
        pl.umap(query, colors + ([config["labels_key"]] if config["labels_key"] else []), save=written["umap"])
    else:
        query = AnnData(obs=obs.join(table.iloc[:, :2]))  # the predictions, for the metrics and figures
    if config["labels_key"] is not None:
        metrics = classifier_metrics(query, config["labels_key"], probabilities)
        classifier_figures(query, config["labels_key"], out / "figures")
        written["metrics"] = write_json(metrics, out / "metrics.json")
        print(f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} on {query.n_obs} cells")
    counts = table["celltyper_prediction"].value_counts()
    print("predicted cell types:\n" + counts.to_string())
    plt.close("all")
    return written
