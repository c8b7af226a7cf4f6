"""Novelty scores for a cell type the reference lacks: which score separates it from the known query cells?

Runs ``ct.tl.transfer_labels`` on Kang ctrl → stim with one type left out of the reference (``--left-out``; ``none``
leaves every type in, to measure how many known cells each score flags), with the settings of
``benchmarks/transfer.py`` (2,000 HVGs, batch size 128, 50 + 50 epochs), then scores every query cell with candidate
novelty scores computed from the run's outputs:

- ``1-confidence``: 1 − calibrated top probability (softmax);
- ``energy``: −logsumexp of the classifier's logits (Liu et al. 2020);
- ``latent mahalanobis``: transfer_labels' novelty — Mahalanobis distance (Ledoit-Wolf) to the nearest reference
  type in the CountVAE latent;
- ``latent relative mahalanobis``: the same minus the distance to one Gaussian of all reference cells (Ren et al.
  2021, meant for types next to known ones);
- ``genes …``: the same ideas in gene space — a PCA (20 components) of the reference's log1p(CP10k) expression on the
  model's genes (HVGs, shifted genes left out), the query projected onto it: Mahalanobis distance to the nearest
  type, mean distance to the 15 nearest reference cells, and per type the mean distance to the 10 nearest cells of
  that type ranked among the type's own cells (leave-one-out), the smallest rank over types.

For each score: AUROC separating the left-out type's query cells from the others and, for scores ranked against the
held-out reference cells (or, per type, leave-one-out reference cells), the share of novel and of known query cells
above 0.9 — what a 0.9 threshold would call Unknown. Writes ``<left-out>.json`` and regenerates ``report.md`` from
every JSON in ``--out``:

    python benchmarks/transfer_novelty.py --out runs/transfer_novelty --left-out NK
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
from scipy.special import logsumexp
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).parent))
from transfer import kang_split, log_normalized

import celltyper as ct

#: Scores ranked against reference cells (a 0.9 threshold means "further out than 90 % of them").
RANKED = ("latent mahalanobis", "latent relative mahalanobis", "genes mahalanobis", "genes kNN", "genes kNN per type")


def transfer_outputs(left_out: str, args) -> dict[str, np.ndarray]:
    """One transfer_labels run: query and reference latent, logits, probabilities, expression and labels."""
    reference, query = kang_split(drop=None if left_out == "none" else left_out)
    annotated = query.copy()
    result = ct.tl.transfer_labels(
        reference,
        annotated,
        "cell_type",
        layer="counts",
        classifier="vae",  # the energy score reads this classifier's logits (measured before "ensemble" was default)
        max_epochs=args.epochs,
        query_max_epochs=args.query_epochs,
        train_kwargs={"batch_size": args.batch_size},
    )
    model_reference = result.reference_model.adata  # the model's genes: HVGs without the shifted ones
    reference_latent = result.reference_model.get_latent_representation()
    query_latent = annotated.obsm["X_celltyper"]
    classifier = result.reference_model.module.classifier.eval()
    with torch.no_grad():
        logits = classifier(torch.as_tensor(query_latent, dtype=torch.float32)).numpy()
    query_counts = result.query_model.adata
    return {
        "reference_latent": reference_latent,
        "query_latent": query_latent,
        "reference_expression": log_normalized(_with_counts(model_reference)),
        "query_expression": log_normalized(_with_counts(query_counts)),
        "reference_labels": model_reference.obs["_celltyper_true_labels"].to_numpy().astype(str),
        "held_out": model_reference.obs["_celltyper_calibration"].to_numpy().astype(bool),
        "query_labels": query.obs["cell_type"].astype(str).to_numpy(),
        "confidence": annotated.obs["celltyper_confidence"].to_numpy(),
        "novelty": annotated.obs["celltyper_novelty"].to_numpy(),
        "logits": logits,
    }


def _with_counts(adata):
    """``adata`` with its counts (X of transfer_labels' copies) in layers['counts'], as log_normalized expects."""
    adata = adata.copy()
    adata.layers["counts"] = adata.X
    return adata


def _rank(values: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(calibration), values, side="left") / calibration.size


def _nearest_type(fitted, labels, points, relative: bool = False) -> np.ndarray:
    """Mahalanobis distance (Ledoit-Wolf) to the nearest type; ``relative``: minus that to all cells' Gaussian."""
    squared = np.column_stack([LedoitWolf().fit(fitted[labels == t]).mahalanobis(points) for t in np.unique(labels)])
    if relative:
        squared = squared - LedoitWolf().fit(fitted).mahalanobis(points)[:, None]
    return squared.min(axis=1)


def _knn_per_type(fitted, labels, points, k: int = 10) -> np.ndarray:
    """Per type, mean distance to its ``k`` nearest cells ranked among its own cells (leave-one-out); min over types."""
    ranks = []
    for t in np.unique(labels):
        cells = fitted[labels == t]
        n = min(k, len(cells) - 2)
        index = NearestNeighbors(n_neighbors=n + 1).fit(cells)
        own = index.kneighbors(cells)[0][:, 1:].mean(1)  # leave-one-out: the first neighbour is the cell itself
        ranks.append(_rank(index.kneighbors(points)[0][:, :n].mean(1), own))
    return np.min(ranks, axis=0)


def scores(out: dict[str, np.ndarray], n_components: int = 20, k: int = 15) -> dict[str, np.ndarray]:
    """Every candidate score of the query cells, higher = more novel; ranked ones in [0, 1]."""
    held_out, labels = out["held_out"], out["reference_labels"]
    fitted_labels = labels[~held_out]
    result = {
        "1-confidence": 1 - out["confidence"],
        "energy": -logsumexp(out["logits"], axis=1),
        "latent mahalanobis": out["novelty"],
    }
    latent, query_latent = out["reference_latent"], out["query_latent"]
    result["latent relative mahalanobis"] = _rank(
        _nearest_type(latent[~held_out], fitted_labels, query_latent, relative=True),
        _nearest_type(latent[~held_out], fitted_labels, latent[held_out], relative=True),
    )
    expression = out["reference_expression"]
    pca = PCA(n_components, random_state=0).fit(expression[~held_out])
    genes, query_genes = pca.transform(expression), pca.transform(out["query_expression"])
    result["genes mahalanobis"] = _rank(
        _nearest_type(genes[~held_out], fitted_labels, query_genes),
        _nearest_type(genes[~held_out], fitted_labels, genes[held_out]),
    )
    index = NearestNeighbors(n_neighbors=k).fit(genes[~held_out])
    result["genes kNN"] = _rank(index.kneighbors(query_genes)[0].mean(1), index.kneighbors(genes[held_out])[0].mean(1))
    result["genes kNN per type"] = _knn_per_type(genes[~held_out], fitted_labels, query_genes)
    return result


def own_type_distances(out: dict[str, np.ndarray], n_components: int = 20) -> list[dict]:
    """With every type in the reference: how far each query type lies from its own reference type and the next one.

    Per query type, the median Mahalanobis distance (Ledoit-Wolf, as ``scores``) of its cells to their own type's
    Gaussian, to the nearest other type's, and of the held-out reference cells of that type to their own; and the
    share of its cells closer to another type. A type that the query's condition moves as far from its own reference
    type as the nearest other type is will look known when it is left out.
    """
    held_out, labels = out["held_out"], out["reference_labels"]
    expression = out["reference_expression"]
    pca = PCA(n_components, random_state=0).fit(expression[~held_out])
    spaces = {
        "latent": (out["reference_latent"], out["query_latent"]),
        "genes": (pca.transform(expression), pca.transform(out["query_expression"])),
    }
    rows = []
    for space, (reference, query) in spaces.items():
        types = np.unique(labels)
        gaussians = {t: LedoitWolf().fit(reference[~held_out & (labels == t)]) for t in types}
        for t in types:
            cells = query[out["query_labels"] == t]
            own = np.sqrt(gaussians[t].mahalanobis(cells))
            others = {u: np.sqrt(gaussians[u].mahalanobis(cells)) for u in types if u != t}
            nearest_other = np.min(list(others.values()), axis=0)
            rows.append(
                {
                    "space": space,
                    "type": t,
                    "own": float(np.median(own)),
                    "nearest_other": float(np.median(nearest_other)),
                    "nearest_other_type": max(others, key=lambda u: int((others[u] == nearest_other).sum())),
                    "closer_to_other": float((nearest_other < own).mean()),
                    "held_out_own": float(
                        np.median(np.sqrt(gaussians[t].mahalanobis(reference[held_out & (labels == t)])))
                    ),
                }
            )
    return rows


def evaluate(left_out: str, out: dict[str, np.ndarray]) -> list[dict]:
    novel = out["query_labels"] == left_out
    rows = []
    for name, score in scores(out).items():
        row = {"left_out": left_out, "score": name}
        if novel.any():
            row["auroc_novel"] = float(roc_auc_score(novel, score))
        if name in RANKED:
            flagged = score > 0.9
            row["flagged_novel"] = float(flagged[novel].mean()) if novel.any() else None
            row["flagged_known"] = float(flagged[~novel].mean())
            row["flagged_known_by_type"] = {
                t: float(flagged[out["query_labels"] == t].mean()) for t in np.unique(out["query_labels"][~novel])
            }
        rows.append(row)
    return rows


def report(folder: Path) -> None:
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    rows = [row for record in records for row in record["rows"]]
    frame = pd.DataFrame(rows)
    auroc = frame.pivot(index="score", columns="left_out", values="auroc_novel") if "auroc_novel" in frame else None
    flagged = frame.pivot(index="score", columns="left_out", values="flagged_known")
    lines = ["---", "orphan: true", "---", ""]  # linked from docs/transfer.md, in no toctree
    lines += ["# Novelty scores: Kang ctrl → stim, one type left out of the reference", ""]
    if auroc is not None:
        lines += ["AUROC separating the left-out type's query cells from the others:", "", auroc.round(3).to_markdown()]
    lines += ["", "Share of known query cells above 0.9 (ranked scores):", "", flagged.dropna().round(3).to_markdown()]
    distances = [row for record in records for row in record.get("own_type_distances", [])]
    if distances:
        lines += [
            "",
            "Every type in the reference: median Mahalanobis distance of each query type to its own reference type",
            "and to the nearest other one, share of its cells closer to another type:",
            "",
            pd.DataFrame(distances).round(2).to_markdown(index=False),
        ]
    lines += ["", "Commands: " + "; ".join(record["command"] for record in records)]
    (folder / "report.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--left-out", required=True, help="cell type left out of the reference, or 'none'")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--query-epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    args.out.mkdir(parents=True, exist_ok=True)
    out = transfer_outputs(args.left_out, args)
    record = {"command": "python " + " ".join(sys.argv), "rows": evaluate(args.left_out, out)}
    if args.left_out == "none":
        record["own_type_distances"] = own_type_distances(out)
    (args.out / f"{args.left_out}.json").write_text(json.dumps(record, indent=1))
    report(args.out)


if __name__ == "__main__":
    main()
