"""SemiSupervisedCountVAE with and without the z1 / z2 hierarchy and a normalizing flow, on validation-suite transfers.

The benchmark of ``benchmarks/flow.py``. Each variant trains on the reference (labelled) and the query (unlabelled)
together, the M2 / scANVI setting, for the same epochs, batch size and seed; scored are the classifier's macro-F1 on
the query and its expected calibration error, the ELBO of the held-out validation cells, and seconds per epoch,
wall-clock and CPU (the process's own CPU time, which other jobs on shared cores inflate far less). Repeats of a
variant give the same scores (same seed) and only measure time with less noise: the fastest is kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import scvi

from celltyper.model import SemiSupervisedCountVAE
from celltyper.tl._calibration import expected_calibration_error

from ._methods import Budget
from ._script_output import pipe_table, results_page
from ._suite import BATCH, LABELS
from ._tasks import Task
from ._timing import Stopwatch
from ._validation import transfer_scores

#: variant → keyword arguments of ``SemiSupervisedCountVAE``
VARIANTS: dict[str, dict] = {
    "flat": {},
    "hierarchy": {"latent_hierarchy": True},
    "flow": {"latent_flow": "iaf"},
    "hierarchy+flow": {"latent_hierarchy": True, "latent_flow": "iaf"},
    "flow planar": {"latent_flow": "planar"},
    "flow radial": {"latent_flow": "radial"},
}
#: donors, a study, a simulated platform on PBMC fine types, a simulated platform on a non-PBMC continuum
DEFAULT_TRANSFERS = ["kang8_4to4", "kang_ctrl_to_zheng", "zheng_halves_shifted", "pancreas_halves_shifted"]
SCORES = ["macro_f1", "ece", "heldout_elbo", "seconds_per_epoch", "cpu_seconds_per_epoch"]


def train_variant(task: Task, variant: dict, budget: Budget) -> dict:
    """Train ``SemiSupervisedCountVAE(**variant)`` on ``task``'s reference and unlabelled query; its scores."""
    adata = task.adata.copy()
    adata.obs["_label"] = adata.obs[LABELS].astype(str).where(~task.is_query, "unlabelled")
    SemiSupervisedCountVAE.setup_anndata(
        adata, labels_key="_label", unlabeled_category="unlabelled", layer="counts", batch_key=BATCH
    )
    scvi.settings.seed = budget.seed
    model = SemiSupervisedCountVAE(adata, n_latent=10, **variant)
    with Stopwatch() as training:
        model.train(budget.max_epochs, batch_size=budget.batch_size, accelerator="cpu", enable_progress_bar=False)
    probabilities = cast(pd.DataFrame, model.predict(indices=np.flatnonzero(task.is_query).tolist(), soft=True))
    truth = adata.obs[LABELS][task.is_query].astype(str).to_numpy()
    prediction = probabilities.idxmax(axis=1).to_numpy()
    classes = list(probabilities.columns)
    return {
        "macro_f1": transfer_scores(truth, prediction)["macro_f1"],
        "ece": expected_calibration_error(truth, probabilities.to_numpy(), classes),
        "heldout_elbo": float(model.get_elbo(indices=model.validation_indices)),
        "seconds_per_epoch": training.seconds / budget.max_epochs,
        "cpu_seconds_per_epoch": training.cpu_seconds / budget.max_epochs,
    }


def fastest_of_repeats(task: Task, transfer: str, variants: Sequence[str], repeats: int, budget: Budget) -> list[dict]:
    """Each variant's row on ``task``, run ``repeats`` times interleaved, the fastest kept; every run printed."""
    fastest: dict[str, dict] = {}
    for name in [*variants] * repeats:
        row = {"transfer": transfer, "variant": name, **train_variant(task, VARIANTS[name], budget)}
        print(json.dumps(row), flush=True)
        if name not in fastest or row["seconds_per_epoch"] < fastest[name]["seconds_per_epoch"]:
            fastest[name] = row
    return list(fastest.values())


def flow_table(rows: list[dict]) -> list[str]:
    """Markdown lines: one row per transfer and variant, then each variant's mean over the transfers."""
    mean = pd.DataFrame(rows).groupby("variant", sort=False)[SCORES].mean().reset_index().assign(transfer="**mean**")
    header = ["transfer", "variant", "macro-F1", "ECE", "held-out ELBO", "s / epoch", "CPU s / epoch"]
    cells = [
        [
            r["transfer"],
            r["variant"],
            f"{r['macro_f1']:.3f}",
            f"{r['ece']:.3f}",
            f"{r['heldout_elbo']:.1f}",
            f"{r['seconds_per_epoch']:.2f}",
            f"{r['cpu_seconds_per_epoch']:.2f}",
        ]
        for r in [*rows, *mean.to_dict("records")]
    ]
    return pipe_table(header, cells, text_columns=2)


def write_flow_results(rows: list[dict], out: Path, command: str, settings: dict) -> None:
    """``results.json`` (command, settings, rows) and ``table.md`` (the command and :func:`flow_table`) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"command": command, "settings": settings, "rows": rows}, indent=1))
    page = results_page("Hierarchy and flow: the measured table", [f"`{command}`", "", *flow_table(rows)])
    (out / "table.md").write_text(page)
