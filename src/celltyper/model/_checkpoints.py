"""Training checkpoints and resume, in the safe format of :mod:`._model_files`: never a pickle.

Lightning saves a checkpoint as one dict (the training plan's ``state_dict``, optimizer and LR scheduler states, the
loops' epoch and step counters, the callbacks' states) and by default pickles it into a ``.ckpt`` file, which can run
code when loaded. :class:`SafeCheckpointIO` is Lightning's file layer for that dict instead: it writes the dict's
tensors to ``checkpoint.safetensors`` and the rest to ``checkpoint.json`` (:mod:`._json_codec`), into a new folder that
is then renamed over the previous checkpoint, so an interrupted save leaves the previous checkpoint whole. Lightning
itself restores everything from the dict (``Trainer.fit(ckpt_path=...)``), exactly as from a ``.ckpt`` file.

:class:`PeriodicCheckpoint` saves every ``every`` epochs and adds what Lightning's dict lacks: the history logged so far
(so ``model.history`` of a resumed run has every epoch) and the random number generators' states (so a resumed run
draws the same minibatches and dropout masks as an uninterrupted one).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import safetensors.torch
import torch
from lightning.fabric.plugins import CheckpointIO
from scvi.train._logger import SimpleExperiment, SimpleLogger

from ._json_codec import decode, encode
from ._safe_files import read_checked_tensors, refuse_constant, replaced_atomically

CHECKPOINT_FILE = "checkpoint.json"
CHECKPOINT_WEIGHTS_FILE = "checkpoint.safetensors"
CHECKPOINT_FILES = frozenset({CHECKPOINT_FILE, CHECKPOINT_WEIGHTS_FILE})
CHECKPOINT_FORMAT = "celltyper-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
#: Where a tensor stood in the checkpoint dict: ``{"__tensor__": "<its name in checkpoint.safetensors>"}``.
TENSOR_TAG = "__tensor__"
_MANIFEST_KEYS = {"format", "format_version", "model_class", "var_names", "weights_sha256", "epoch", "checkpoint"}


def write_checkpoint_dir(
    path: str | os.PathLike, checkpoint: Mapping[str, Any], *, model_class: str, var_names: pd.Index
) -> None:
    """Write Lightning's ``checkpoint`` dict to the folder ``path``, atomically, replacing a checkpoint there.

    Parameters
    ----------
    path
        The checkpoint folder; if it exists it may hold only checkpoint files.
    checkpoint
        What ``Trainer.save_checkpoint`` collects: tensors, and values :func:`._json_codec.encode` knows.
    model_class
        Name of the model class that trains.
    var_names
        The model's genes, in the model's order.
    """
    tensors: dict[str, torch.Tensor] = {}
    structure = _pull_tensors(checkpoint, tensors, "checkpoint")
    weights = safetensors.torch.save(tensors)
    manifest = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "model_class": model_class,
        "var_names": [str(gene) for gene in var_names],
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "epoch": checkpoint.get("epoch"),
        "checkpoint": encode(structure, "checkpoint"),
    }
    text = json.dumps(manifest, allow_nan=False)
    with replaced_atomically(Path(os.path.abspath(path)), True, CHECKPOINT_FILES, "checkpoint") as folder:
        (folder / CHECKPOINT_WEIGHTS_FILE).write_bytes(weights)
        (folder / CHECKPOINT_FILE).write_text(text, encoding="utf-8")


def read_checkpoint_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``checkpoint.json`` of the folder ``path``, its fields checked (tensors are not read).

    Raises
    ------
    ValueError
        ``path`` is not a checkpoint folder written by :func:`write_checkpoint_dir` (a Lightning ``.ckpt`` file
        included: it is a pickle and is never read), or its ``checkpoint.json`` is damaged.
    """
    path = Path(path)
    manifest_path = path / CHECKPOINT_FILE
    if not manifest_path.is_file():
        raise ValueError(
            f"{path} is not a celltyper checkpoint folder (no {CHECKPOINT_FILE}): pass the checkpoint_dir a "
            "train(..., checkpoint_every=N) call wrote. Lightning .ckpt files are pickles and are never read."
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{manifest_path} is not valid JSON ({error}): it is truncated or damaged.") from error
    if not isinstance(manifest, dict) or manifest.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{manifest_path} is not a celltyper checkpoint: its 'format' is not {CHECKPOINT_FORMAT!r}.")
    if manifest.get("format_version") != CHECKPOINT_FORMAT_VERSION or set(manifest) != _MANIFEST_KEYS:
        raise ValueError(
            f"{manifest_path} is not a version {CHECKPOINT_FORMAT_VERSION} celltyper checkpoint with the fields "
            f"{sorted(_MANIFEST_KEYS)}."
        )
    genes = manifest["var_names"]
    if not isinstance(manifest["model_class"], str) or not (
        isinstance(genes, list) and all(isinstance(gene, str) for gene in genes)
    ):
        raise ValueError(f"{manifest_path}: 'model_class' must be a string and 'var_names' a list of strings.")
    return manifest


def read_checkpoint_dir(path: str | os.PathLike) -> dict[str, Any]:
    """Lightning's checkpoint dict from the folder ``path``, checked; nothing in it is unpickled.

    Raises
    ------
    ValueError
        ``path`` is not a checkpoint folder, or a file is truncated, damaged or changed after saving.
    """
    path = Path(path)
    manifest = read_checkpoint_manifest(path)
    tensors = read_checked_tensors(path / CHECKPOINT_WEIGHTS_FILE, path / CHECKPOINT_FILE, manifest["weights_sha256"])
    try:
        checkpoint = _put_tensors(decode(manifest["checkpoint"], "checkpoint"), tensors)
    except (KeyError, TypeError) as error:
        weights = path / CHECKPOINT_WEIGHTS_FILE
        raise ValueError(f"{path / CHECKPOINT_FILE} does not match {weights}: {error}") from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path / CHECKPOINT_FILE}: 'checkpoint' must be a mapping.")
    return checkpoint


