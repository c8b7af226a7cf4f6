"""Self-training on the query (pseudo-labels) after transfer_labels: does it adapt the labels to a shifted query?

Runs ``ct.tl.transfer_labels`` once per task with the settings of ``benchmarks/transfer.py`` (2,000 HVGs, batch size
128, ``--epochs`` / ``--query-epochs``), keeps the query's calibrated probabilities, Unknown calls, latent positions
and log1p(CP10k) expression (the model's genes, shifted genes left out), then fits light classifiers on the query's
own confident cells and scores every variant's argmax, as the benchmark does:

- pseudo-labels: the cells not called "Unknown" (so no novel cell is pseudo-labelled), per predicted type the
  ``frac`` most confident ones (class-balanced: every type keeps at least 5 cells);
- classifier: scikit-learn logistic regression (C = 0.1, class-balanced weights) on the query's expression or on its
  latent positions, or label spreading over the latent kNN graph; its probabilities replace the model's or are
  combined with them (geometric mean);
- controls without pseudo-labels: the same logistic regression trained on the reference only.

Writes ``results.json`` (macro-F1, accuracy, per-class F1, paired bootstrap interval of the gain over
transfer_labels) and ``report.md`` to ``--out``:

    python benchmarks/transfer_self_training.py --out runs/self_training --task kang
    python benchmarks/transfer_self_training.py --out runs/self_training --task kang_8donors --epochs 25 \
        --query-epochs 25
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading

sys.path.insert(0, str(Path(__file__).parent))
from transfer import kang_donor_split, kang_split, log_normalized, on_genes

import celltyper as ct


def transfer_outputs(task: str, args) -> dict[str, np.ndarray]:
    """One transfer_labels run: the query's probabilities, Unknown calls, latent, expression and truth."""
    reference, query = kang_split() if task == "kang" else kang_donor_split(args.data)
    batch_key = None if task == "kang" else "donor"
    annotated = query.copy()
    result = ct.tl.transfer_labels(
        reference,
        annotated,
        "cell_type",
        layer="counts",
        batch_key=batch_key,
        classifier="vae",  # the classifier these measurements were made with, before "ensemble" became the default
        max_epochs=args.epochs,
        query_max_epochs=args.query_epochs,
        train_kwargs={"batch_size": args.batch_size},
    )
    genes = result.reference_model.adata.var_names  # the model's genes: HVGs without the shifted ones
    return {
        "classes": np.asarray(result.probabilities.columns, dtype=str),
        "probabilities": result.probabilities.to_numpy(),
        "confidence": annotated.obs["celltyper_confidence"].to_numpy(),
        "unknown": (annotated.obs["celltyper_prediction"] == "Unknown").to_numpy(),
        "latent": annotated.obsm["X_celltyper"],
        "expression": log_normalized(on_genes(query, genes)),
        "truth": query.obs["cell_type"].astype(str).to_numpy(),
        "reference_expression": log_normalized(on_genes(reference, genes)),
        "reference_truth": reference.obs["cell_type"].astype(str).to_numpy(),
    }


def pseudo_labelled(predicted, confidence, unknown, frac: float, min_cells: int = 5) -> np.ndarray:
    """Indices of the ``frac`` most confident non-Unknown cells of every predicted type (at least ``min_cells``)."""
    chosen = []
    for label in np.unique(predicted):
        cells = np.flatnonzero(~unknown & (predicted == label))
        n = max(min(min_cells, len(cells)), round(frac * len(cells)))
        chosen.extend(cells[np.argsort(-confidence[cells])[:n]])
    return np.asarray(chosen)


