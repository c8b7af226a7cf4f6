"""The commands around annotators: ``transfer``, ``annotate``, ``models`` and ``serve``.

``transfer`` fits an annotator on a reference and annotates a query; ``annotate`` applies a saved or built-in one;
``models`` lists the built-in ones; ``serve`` runs the HTTP API. Each reads its inputs, calls the Python API and
writes the annotated cells, a predictions CSV and a report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from anndata import AnnData

from celltyper import _keys as keys
from celltyper import tl
from celltyper._counts import summarize_matrix
from celltyper.model._model_files import LEGACY_FILE, MODEL_FILE
from celltyper.tl import Annotator
from celltyper.tl._annotate import resolve_annotator

from ._cells import read_cells
from ._io import require_obs
from ._report import predictions_table, write_report

#: Counts are looked for here when no layer is given and ``X`` does not hold them.
COUNTS_LAYER = "counts"


def counts_view(adata: AnnData, layer: str | None, what: str, keep: tuple[str | None, ...] = ()) -> AnnData:
    """An AnnData with ``adata``'s raw counts in ``X`` (shared, not copied), its genes and the ``obs`` columns ``keep``.

    ``layer``: where the counts are; ``None``: ``X`` if it holds counts, else the layer ``"counts"`` if there is one.
    """
    if layer is None:
        layer = COUNTS_LAYER if COUNTS_LAYER in adata.layers and not summarize_matrix(adata.X).is_integer else None
    elif layer not in adata.layers:
        raise KeyError(
            f"layer {layer!r} is not in the {what}'s layers ({list(adata.layers)}); counts in X: no --layer."
        )
    counts = adata.X if layer is None else adata.layers[layer]
    columns = [key for key in dict.fromkeys(keep) if key is not None and key in adata.obs]
    return AnnData(X=counts, obs=adata.obs[columns].copy(), var=adata.var.copy())


def _copy_annotation(view: AnnData, adata: AnnData) -> None:
    """Move what annotation wrote into the counts view over to the user's AnnData."""
    for column in view.obs:
        adata.obs[column] = view.obs[column].to_numpy()
    adata.obsm.update(dict(view.obsm))
    adata.uns.update(view.uns)


def _write_outputs(
    adata: AnnData, probabilities: pd.DataFrame, out: Path, labels_key: str | None, title: str
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = {"annotated": out / "annotated.h5ad", "predictions": out / "predictions.csv"}
    adata.write_h5ad(written["annotated"])
    predictions_table(adata, probabilities).to_csv(written["predictions"])
    written |= write_report(adata, probabilities, out, labels_key, title)
    counts = adata.obs[keys.prediction_key()].value_counts()
    print("predicted cell types:\n" + counts[counts > 0].to_string())
    return written


def _query_labels(query: AnnData, key: str | None) -> str | None:
    require_obs(query, key, "query_labels_key", "the query")
    return key


def run_transfer(config: dict) -> dict[str, Path]:
    """``celltyper transfer``: fit an annotator on the reference, annotate the query, save both and a report."""
    reference = read_cells(config["reference"], "reference")
    query = read_cells(config["query"], "query")
    require_obs(reference, config["labels_key"], "labels_key", config["reference"])
    query_labels = _query_labels(query, config["query_labels_key"])
    batch_key = config["batch_key"]
    reference_counts = counts_view(reference, config["layer"], "reference", (config["labels_key"], batch_key))
    query_counts = counts_view(query, config["query_layer"], "query", (batch_key,))
    rule = {k: config[k] for k in ("unknown_threshold", "novelty_threshold") if config[k] is not None}
    result = tl.transfer_labels(
        reference_counts,
        query_counts,
        config["labels_key"],
        batch_key=batch_key,
        majority_voting=config["majority_voting"],
        latent=config["latent"],
        max_epochs=config["max_epochs"],
        query_max_epochs=config["query_epochs"],
        random_state=config["seed"],
        **rule,
    )
    _copy_annotation(query_counts, query)
    out = Path(config["out"])
    written = {"annotator": out / "annotator"}
    result.annotator.save(written["annotator"], overwrite=True)
    return written | _write_outputs(query, result.probabilities, out, query_labels, "Label transfer")


def run_annotate(config: dict) -> dict[str, Path]:
    """``celltyper annotate``: a saved or built-in annotator labels the input; writes it, a CSV and a report.

    A folder holding a saved model instead (``model.json``, or an old ``model.pt``: a CellTypeTransformer from
    ``celltyper train``) is run by :func:`~celltyper.cli._commands.run_annotate_model`.
    """
    model = config["model"]
    if model is not None and any((Path(model) / name).is_file() for name in (MODEL_FILE, LEGACY_FILE)):
        from ._commands import run_annotate_model

        return run_annotate_model(config)
    if config["vae"] is not None:
        raise ValueError("--vae goes with a CellTypeTransformer --model; an annotator has its own latent model.")
    annotator = resolve_annotator(model)
    out = Path(config["out"])
    if config["stream"]:
        return _stream(annotator, config, out)
    adata = read_cells(config["input"], "input")
    labels_key = _query_labels(adata, config["labels_key"])
    require_obs(adata, config["batch_key"], "batch_key", config["input"])
    view = counts_view(adata, config["layer"], "input", (config["batch_key"],))
    annotation = annotator.annotate(
        view,
        batch_key=config["batch_key"],
        majority_voting=config["majority_voting"],
        unknown_threshold=config["unknown_threshold"],
        novelty_threshold=config["novelty_threshold"],
        random_state=config["seed"],
    )
    _copy_annotation(view, adata)
    return _write_outputs(adata, annotation.probabilities, out, labels_key, f"Annotation with {annotator.card['name']}")


def _stream(annotator: Annotator, config: dict, out: Path) -> dict[str, Path]:
    """Annotate an ``.h5ad`` chunk by chunk (no cluster novelty), for files larger than memory."""
    if config["input"] is None or not str(config["input"]).endswith(".h5ad"):
        raise ValueError("--stream reads an .h5ad file chunk by chunk; pass --input FILE.h5ad.")
    written = {"annotated": out / "annotated.h5ad", "predictions": out / "predictions.csv"}
    table = tl.annotate_h5ad(
        annotator,
        config["input"],
        annotated=written["annotated"],
        predictions=written["predictions"],
        unknown_threshold=config["unknown_threshold"],
        layer=config["layer"],
    )
    print("predicted cell types:\n" + table[keys.prediction_key()].value_counts().to_string())
    return written


def run_models(config: dict) -> None:
    """``celltyper models``: the names of the built-in annotators, one per line."""
    from celltyper import models

    print("\n".join(models.available()))


def run_serve(config: dict) -> None:
    """``celltyper serve``: the HTTP API over a saved or built-in annotator (needs the ``serve`` extra)."""
    from celltyper.serve import serve

    serve(config["model"], host=config["host"], port=config["port"], max_upload_mb=config["max_upload_mb"])