def _pull_tensors(value: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """``value`` with every tensor moved into ``tensors`` and replaced by ``{TENSOR_TAG: name}``."""
    if isinstance(value, torch.Tensor):
        name = str(len(tensors))
        tensors[name] = value.detach().to("cpu").contiguous().clone()
        return {TENSOR_TAG: name}
    if isinstance(value, Mapping):
        if TENSOR_TAG in value:
            raise TypeError(f"Cannot save {where}: its key {TENSOR_TAG!r} is reserved.")
        return {key: _pull_tensors(item, tensors, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_pull_tensors(item, tensors, f"{where}[{i}]") for i, item in enumerate(value))
    return value


def _put_tensors(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`_pull_tensors`: each ``{TENSOR_TAG: name}`` becomes ``tensors[name]``."""
    if isinstance(value, dict):
        if set(value) == {TENSOR_TAG}:
            return tensors[value[TENSOR_TAG]]
        return {key: _put_tensors(item, tensors) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_put_tensors(item, tensors) for item in value)
    return value


class SafeCheckpointIO(CheckpointIO):
    """Lightning's checkpoint file layer, writing and reading checkpoint folders instead of pickles.

    Parameters
    ----------
    model_class
        Name of the model class that trains (recorded, and checked on resume).
    var_names
        The model's genes, in the model's order (recorded, and checked on resume).
    """

    def __init__(self, model_class: str, var_names: pd.Index):
        self.model_class = model_class
        self.var_names = var_names

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        """Write ``checkpoint`` to the folder ``path`` (see :func:`write_checkpoint_dir`)."""
        write_checkpoint_dir(path, checkpoint, model_class=self.model_class, var_names=self.var_names)

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Read the folder ``path`` (see :func:`read_checkpoint_dir`); tensors are on the CPU, nothing is unpickled."""
        return read_checkpoint_dir(path)

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        """Remove the checkpoint folder ``path``."""
        shutil.rmtree(path, ignore_errors=True)


class PeriodicCheckpoint(pl.Callback):
    """Save a checkpoint folder every ``every`` training epochs, with the history and the random generators' states.

    On a resume it puts the saved history and generators' states back, whether or not it saves checkpoints itself.
    It saves in ``on_train_epoch_end``, the hook where Lightning's checkpoints are saved and from which a resume starts
    the next epoch.

    Parameters
    ----------
    dirpath
        The checkpoint folder, replaced at each save; ``None``: save nothing (resume only).
    every
        Epochs between two saves.
    """

    def __init__(self, dirpath: str | os.PathLike | None, every: int = 1):
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.every = every
        self._trainer: pl.Trainer | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Keep the trainer, whose logger :meth:`state_dict` and :meth:`load_state_dict` use."""
        self._trainer = trainer

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Save when the epoch just finished is a multiple of ``every``."""
        if self.dirpath is not None and (trainer.current_epoch + 1) % self.every == 0:
            trainer.save_checkpoint(self.dirpath)

    def state_dict(self) -> dict[str, Any]:
        """The history logged so far and the states of Python's, numpy's and torch's (CPU) random generators."""
        trainer = self._trainer
        history: dict[str, pd.DataFrame] = {}
        if trainer is not None and isinstance(trainer.logger, SimpleLogger):
            experiment = SimpleExperiment()
            experiment.data = {key: frame.copy() for key, frame in trainer.logger.history.items()}
            # this epoch's training metrics reach the logger only after on_train_epoch_end: add them as it will
            pending = trainer._logger_connector.metrics["log"]
            if pending:
                experiment.log_metrics({**pending, "epoch": trainer.current_epoch})
            history = {key: frame.astype(float) for key, frame in experiment.data.items()}
        return {
            "history": history,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(legacy=False),
            "python_rng": random.getstate(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Put the saved history back into the logger and set the random generators as they were at the save.

        Lightning calls this before the training data loader draws its first minibatch order, so the resumed epochs
        draw what the uninterrupted run drew.
        """
        trainer = self._trainer
        if trainer is not None and trainer.is_global_zero and isinstance(trainer.logger, SimpleLogger):
            trainer.logger.experiment.data = dict(state_dict["history"])  # only rank 0 keeps a history
        torch.set_rng_state(state_dict["torch_rng"])
        np.random.set_state(state_dict["numpy_rng"])
        random.setstate(state_dict["python_rng"])


def with_checkpointing(
    model: Any,
    trainer_kwargs: dict[str, Any],
    checkpoint_dir: str | os.PathLike | None,
    checkpoint_every: int | None,
    resume_from: str | os.PathLike | None,
) -> dict[str, Any]:
    """``trainer_kwargs`` of a model's ``train`` with periodic checkpoints and a resume added, as asked.

    Parameters
    ----------
    model
        The model about to train (its class name and genes are recorded in, and checked against, checkpoints).
    trainer_kwargs
        The keyword arguments for :class:`scvi.train.Trainer`; not changed.
    checkpoint_dir
        Folder to save checkpoints to (replaced at each save); needs ``checkpoint_every``.
    checkpoint_every
        Save every this many epochs (at least 1).
    resume_from
        A checkpoint folder to resume training from: the model's weights, the optimizer, the epoch counter, the
        callbacks' states and the history so far are restored and training goes on to ``max_epochs``.

    Returns
    -------
    The keyword arguments, with :class:`PeriodicCheckpoint` among the ``callbacks``, :class:`SafeCheckpointIO` among
    the ``plugins`` and ``ckpt_path`` set when they are needed.

    Raises
    ------
    ValueError
        ``checkpoint_dir`` and ``checkpoint_every`` are not given together, ``checkpoint_every`` is not a whole number
        of at least 1, or ``resume_from`` is not a checkpoint of this model class with these genes.
    """
    if (checkpoint_dir is None) != (checkpoint_every is None):
        raise ValueError("checkpoint_dir and checkpoint_every go together: pass both to save checkpoints, or neither.")
    if checkpoint_every is not None and (
        isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1
    ):
        raise ValueError(f"checkpoint_every must be a whole number of at least 1, not {checkpoint_every!r}.")
    if checkpoint_dir is None and resume_from is None:
        return trainer_kwargs
    kwargs = dict(trainer_kwargs)
    model_class, var_names = type(model).__name__, model.adata.var_names
    if resume_from is not None:
        manifest = read_checkpoint_manifest(resume_from)
        if manifest["model_class"] != model_class:
            raise ValueError(f"{resume_from} is a checkpoint of a {manifest['model_class']}, not of a {model_class}.")
        if manifest["var_names"] != [str(gene) for gene in var_names]:
            raise ValueError(
                f"{resume_from} is a checkpoint of a model of other genes (or in another order) than this one's: "
                "resume with the data and settings of the interrupted run."
            )
        kwargs["ckpt_path"] = str(resume_from)
    kwargs["callbacks"] = [*kwargs.get("callbacks", []), PeriodicCheckpoint(checkpoint_dir, checkpoint_every or 1)]
    kwargs["plugins"] = [*kwargs.get("plugins", []), SafeCheckpointIO(model_class, var_names)]
    return kwargs
