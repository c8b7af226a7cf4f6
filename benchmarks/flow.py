"""SemiSupervisedCountVAE with and without the z1 / z2 hierarchy and a normalizing flow, on validation-suite transfers.

Each variant trains on the reference (labelled) and the query (unlabelled) together, the M2 / scANVI setting, for
the same epochs, batch size and seed, on the reference's 2,000 most variable shared genes; the query's batches are
batches of their own. Scored: the classifier's macro-F1 on the query (types with ≥ 10 cells) and its expected
calibration error, the ELBO of the held-out validation cells (10 %, never trained on), and seconds per epoch,
wall-clock and CPU (the process's own CPU time, which other jobs on shared cores inflate far less).
Writes OUT/results.json and OUT/table.md:

    python benchmarks/flow.py --out docs/benchmarks/flow
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scvi
import torch

from celltyper.benchmark import Budget, expected_calibration_error
from celltyper.benchmark._suite import BATCH, LABELS, TRANSFERS, suite_transfers
from celltyper.benchmark._validation import as_task, transfer_scores
from celltyper.model import SemiSupervisedCountVAE

VARIANTS = {
    "flat": {},
    "hierarchy": {"latent_hierarchy": True},
    "flow": {"latent_flow": "iaf"},
    "hierarchy+flow": {"latent_hierarchy": True, "latent_flow": "iaf"},
    "flow planar": {"latent_flow": "planar"},
    "flow radial": {"latent_flow": "radial"},
}
#: donors, a study, a simulated platform on PBMC fine types, a simulated platform on a non-PBMC continuum
DEFAULT_TRANSFERS = ["kang8_4to4", "kang_ctrl_to_zheng", "zheng_halves_shifted", "pancreas_halves_shifted"]


def run(task, variant: dict, budget: Budget) -> dict:
    adata = task.adata.copy()
    adata.obs["_label"] = adata.obs[LABELS].astype(str).where(~task.is_query, "unlabelled")
    SemiSupervisedCountVAE.setup_anndata(
        adata, labels_key="_label", unlabeled_category="unlabelled", layer="counts", batch_key=BATCH
    )
    scvi.settings.seed = budget.seed
    model = SemiSupervisedCountVAE(adata, n_latent=10, **variant)
    wall, cpu = time.perf_counter(), time.process_time()
    model.train(budget.max_epochs, batch_size=budget.batch_size, accelerator="cpu", enable_progress_bar=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    probabilities = model.predict(indices=np.flatnonzero(task.is_query), soft=True)
    truth = adata.obs[LABELS][task.is_query].astype(str).to_numpy()
    prediction = probabilities.idxmax(axis=1).to_numpy()
    classes = list(probabilities.columns)
    return {
        "macro_f1": transfer_scores(truth, prediction)["macro_f1"],
        "ece": expected_calibration_error(truth, probabilities.to_numpy(), classes),
        "heldout_elbo": float(model.get_elbo(indices=model.validation_indices)),
        "seconds_per_epoch": wall / budget.max_epochs,
        "cpu_seconds_per_epoch": cpu / budget.max_epochs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for results.json and table.md")
    parser.add_argument("--transfers", nargs="+", default=DEFAULT_TRANSFERS, choices=list(TRANSFERS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS)[:4], choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of every variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each variant, interleaved; the fastest kept")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    budget = Budget(max_epochs=args.epochs, seed=args.seed)
    rows = []
    for transfer in suite_transfers(args.transfers, seed=args.seed):
        task = as_task(transfer, n_top_genes=2000)
        fastest = {}  # the same seed gives the same scores: repeats only measure time with less noise
        for name in [*args.variants] * args.repeats:
            row = {"transfer": transfer.name, "variant": name, **run(task, VARIANTS[name], budget)}
            print(json.dumps(row), flush=True)
            if name not in fastest or row["seconds_per_epoch"] < fastest[name]["seconds_per_epoch"]:
                fastest[name] = row
        rows += fastest.values()
    columns = ["macro_f1", "ece", "heldout_elbo", "seconds_per_epoch", "cpu_seconds_per_epoch"]
    table = pd.DataFrame(rows)
    mean = table.groupby("variant", sort=False)[columns].mean().reset_index().assign(transfer="**mean**")
    command = "python benchmarks/flow.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"epochs": args.epochs, "seed": args.seed, "repeats": args.repeats, "batch_size": budget.batch_size}
    (out / "results.json").write_text(json.dumps({"command": command, "settings": settings, "rows": rows}, indent=1))
    lines = [
        "| transfer | variant | macro-F1 | ECE | held-out ELBO | s / epoch | CPU s / epoch |",
        "|---|---|" + "---:|" * 5,
    ]
    for r in [*rows, *mean.to_dict("records")]:
        numbers = f"{r['macro_f1']:.3f} | {r['ece']:.3f} | {r['heldout_elbo']:.1f} | {r['seconds_per_epoch']:.2f}"
        lines.append(f"| {r['transfer']} | {r['variant']} | {numbers} | {r['cpu_seconds_per_epoch']:.2f} |")
    front = ["---", "orphan: true", "---", "", "# Hierarchy and flow: the measured table", "", f"`{command}`", ""]
    (out / "table.md").write_text("\n".join([*front, *lines, ""]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
