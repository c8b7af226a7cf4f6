"""A saved model folder: weights in safetensors, everything else in JSON, written atomically, never unpickled.

A folder written by :meth:`~celltyper.CountVAE.save` (and the other models' ``save``) holds

- ``model.safetensors``: the module's ``state_dict`` (tensors only; the format cannot hold code);
- ``model.json``: the format and its version, the model class, the genes (``var_names``) in the model's order, the
  SHA-256 of ``model.safetensors``, and every model attribute whose name ends in ``_`` (scvi-tools' registry,
  ``init_params_``, ``history_``, ``is_trained_``, …) in the explicit encoding of :mod:`._json_codec`;
- ``adata.h5ad`` when saved with ``save_anndata=True``.

Reading checks the JSON's structure and the checksum before anything is built, so a truncated or changed file is a
``ValueError`` naming it rather than a model with wrong weights. scvi-tools' ``model.pt`` (a pickle, which can run
code when loaded) is never read here: :func:`read_model_dir` refuses it and names the one-time conversion,
:func:`celltyper.model.convert_legacy_model`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata
import pandas as pd
import safetensors.torch
import torch
from anndata import AnnData

from ._json_codec import decode, encode
from ._safe_files import check_header, read_checked_tensors, refuse_constant, replaced_atomically

MODEL_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
ADATA_FILE = "adata.h5ad"
#: scvi-tools' pickle, and the name :func:`~celltyper.model.convert_legacy_model` moves it to.
LEGACY_FILE = "model.pt"
CONVERTED_LEGACY_FILE = "model.pt.legacy"
FORMAT = "celltyper-model"
FORMAT_VERSION = 1
#: The files of a model folder: ``save(..., overwrite=True)`` replaces a folder only if it holds nothing else.
MODEL_DIR_FILES = frozenset({MODEL_FILE, WEIGHTS_FILE, ADATA_FILE, LEGACY_FILE, CONVERTED_LEGACY_FILE})
#: Names of the saved attributes: public, ending in ``_`` (as scvi-tools saves them); no dunder can be set on load.
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*_")
_MANIFEST_KEYS = {"format", "format_version", "model_class", "weights_sha256", "var_names", "attributes"}


@dataclass(frozen=True)
class SavedModel:
    """A model folder, read and checked; every value in it is plain data, tensors, numpy or pandas.

    Attributes
    ----------
    path
        The folder.
    model_class
        Name of the model class that saved it.
    var_names
        The model's genes, in the model's order.
    attributes
        The saved attributes (``registry_``, ``init_params_``, …), decoded.
    state_dict
        The module's tensors.
    """

    path: Path
    model_class: str
    var_names: pd.Index
    attributes: dict[str, Any]
    state_dict: dict[str, torch.Tensor]

    def check_class(self, cls: type) -> None:
        """Raise a ``ValueError`` unless the folder holds a model of class ``cls``."""
        if self.model_class != cls.__name__:
            raise ValueError(
                f"{self.path} holds a {self.model_class}, not a {cls.__name__}: load it with {self.model_class}.load."
            )

    def read_anndata(self) -> AnnData:
        """The AnnData saved with the model (``save_anndata=True``)."""
        path = self.path / ADATA_FILE
        if not path.is_file():
            raise ValueError(
                f"{self.path} holds no AnnData ({ADATA_FILE}): pass the data the model was trained on "
                "(load(path, adata=adata)), or save the model with save_anndata=True."
            )
        try:
            return anndata.read_h5ad(path)
        except (OSError, KeyError) as error:
            raise ValueError(f"{path} is not a readable h5ad file ({error}); save the model again.") from error

    def load_weights(self, module: torch.nn.Module) -> None:
        """Load the saved tensors into ``module`` (strictly: the same names and shapes)."""
        try:
            module.load_state_dict(self.state_dict)
        except RuntimeError as error:
            raise ValueError(
                f"{self.path / WEIGHTS_FILE} does not fit the {self.model_class} described by {MODEL_FILE}: {error}"
            ) from error


def write_model_dir(
    path: str | os.PathLike,
    *,
    model_class: str,
    state_dict: Mapping[str, torch.Tensor],
    var_names: pd.Index,
    attributes: Mapping[str, Any],
    adata: AnnData | None = None,
    overwrite: bool = False,
    **anndata_write_kwargs,
) -> None:
    """Write a model folder at ``path``: all files into a new folder next to it, then renamed to ``path``.

    An interrupted save leaves ``path`` as it was (or, if interrupted between the two renames of an overwrite,
    absent, with the previous model kept in a hidden sibling folder), never a half-written model.

    Parameters
    ----------
    path
        The model folder. If it exists, ``overwrite`` must be set and it may hold only model files.
    model_class
        Name of the model class.
    state_dict
        The module's tensors.
    var_names
        The model's genes, in the model's order.
    attributes
        Attributes to save; each must be of a type :func:`._json_codec.encode` knows (else a ``TypeError``).
    adata
        Also write this AnnData as ``adata.h5ad``.
    overwrite
        Replace an existing model folder.
    **anndata_write_kwargs
        Passed to :meth:`anndata.AnnData.write_h5ad`.
    """
    weights, manifest = _model_files(model_class, state_dict, var_names, attributes)
    with replaced_atomically(Path(os.path.abspath(path)), overwrite, MODEL_DIR_FILES, "model") as folder:
        if adata is not None:
            adata.write_h5ad(folder / ADATA_FILE, **anndata_write_kwargs)
        (folder / WEIGHTS_FILE).write_bytes(weights)
        (folder / MODEL_FILE).write_text(manifest, encoding="utf-8")


def add_model_files(
    path: Path,
    *,
    model_class: str,
    state_dict: Mapping[str, torch.Tensor],
    var_names: pd.Index,
    attributes: Mapping[str, Any],
) -> None:
    """Write the model files into the existing folder ``path`` (for :func:`~celltyper.model.convert_legacy_model`).

    Each file is written under a temporary name, synced, then renamed; ``model.json`` comes last, so the folder holds
    a model only once both files are complete.
    """
    weights, manifest = _model_files(model_class, state_dict, var_names, attributes)
    for name, content in ((WEIGHTS_FILE, weights), (MODEL_FILE, manifest.encode("utf-8"))):
        partial = path / f".{name}.{uuid.uuid4().hex}.saving"
        try:
            with open(partial, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path / name)
        finally:
            partial.unlink(missing_ok=True)


def _model_files(
    model_class: str, state_dict: Mapping[str, torch.Tensor], var_names: pd.Index, attributes: Mapping[str, Any]
) -> tuple[bytes, str]:
    """The contents of ``model.safetensors`` and ``model.json``; a ``TypeError`` for an attribute JSON cannot hold."""
    for name in attributes:
        if not ATTRIBUTE_NAME.fullmatch(name):
            raise TypeError(f"Cannot save the attribute {name!r}: saved attributes are public and end in '_'.")
    weights = safetensors.torch.save(
        {name: tensor.detach().to("cpu").contiguous().clone() for name, tensor in state_dict.items()}
    )
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_class": model_class,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "var_names": [str(gene) for gene in var_names],
        "attributes": {name: encode(value, name) for name, value in attributes.items()},
    }
    return weights, json.dumps(manifest, allow_nan=False, indent=1)


def read_model_dir(path: str | os.PathLike) -> SavedModel:
    """Read and check a model folder written by :func:`write_model_dir`; nothing in it is unpickled.

    Raises
    ------
    FileNotFoundError
        ``path`` holds no model.
    ValueError
        ``path`` holds scvi-tools' pickled ``model.pt`` only (the message names the conversion), or a file is
        truncated, damaged or changed after saving (the message names the file).
    """
    path = Path(path)
    manifest_path = path / MODEL_FILE
    if not manifest_path.is_file():
        if (path / LEGACY_FILE).is_file():
            raise ValueError(
                f"{path / LEGACY_FILE} is a model file in the old format: a pickle, which can run code when it is "
                "loaded, so celltyper no longer reads it. If you trust where it came from, convert the folder once "
                f"with celltyper.model.convert_legacy_model({str(path)!r}, trust=True), then load it again."
            )
        raise FileNotFoundError(f"{path} holds no saved celltyper model (no {MODEL_FILE}).")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise ValueError(f"{manifest_path} is not valid JSON ({error}): it is truncated or damaged.") from error
    try:
        var_names, attributes = _check_manifest(manifest)
    except ValueError as error:
        raise ValueError(f"{manifest_path} is not a celltyper model description: {error}") from error
    state_dict = read_checked_tensors(
        path / WEIGHTS_FILE,
        manifest_path,
        manifest["weights_sha256"],
        missing_hint=" Copy the whole model folder.",
        changed_hint=" Copy the whole model folder again, or save the model again.",
    )
    return SavedModel(path, manifest["model_class"], var_names, attributes, state_dict)


def _check_manifest(manifest: Any) -> tuple[pd.Index, dict[str, Any]]:
    """The genes and the decoded attributes of a parsed ``model.json``; a ``ValueError`` for anything unexpected."""
    check_header(manifest, FORMAT, FORMAT_VERSION, _MANIFEST_KEYS)
    if not isinstance(manifest["model_class"], str) or not isinstance(manifest["weights_sha256"], str):
        raise ValueError("'model_class' and 'weights_sha256' must be strings.")
    genes = manifest["var_names"]
    if not (isinstance(genes, list) and all(isinstance(gene, str) for gene in genes)):
        raise ValueError("'var_names' must be a list of strings.")
    var_names = pd.Index(genes, dtype=object)
    if not var_names.is_unique:
        raise ValueError("'var_names' has duplicates.")
    encoded = manifest["attributes"]
    if not isinstance(encoded, dict) or not all(ATTRIBUTE_NAME.fullmatch(name) for name in encoded):
        raise ValueError("'attributes' must map public names ending in '_' to values.")
    attributes = {name: decode(value, name) for name, value in encoded.items()}
    for name in ("registry_", "init_params_"):
        if not isinstance(attributes.get(name), dict):
            raise ValueError(f"the attribute {name!r} is missing or not a dict.")
    return var_names, attributes
