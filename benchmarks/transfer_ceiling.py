"""How far can a classifier get on the label-transfer queries when it sees the query's own labels?

A reference point for ``benchmarks/transfer.py``, not a method: logistic regression (class-balanced, L2, C in
``--C``) on log1p(CP10k) of the reference's 2,000 HVGs (the genes of ``benchmarks/transfer.py``), scored by
stratified 5-fold cross-validation on the query cells:

- ``reference only``: trained on the reference, every query fold predicted (label transfer, no query labels);
- ``query folds``: trained on the other four folds of the query (in-domain, supervised);
- ``reference + query folds``: both.

Writes ``results.json``, ``report.md`` and ``transfer_ceiling.png`` to ``--out``:

    python benchmarks/transfer_ceiling.py --out docs/benchmarks/transfer_ceiling [--tasks kang kang_8donors]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from celltyper.benchmark._logreg import fit_logreg, log_normalized
from celltyper.benchmark._pairs import kang_conditions, kang_donors, on_genes, reference_genes

SPLITS = {"kang": lambda data: kang_conditions(), "kang_8donors": kang_donors}
TRAINING = ("reference only", "query folds", "reference + query folds")


def cross_validated_f1(reference, query, C: float, seed: int) -> dict[str, float]:
    """Query macro-F1 of each training set, every query cell predicted once (5 stratified folds)."""
    X_reference, y_reference = log_normalized(reference), reference.obs["cell_type"].astype(str).to_numpy()
    X_query, y_query = log_normalized(query), query.obs["cell_type"].astype(str).to_numpy()
    predictions = {training: np.empty(len(y_query), dtype=object) for training in TRAINING}
    reference_model = fit_logreg(X_reference, y_reference, C=C, class_weight="balanced", max_iter=3000)
    predictions["reference only"][:] = reference_model.predict(X_query)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed).split(X_query, y_query)
    for train, test in folds:
        sets = {
            "query folds": (X_query[train], y_query[train]),
            "reference + query folds": (
                sp.vstack([X_reference, X_query[train]]),
                np.concatenate([y_reference, y_query[train]]),
            ),
        }
        for training, (X, y) in sets.items():
            model = fit_logreg(X, y, C=C, class_weight="balanced", max_iter=3000)
            predictions[training][test] = model.predict(X_query[test])
    return {training: f1_score(y_query, predicted, average="macro") for training, predicted in predictions.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--data", default=None, help="folder with the shared datasets (default ../shared/data)")
    parser.add_argument("--tasks", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--C", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rows = []
    for task in args.tasks:
        reference, query = SPLITS[task](args.data)
        genes = reference_genes(reference, 2000)
        reference, query = on_genes(reference, genes), on_genes(query, genes)
        for C in args.C:
            for training, f1 in cross_validated_f1(reference, query, C, args.seed).items():
                rows.append({"task": task, "C": C, "training": training, "macro_f1": f1})
                print(task, C, training, round(f1, 3), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(sys.argv)
    (args.out / "results.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1))
    table = pd.DataFrame(rows).pivot_table(index=["task", "C"], columns="training", values="macro_f1")[list(TRAINING)]
    (args.out / "report.md").write_text(
        "---\norphan: true\n---\n\n# Label transfer: query macro-F1 with and without the query's own labels\n\n"
        f"Command: `{command}`\n\nLogistic regression (class-balanced), 5-fold CV on the query cells.\n\n"
        + table.round(3).reset_index().to_markdown(index=False)
        + "\n"
    )
    best = table.groupby(level="task").max()
    ax = best.plot.bar(figsize=(6, 3.5), rot=0, ylim=(0.5, 1.0))
    ax.set_ylabel("query macro-F1 (best C)")
    ax.legend(fontsize=8, loc="upper left", ncol=3)
    plt.tight_layout()
    plt.savefig(args.out / "transfer_ceiling.png", dpi=120)


if __name__ == "__main__":
    main()