def variants(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Predicted type of every query cell, per variant."""
    classes, probabilities = out["classes"], out["probabilities"]
    predicted = classes[probabilities.argmax(1)]
    expression, latent = out["expression"], StandardScaler().fit_transform(out["latent"])

    def logreg(features, labels, on):
        model = LogisticRegression(max_iter=1000, C=0.1, class_weight="balanced").fit(features, labels)
        full = np.zeros_like(probabilities)
        full[:, [list(classes).index(c) for c in model.classes_]] = model.predict_proba(on)
        return full

    def geometric_mean(other):
        mean = np.sqrt((probabilities + 1e-12) * (other + 1e-12))
        return classes[mean.argmax(1)]

    def chosen(frac):
        return pseudo_labelled(predicted, out["confidence"], out["unknown"], frac)

    every, half, top30 = chosen(1.0), chosen(0.5), chosen(0.3)
    reference_only = logreg(out["reference_expression"], out["reference_truth"], expression)
    spread_labels = -np.ones(len(predicted), dtype=int)
    spread_labels[top30] = [list(classes).index(c) for c in predicted[top30]]
    spreading = LabelSpreading(kernel="knn", n_neighbors=15, alpha=0.2).fit(latent, spread_labels)
    return {
        "transfer_labels (no self-training)": predicted,
        "query logreg on expression, all confident cells, replaces": classes[
            logreg(expression[every], predicted[every], expression).argmax(1)
        ],
        "query logreg on expression, all confident cells, geometric mean": geometric_mean(
            logreg(expression[every], predicted[every], expression)
        ),
        "query logreg on expression, top 50 % per type, geometric mean": geometric_mean(
            logreg(expression[half], predicted[half], expression)
        ),
        "query logreg on latent, top 50 % per type, geometric mean": geometric_mean(
            logreg(latent[half], predicted[half], latent)
        ),
        "label spreading on the latent kNN graph from the top 30 % per type": classes[spreading.transduction_],
        "reference + query (top 50 %) logreg on expression, geometric mean": geometric_mean(
            logreg(
                np.vstack([out["reference_expression"], expression[half]]),
                np.concatenate([out["reference_truth"], predicted[half]]),
                expression,
            )
        ),
        "control, no pseudo-labels: reference logreg, geometric mean": geometric_mean(reference_only),
        "control, no pseudo-labels: reference logreg alone": classes[reference_only.argmax(1)],
    }


def score(truth, predictions: dict[str, np.ndarray], n_boot: int = 300) -> list[dict]:
    """Macro-F1, accuracy, per-class F1 and a paired bootstrap 95 % interval of the gain over the first variant."""
    labels = sorted(set(truth))

    def macro(t, p):
        return f1_score(t, p, labels=labels, average="macro", zero_division=0)

    rng = np.random.default_rng(0)
    draws = [rng.integers(0, len(truth), len(truth)) for _ in range(n_boot)]
    base = next(iter(predictions.values()))
    rows = []
    for name, predicted in predictions.items():
        gains = [macro(truth[d], predicted[d]) - macro(truth[d], base[d]) for d in draws]
        per_class = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
        rows.append(
            {
                "variant": name,
                "macro_f1": macro(truth, predicted),
                "accuracy": float((predicted == truth).mean()),
                "gain_lo95": float(np.percentile(gains, 2.5)),
                "gain_hi95": float(np.percentile(gains, 97.5)),
                "per_class_f1": dict(zip(labels, per_class.round(3).tolist(), strict=True)),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--task", default="kang", choices=["kang", "kang_8donors"])
    parser.add_argument("--data", default=None, help="folder with the shared datasets (default ../shared/data)")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--query-epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    out = transfer_outputs(args.task, args)
    rows = score(out["truth"], variants(out))
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"command": "python " + " ".join(sys.argv), "task": args.task, "rows": rows}
    (args.out / f"{args.task}.json").write_text(json.dumps(record, indent=1))
    table = pd.DataFrame(rows).drop(columns="per_class_f1").round(3)
    per_class = pd.DataFrame({r["variant"]: r["per_class_f1"] for r in rows}).T
    (args.out / f"{args.task}.md").write_text(
        "---\norphan: true\n---\n\n"  # linked from docs/transfer.md, in no toctree
        f"# Self-training on the query: {args.task}\n\n`{record['command']}`\n\n"
        f"{table.to_markdown(index=False)}\n\nPer-class F1:\n\n{per_class.to_markdown()}\n"
    )
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
