"""Train CountVAE or CellTypeTransformer with Lightning DDP on 2 CPU processes (gloo); rank 0 writes the results.

    python tests/ddp/_train_ddp.py OUT_DIR vae|transformer

Run by ``tests/test_ddp.py`` in a subprocess: Lightning's DDP launcher starts the other rank by running this script
again, which does not work inside pytest. One training per run: a second ``fit`` in the same script would make the
launcher start yet another copy of the script.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import scvi
import torch

import celltyper as ct

N_CELLS, N_GENES = 600, 300
TRAIN = {"accelerator": "cpu", "devices": 2, "enable_progress_bar": False, "batch_size": 64}


def small_kang():
    """600 Kang cells × the 300 genes of highest count variance (a few seconds per epoch on 2 processes)."""
    adata = ct.datasets.kang_ifnb()
    adata = adata[np.random.default_rng(0).permutation(adata.n_obs)[:N_CELLS]]
    counts = adata.layers["counts"]
    mean = np.asarray(counts.mean(0)).ravel()
    variance = np.asarray(counts.multiply(counts).mean(0)).ravel() - mean**2
    return adata[:, np.sort(np.argsort(variance)[-N_GENES:])].copy()


def main(out: Path, model: str) -> None:
    torch.set_num_threads(1)  # two ranks on two cores
    adata = small_kang()
    scvi.settings.seed = 0
    if model == "vae":
        ct.CountVAE.setup_anndata(adata, layer="counts", batch_key="condition")
        trained = ct.CountVAE(adata, n_hidden=32, gene_likelihood="nb")
        trained.train(max_epochs=5, strategy="ddp_find_unused_parameters_true", **TRAIN)
    else:
        ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type", layer="counts")
        trained = ct.CellTypeTransformer(adata, n_genes=N_GENES, n_tokens=16, d_model=32, n_layers=1)
        trained.train(max_epochs=8, strategy="ddp", early_stopping=False, **TRAIN)
    if trained.trainer.global_rank != 0:
        return
    loss = "reconstruction_loss_train" if model == "vae" else "train_loss"  # the VAE's ELBO grows with the KL warmup
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "world_size": trained.trainer.world_size,
        "n_train_cells": len(trained.train_indices),
        "batches_per_epoch": trained.trainer.num_training_batches,
        "cell_type": adata.obs["cell_type"].astype(str).tolist(),
        "train_loss": trained.history[loss].to_numpy(dtype=float).ravel().tolist(),
    }
    if model == "vae":
        np.save(out / "latent.npy", trained.get_latent_representation())
    else:
        results["predictions"] = [str(p) for p in trained.predict()]
    (out / f"{model}.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
