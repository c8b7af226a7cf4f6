"""The model card of an annotator: what it was fitted on and how well it did, as JSON and as markdown.

Modelled on scvi-hub's and Hugging Face's model cards: a reader should learn from it, without running anything, which
cells and types the annotator knows, which genes it reads, how accurate and how well calibrated it was on reference
cells it never saw, and on which outside data it was evaluated.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from anndata import AnnData
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from celltyper._keys import UNKNOWN
from celltyper.model import CountVAE

from ._classifiers import BATCH, LinearClassifier
from ._transfer_data import TRUE_LABELS

if TYPE_CHECKING:
    from ._annotator import Annotator
    from ._fit_classifier import HeldOut

_PACKAGES = ("celltyper", "scvi-tools", "scanpy", "anndata", "scikit-learn", "torch")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def held_out_scores(held_out: HeldOut, classes: list[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1 and each type's F1 of the held-out reference cells."""
    predicted = np.asarray(classes, dtype=object)[held_out.probabilities.argmax(1)]
    labels = np.asarray(held_out.labels, dtype=object)
    per_type = f1_score(labels, predicted, labels=classes, average=None, zero_division=0)
    return {
        "n_cells": int(labels.size),
        "accuracy": float(accuracy_score(labels, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)),
        "f1_per_type": {t: float(f) for t, f in zip(classes, per_type, strict=True)},
    }


def model_card(
    annotator: Annotator, reference: AnnData, reference_data: AnnData, held_out: HeldOut, name: str | None, text: str
) -> dict[str, Any]:
    """The card of a freshly fitted annotator (``reference_data``: the cells and genes it was fitted on)."""
    settings, classifier = annotator.settings, annotator.classifier
    labels = pd.Series(reference_data.obs[TRUE_LABELS].to_numpy())
    types = labels[labels != UNKNOWN].value_counts().reindex(classifier.classes)
    classifier_card: dict[str, Any] = {"kind": settings["classifier"], "class_prior": settings["class_prior"]}
    if isinstance(classifier, LinearClassifier):
        classifier_card["C"] = classifier.C
    latent = annotator.latent_model
    return {
        "name": name or "celltyper annotator",
        "description": text,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": _versions(),
        "reference": {
            "n_cells": int(reference.n_obs),
            "n_cells_used": int(reference_data.n_obs),
            "labels_key": settings["labels_key"],
            "batch_key": settings["batch_key"],
            "n_batches": int(reference_data.obs[BATCH].nunique()),
            "cell_types": {t: int(n) for t, n in types.items()},
        },
        "genes": {
            "n_reference": int(len(annotator.gene_table)),
            "n_used": int(len(annotator.genes)),
            "n_excluded_shifted": len(annotator.excluded_genes),
        },
        "classifier": classifier_card,
        "held_out": held_out_scores(held_out, classifier.classes),
        "calibration": {
            "temperature": annotator.calibration.temperature,
            "ece_before": annotator.calibration.ece_before,
            "ece_after": annotator.calibration.ece_after,
        },
        "unknown_rule": {
            "unknown_threshold": settings["unknown_threshold"],
            "novelty_threshold": settings["novelty_threshold"],
        },
        "latent_model": (
            {"kind": type(latent).__name__, "n_latent": latent.module.n_latent}
            if isinstance(latent, CountVAE)
            else None
        ),
        "evaluations": [],
    }


def render_model_card(card: dict[str, Any]) -> str:
    """The card as markdown: a title, the description, then one table per section."""
    reference, held_out, calibration = card["reference"], card["held_out"], card["calibration"]
    lines = [f"# {card['name']}", "", card["description"] or "_No description._", ""]
    lines += [
        f"Created {card['created']} with celltyper {card['versions']['celltyper']} "
        f"(scvi-tools {card['versions']['scvi-tools']}, Python {card['versions']['python']}).",
        "",
        "## Reference",
        "",
        f"{reference['n_cells_used']:,} of {reference['n_cells']:,} cells used, labels from "
        f"`{reference['labels_key']}`, {reference['n_batches']} batch(es)"
        + (f" (`{reference['batch_key']}`)" if reference["batch_key"] else "")
        + f"; {card['genes']['n_used']:,} genes read of {card['genes']['n_reference']:,}.",
        "",
        "| cell type | reference cells | held-out F1 |",
        "|---|---:|---:|",
    ]
    for cell_type, n_cells in reference["cell_types"].items():
        lines.append(f"| {cell_type} | {n_cells:,} | {held_out['f1_per_type'].get(cell_type, float('nan')):.3f} |")
    lines += [
        "",
        "## Held-out reference cells",
        "",
        f"{held_out['n_cells']:,} reference cells held out, predicted by a classifier trained without them:",
        f"accuracy {held_out['accuracy']:.3f}, balanced accuracy {held_out['balanced_accuracy']:.3f}, macro F1 "
        f"{held_out['macro_f1']:.3f}. Calibration: temperature {calibration['temperature']:.2f}, expected calibration "
        f"error {calibration['ece_before']:.3f} before and {calibration['ece_after']:.3f} after.",
        "",
        "## Classifier and Unknown rule",
        "",
        ", ".join(f"{k} = {v}" for k, v in {**card["classifier"], **card["unknown_rule"]}.items()) + ".",
    ]
    if card["latent_model"]:
        lines += [
            "",
            f"Latent model: {card['latent_model']['kind']} with {card['latent_model']['n_latent']} dimensions.",
        ]
    lines += ["", "## Evaluations on data it was not fitted on", ""]
    if not card["evaluations"]:
        lines.append("_None recorded._")
    for evaluation in card["evaluations"]:
        numbers = ", ".join(f"{k} {v:.3f}" for k, v in evaluation["metrics"].items())
        lines.append(
            f"- **{evaluation['name']}**: {numbers}."
            + (f" {evaluation['description']}" if evaluation["description"] else "")
        )
    return "\n".join(lines) + "\n"
