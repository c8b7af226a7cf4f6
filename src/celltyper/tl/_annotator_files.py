"""A saved annotator folder: tensors in safetensors, the rest in JSON, the model card in markdown; never unpickled.

A folder written by :meth:`~celltyper.tl.Annotator.save` holds

- ``annotator.json``: the format and its version, the settings, the classifier's kind, classes and ``C``, the genes
  it reads, the reference's gene table, the calibration, the model card, and the SHA-256 of the tensors;
- ``annotator.safetensors``: the linear classifier's weights, the class priors and the reference type profiles;
- ``latent/``: the latent model, a :class:`~celltyper.CountVAE` folder in the format of :mod:`celltyper.model`;
- ``model_card.md``: the card, rendered (written for people; not read back).

Reading checks the JSON's structure, the checksum and every shape before anything is built.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import safetensors.numpy

from celltyper.model._json_codec import decode, encode
from celltyper.model._model_files import MODEL_FILE
from celltyper.model._safe_files import check_header, read_checked_tensors, refuse_constant, replaced_atomically

from ._calibration import TemperatureScaling
from ._classifiers import LinearClassifier
from ._novelty import TypeProfiles

if TYPE_CHECKING:
    from ._annotator import Annotator

MANIFEST, TENSORS, CARD, LATENT = "annotator.json", "annotator.safetensors", "model_card.md", "latent"
FORMAT, FORMAT_VERSION = "celltyper-annotator", 1
_FILES = frozenset({MANIFEST, TENSORS, CARD, LATENT})
_KEYS = {
    "format",
    "format_version",
    "tensors_sha256",
    "settings",
    "classifier",
    "genes",
    "gene_table",
    "excluded_genes",
    "calibration",
    "type_counts",
    "card",
}


def write_annotator(annotator: Annotator, path: str | os.PathLike, overwrite: bool) -> None:
    """Write ``annotator`` to the folder ``path`` (see the module docstring)."""
    classifier = annotator.classifier
    if not isinstance(classifier, LinearClassifier):
        raise ValueError(
            f"Annotator.save supports the linear classifier (the default), not {annotator.settings['classifier']!r}: "
            "its model needs its training data to be rebuilt. Save that model itself with .save(), or fit the "
            "annotator with classifier='linear'."
        )
    weights = classifier.weights()
    tensors = safetensors.numpy.save(
        {
            "coef": np.ascontiguousarray(weights["coef"]),
            "intercept": np.ascontiguousarray(weights["intercept"]),
            "trained_prior": np.ascontiguousarray(annotator.trained_prior),
            "target_prior": np.ascontiguousarray(annotator.target_prior),
            "type_profiles": np.ascontiguousarray(annotator.profiles.means.to_numpy()),
        }
    )
    table = annotator.gene_table
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tensors_sha256": hashlib.sha256(tensors).hexdigest(),
        "settings": encode(annotator.settings, "settings"),
        "classifier": {"kind": "linear", "C": float(classifier.C), "classes": classifier.classes},
        "genes": [str(g) for g in annotator.genes],
        "gene_table": {
            "names": [str(g) for g in table.index],
            "gene_ids": table["gene_ids"].astype(str).tolist() if "gene_ids" in table else None,
        },
        "excluded_genes": [str(g) for g in annotator.excluded_genes],
        "calibration": {
            "temperature": annotator.calibration.temperature,
            "ece_before": annotator.calibration.ece_before,
            "ece_after": annotator.calibration.ece_after,
            "n_cells": annotator.calibration.n_cells,
        },
        "type_counts": [int(annotator.profiles.counts[t]) for t in classifier.classes],
        "card": encode(annotator.card, "card"),
    }
    with replaced_atomically(Path(os.path.abspath(path)), overwrite, _FILES, "annotator") as folder:
        (folder / TENSORS).write_bytes(tensors)
        (folder / CARD).write_text(annotator.model_card(), encoding="utf-8")
        if isinstance(annotator.latent_model, str | os.PathLike):
            shutil.copytree(annotator.latent_model, folder / LATENT)
        elif annotator.latent_model is not None:
            annotator.latent_model.save(folder / LATENT)
        (folder / MANIFEST).write_text(json.dumps(manifest, allow_nan=False, indent=1), encoding="utf-8")


def read_annotator(cls: type[Annotator], path: str | os.PathLike) -> Annotator:
    """The annotator saved in ``path``, checked before it is built."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        hint = (
            " It holds a model, not an annotator: load it with its model class."
            if (path / MODEL_FILE).is_file()
            else ""
        )
        raise FileNotFoundError(f"{path} holds no saved annotator (no {MANIFEST}).{hint}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"), parse_constant=refuse_constant)
        parts = _checked(manifest)
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as error:  # JSONDecodeError is a ValueError
        raise ValueError(f"{manifest_path} is not a valid celltyper annotator description: {error}") from error
    tensors = read_checked_tensors(
        path / TENSORS, manifest_path, manifest["tensors_sha256"], missing_hint=" Copy the whole annotator folder."
    )
    arrays = {name: tensor.numpy() for name, tensor in tensors.items()}
    classes, genes = parts["classes"], parts["genes"]
    try:
        classifier = LinearClassifier.from_weights(parts["C"], classes, arrays["coef"], arrays["intercept"])
        if arrays["coef"].shape[1] != len(genes) or arrays["type_profiles"].shape != (len(classes), len(genes)):
            raise ValueError("the weights do not fit the genes and classes of the description")
        for prior in ("trained_prior", "target_prior"):
            if arrays[prior].shape != (len(classes),):
                raise ValueError(f"{prior} does not fit the classes")
    except KeyError as error:
        raise ValueError(f"{path / TENSORS} lacks the tensor {error}.") from error
    except ValueError as error:
        raise ValueError(f"{path}: {error}.") from error
    latent = path / LATENT
    return cls(
        settings=parts["settings"],
        gene_table=parts["gene_table"],
        genes=genes,
        excluded_genes=parts["excluded_genes"],
        classifier=classifier,
        trained_prior=arrays["trained_prior"],
        target_prior=arrays["target_prior"],
        calibration=TemperatureScaling(**manifest["calibration"]),
        profiles=TypeProfiles(
            pd.DataFrame(arrays["type_profiles"], index=classes), pd.Series(parts["type_counts"], index=classes)
        ),
        latent_model=latent if (latent / MODEL_FILE).is_file() else None,
        card=parts["card"],
    )


