"""The commands: each reads its settings (a dict from :func:`load_config`), calls celltyper's Python API, writes files.

Nothing here computes anything itself: ``prepare`` is :func:`celltyper.pp.prepare`, training is the models' own
``train``, the evaluation is :func:`celltyper.train.evaluate_classifier`, the files are written by :mod:`._outputs`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import scanpy as sc
import scvi
from anndata import AnnData

from celltyper import _keys as keys
from celltyper import pl, pp, tl
from celltyper._split import holdout_split
from celltyper.model import CellTypeTransformer, CountVAE
from celltyper.model._checkpoints import CHECKPOINT_FILE
from celltyper.model._model_files import read_model_dir

from ._io import read_h5ad, read_obs, require_dir, require_obs
from ._outputs import enough_cells_to_embed, write_evaluation, write_prepared, write_transformer_run, write_vae_run

PREPARE_ARGS = tuple(p for p in inspect.signature(pp.prepare).parameters if p not in ("adata", "copy"))
MODELS = {"vae": CountVAE, "transformer": CellTypeTransformer}
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


def _colors(*obs_keys: str | None) -> list[str]:
    """The ``obs`` columns to colour a UMAP by: the labels and batch columns that are set."""
    return [key for key in obs_keys if key is not None]


def run_prepare(config: dict) -> dict[str, Path]:
    """``celltyper prepare``: :func:`celltyper.pp.prepare` on ``input``; writes the prepared h5ad and QC figures."""
    adata = read_h5ad(config["input"])
    require_obs(adata, config["labels_key"], "labels_key", config["input"])
    require_obs(adata, config["batch_key"], "batch_key", config["input"])
    summary = pp.prepare(adata, **{key: config[key] for key in PREPARE_ARGS})
    print(summary)
    return write_prepared(adata, summary, Path(config["out"]), _colors(config["labels_key"], config["batch_key"]))


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


def _train_transformer(adata: AnnData, config: dict, out: Path) -> dict[str, Path]:
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
    written, _ = write_transformer_run(model, adata, test, labels_key, out)
    return written


def _train_vae(adata: AnnData, config: dict, out: Path) -> dict[str, Path]:
    CountVAE.setup_anndata(adata, layer=config["layer"], batch_key=config["batch_key"])
    model = CountVAE(adata, **config["model_kwargs"])
    model.train(max_epochs=config["max_epochs"], batch_size=config["batch_size"], **config["train_kwargs"])
    colors = _colors(config["labels_key"], config["batch_key"])
    written, _ = write_vae_run(model, adata, out, config["labels_key"], colors, config["seed"], config["umap"])
    if config["write_embedded"]:
        written["embedded"] = out / "embedded.h5ad"
        adata.write_h5ad(written["embedded"])
    return written


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
    if vae_dir is not None:
        read_model_dir(vae_dir)  # a damaged VAE folder fails before any output is written
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
    if (vae_dir is not None or config["embed"]) and enough_cells_to_embed(len(table)):
        query = read_h5ad(written["annotated"], "annotated")
        if vae_dir is not None:
            vae = CountVAE.load(str(vae_dir), adata=query)  # genes matched by name, missing ones read as zero
            query.obsm[keys.latent_key()] = vae.get_latent_representation()
            sc.pp.neighbors(query, use_rep=keys.latent_key())
            sc.tl.umap(query)
        elif "X_umap" not in query.obsm:
            layer = "counts" if "counts" in query.layers else None
            pp.prepare(query, layer=layer, min_genes=None, max_pct_mt=None, min_cells=None)
        query.write_h5ad(written["annotated"])
        written["umap"] = out / "figures" / "umap_predictions.png"
        colors = [keys.prediction_key(), keys.confidence_key(), *_colors(config["labels_key"])]
        pl.umap(query, colors, save=written["umap"])
    else:
        query = AnnData(obs=obs.join(table.iloc[:, :2]))  # the predictions, for the metrics and figures
    if config["labels_key"] is not None:
        evaluation, metrics = write_evaluation(query, config["labels_key"], probabilities, out)
        written["metrics"] = evaluation["metrics"]
        print(f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} on {query.n_obs} cells")
    counts = table[keys.prediction_key()].value_counts()
    print("predicted cell types:\n" + counts.to_string())
    plt.close("all")
    return written
