"""File mechanics every saved celltyper folder shares: atomic replacement on write, checked reads.

A model folder (:mod:`._model_files`), a training checkpoint (:mod:`._checkpoints`) and an Annotator folder
(:mod:`celltyper.tl._annotator_files`) are each written into a new folder that is then renamed over the old one, so an
interrupted save never leaves a half-written folder; and each is read back with its tensors checked against the
SHA-256 its JSON manifest records and the manifest's header checked, so a truncated or changed file is a
``ValueError`` naming it. Nothing here unpickles.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError


@contextmanager
def replaced_atomically(target: Path, overwrite: bool, own_files: frozenset[str], what: str) -> Iterator[Path]:
    """A new empty folder next to ``target`` to write into; when the block ends without error it becomes ``target``.

    The files are synced to disk before the rename. On an error (or an interrupt) the new folder is removed and
    ``target`` is left as it was. An existing ``target`` is replaced only with ``overwrite`` and only if it holds
    nothing but ``own_files`` (the files of a saved ``what``).
    """
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise ValueError(
                f"{target} already exists: pass overwrite=True to replace the {what} saved there, or choose another "
                "folder."
            )
        if not target.is_dir():
            raise ValueError(f"{target} exists and is not a folder; choose another path.")
        foreign = sorted(entry.name for entry in target.iterdir() if entry.name not in own_files)
        if foreign:
            raise ValueError(
                f"{target} holds files that are not part of a saved {what} ({', '.join(foreign[:5])}); overwrite=True "
                "replaces the whole folder, so save into a new or empty folder."
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.saving"
    staging.mkdir()
    try:
        yield staging
        _sync(staging)
        if target.exists():
            retired = target.parent / f".{target.name}.{uuid.uuid4().hex}.replaced"
            os.replace(target, retired)
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(retired, target)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _sync(folder: Path) -> None:
    """Flush the files of ``folder`` (its sub-folders too) and the folder to disk, so a rename publishes them whole."""
    for entry in folder.iterdir():
        if entry.is_dir():
            _sync(entry)
            continue
        with open(entry, "rb") as file:
            os.fsync(file.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_checked_tensors(
    weights_path: Path, manifest_path: Path, sha256: str, *, missing_hint: str = "", changed_hint: str = ""
) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file ``weights_path``, after checking it against the SHA-256 its manifest holds.

    Raises
    ------
    ValueError
        The file is missing, does not match ``sha256`` (truncated or changed after saving), or is no safetensors file.
    """
    if not weights_path.is_file():
        raise ValueError(f"{weights_path} is missing; {manifest_path} needs it.{missing_hint}")
    weights = weights_path.read_bytes()
    if hashlib.sha256(weights).hexdigest() != sha256:
        raise ValueError(
            f"{weights_path} does not match the checksum recorded in {manifest_path}: it is truncated or was changed "
            f"after saving.{changed_hint}"
        )
    try:
        return safetensors.torch.load(weights)
    except SafetensorError as error:
        raise ValueError(f"{weights_path} is not a readable safetensors file ({error}).") from error


def refuse_constant(name: str) -> None:
    """``parse_constant`` of :func:`json.loads`: NaN and Infinity are not JSON, so a file holding them is refused."""
    raise ValueError(f"{name} is not JSON")


def check_header(manifest: Any, format_name: str, version: int, fields: set[str]) -> None:
    """Raise a ``ValueError`` unless a parsed manifest is of ``format_name`` / ``version`` with exactly ``fields``."""
    if not isinstance(manifest, dict) or manifest.get("format") != format_name:
        raise ValueError(f"its 'format' is not {format_name!r}.")
    if manifest.get("format_version") != version:
        raise ValueError(
            f"format version {manifest.get('format_version')!r}; this celltyper reads version {version} "
            "(a newer celltyper may have written it: upgrade celltyper)."
        )
    if set(manifest) != fields:
        raise ValueError(f"it must have exactly the fields {sorted(fields)}, not {sorted(manifest)}.")
