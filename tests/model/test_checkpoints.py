"""Training checkpoints: safetensors + JSON, never unpickled; an interrupted run resumed equals an uninterrupted one."""

from __future__ import annotations

import pickle
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import scvi
import torch

import celltyper as ct
from celltyper.model import SemiSupervisedCountVAE
from celltyper.model._checkpoints import CHECKPOINT_FILES, CHECKPOINT_WEIGHTS_FILE, read_checkpoint_dir

TRAIN = {"max_epochs": 4, "enable_progress_bar": False, "accelerator": "cpu"}


class Payload:
    """Unpickling this creates ``marker``: what a hostile checkpoint would do, harmlessly."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class Interrupt(pl.Callback):
    """Stop training with an error when epoch ``epoch`` (0-based) starts, as a crash or a killed job would."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("interrupted")


def _build(kind: str, n_genes: int = 50):
    scvi.settings.seed = 0
    adata = ct.datasets.simulate(n_cells=200, n_genes=n_genes, n_types=3, seed=1)
    if kind == "vae":
        ct.CountVAE.setup_anndata(adata, layer="counts", batch_key="batch")
        return ct.CountVAE(adata, n_hidden=16, n_latent=4)
    if kind == "semisupervised":
        SemiSupervisedCountVAE.setup_anndata(adata, layer="counts", labels_key="cell_type", unlabeled_category="?")
        return SemiSupervisedCountVAE(adata, n_hidden=16, n_latent=4)
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type", layer="counts")
    return ct.CellTypeTransformer(adata, n_genes=n_genes)


def _interrupted_checkpoint(kind: str, folder: Path) -> Path:
    """The checkpoint folder of a run of ``TRAIN`` epochs that checkpoints every 2 and is stopped after 2 epochs."""
    with pytest.raises(RuntimeError, match="interrupted"):
        _build(kind).train(checkpoint_dir=folder, checkpoint_every=2, callbacks=[Interrupt(2)], **TRAIN)
    return folder


@pytest.mark.parametrize("kind", ["vae", "transformer", "semisupervised"])
def test_resume_equals_uninterrupted_run(kind, tmp_path):
    straight = _build(kind)
    straight.train(**TRAIN)
    checkpoint = _interrupted_checkpoint(kind, tmp_path / "checkpoint")
    assert {entry.name for entry in checkpoint.iterdir()} == CHECKPOINT_FILES  # no pickle, no leftover temp folder
    saved = read_checkpoint_dir(checkpoint)
    assert saved["epoch"] == 1  # saved at the end of the second epoch (0-based 1)

    resumed = _build(kind)
    restored = {}

    class Record(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            restored.setdefault(trainer.current_epoch, {k: v.clone() for k, v in pl_module.state_dict().items()})

    resumed.train(resume_from=checkpoint, callbacks=[Record()], **TRAIN)
    assert list(restored) == [2, 3]  # training went on from the third epoch, to the same max_epochs
    for name, tensor in saved["state_dict"].items():
        torch.testing.assert_close(restored[2][name], tensor, rtol=0, atol=0)
    # the resumed run draws the same minibatches as the uninterrupted one: same weights and history (on the CPU)
    expected, actual = straight.module.state_dict(), resumed.module.state_dict()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name])
    assert set(resumed.history) == set(straight.history)
    for key, frame in straight.history.items():
        assert list(resumed.history[key].index) == list(frame.index)
        np.testing.assert_allclose(resumed.history[key].to_numpy(float), frame.to_numpy(float), rtol=1e-5)


def test_tampered_or_pickled_checkpoints_run_nothing(tmp_path):
    checkpoint = _interrupted_checkpoint("vae", tmp_path / "checkpoint")
    marker = tmp_path / "pwned"
    lightning_ckpt = tmp_path / "last.ckpt"  # a Lightning checkpoint is a pickle: never read
    lightning_ckpt.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="not a celltyper checkpoint folder"):
        _build("vae").train(resume_from=lightning_ckpt, **TRAIN)
    (checkpoint / CHECKPOINT_WEIGHTS_FILE).write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="checksum"):
        _build("vae").train(resume_from=checkpoint, **TRAIN)
    assert not marker.exists()


def test_bad_checkpoint_arguments(tmp_path):
    checkpoint = _interrupted_checkpoint("vae", tmp_path / "checkpoint")
    model = _build("vae")
    with pytest.raises(ValueError, match="go together"):
        model.train(checkpoint_every=2, **TRAIN)
    with pytest.raises(ValueError, match="at least 1"):
        model.train(checkpoint_dir=tmp_path / "other", checkpoint_every=0, **TRAIN)
    with pytest.raises(ValueError, match="not a celltyper checkpoint folder"):
        model.train(resume_from=tmp_path / "missing", **TRAIN)
    with pytest.raises(ValueError, match="other genes"):
        _build("vae", n_genes=40).train(resume_from=checkpoint, **TRAIN)
    with pytest.raises(ValueError, match="not of a CellTypeTransformer"):
        _build("transformer").train(resume_from=checkpoint, **TRAIN)