def _strings(value: Any, what: str) -> list[str]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ValueError(f"{what!r} must be a list of strings.")
    return value


def _checked(manifest: Any) -> dict[str, Any]:
    """The parts of a parsed ``annotator.json``, type-checked; a ``ValueError`` for anything unexpected."""
    check_header(manifest, FORMAT, FORMAT_VERSION, _KEYS)
    classifier = manifest["classifier"]
    if (
        not isinstance(classifier, dict)
        or classifier.get("kind") != "linear"
        or not isinstance(classifier.get("C"), float)
    ):
        raise ValueError("'classifier' must describe a linear classifier with a float C.")
    classes = _strings(classifier.get("classes"), "classifier.classes")
    genes = pd.Index(_strings(manifest["genes"], "genes"), dtype=object)
    table = manifest["gene_table"]
    names = pd.Index(_strings(table["names"], "gene_table.names"), dtype=object)
    gene_table = pd.DataFrame(index=names)
    if table["gene_ids"] is not None:
        gene_table["gene_ids"] = _strings(table["gene_ids"], "gene_table.gene_ids")
    counts = manifest["type_counts"]
    if not (isinstance(counts, list) and len(counts) == len(classes) and all(isinstance(c, int) for c in counts)):
        raise ValueError("'type_counts' must hold one integer per class.")
    if not (genes.is_unique and names.is_unique and genes.isin(names).all()):
        raise ValueError("'genes' must be unique genes of the gene table.")
    calibration = manifest["calibration"]
    if not isinstance(calibration, dict) or set(calibration) != {"temperature", "ece_before", "ece_after", "n_cells"}:
        raise ValueError("'calibration' must hold temperature, ece_before, ece_after and n_cells.")
    settings, card = decode(manifest["settings"], "settings"), decode(manifest["card"], "card")
    if not (isinstance(settings, dict) and isinstance(card, dict)):
        raise ValueError("'settings' and 'card' must be objects.")
    return {
        "settings": settings,
        "C": classifier["C"],
        "classes": classes,
        "genes": genes,
        "gene_table": gene_table,
        "excluded_genes": _strings(manifest["excluded_genes"], "excluded_genes"),
        "type_counts": counts,
        "card": card,
    }
