"""Multi-device training through Lightning DDP: each model on 2 CPU processes (gloo), then sane latent / labels."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from celltyper.benchmark import knn_accuracy

SCRIPT = Path(__file__).parent / "ddp" / "_train_ddp.py"


def train(model: str, out: Path) -> dict:
    """Run the DDP script for ``model``; return what rank 0 wrote."""
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), model], cwd=out.parent, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads((out / f"{model}.json").read_text())
    assert results["world_size"] == 2
    # a distributed sampler gives each process half of every epoch
    assert results["batches_per_epoch"] == math.ceil(results["n_train_cells"] / 2 / 64)
    assert results["train_loss"][-1] < results["train_loss"][0]
    return results


def test_countvae_ddp_on_two_cpu_processes(tmp_path):
    results = train("vae", tmp_path / "out")
    latent = np.load(tmp_path / "out" / "latent.npy")
    cell_type = np.asarray(results["cell_type"])
    assert latent.shape == (len(cell_type), 10) and np.isfinite(latent).all()
    assert knn_accuracy(latent, cell_type) > 0.6


def test_transformer_ddp_on_two_cpu_processes(tmp_path):
    results = train("transformer", tmp_path / "out")
    assert (np.asarray(results["predictions"]) == np.asarray(results["cell_type"])).mean() > 0.6
