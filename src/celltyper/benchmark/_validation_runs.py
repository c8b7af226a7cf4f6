"""The methods the validation suite compares, each run on one transfer and seed, on the same cells.

- ``celltyper``: :func:`celltyper.tl.transfer_labels` with its defaults (or a variant's keyword arguments).
- ``logreg``: scikit-learn's ``LogisticRegression(max_iter=1000)`` on log1p(CP10k) of every gene the two share
  (CellTypist's method); its "Unknown" is CellTypist's: top probability below 0.5.
- ``scanvi``: SCANVI from an SCVI reference model, query mapped by scArches, on the reference's 2,000 most variable
  shared genes; its "Unknown" score is 1 − its top probability.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd

import celltyper as ct
from celltyper import _keys as keys

from ._methods import Budget, run_logreg, run_scanvi
from ._suite import BATCH, LABELS, Transfer
from ._tasks import Task, make_task
from ._validation_scores import transfer_scores

#: CellTypist's rule: a cell whose top logistic-regression probability is below this is unassigned.
CELLTYPIST_THRESHOLD = 0.5


@dataclass
class Run:
    """One method on one transfer and seed: its scores (``record``) and what each query cell got (``cells``)."""

    record: dict
    cells: pd.DataFrame = field(repr=False)


def as_task(transfer: Transfer, n_top_genes: int | None) -> Task:
    """The transfer as a benchmark :class:`Task`: both sides on their shared genes.

    The task keeps the reference's ``n_top_genes`` most variable shared genes (``None``: all of them); the query's
    batches are named apart from the reference's.
    """
    genes = transfer.reference.var_names.intersection(transfer.query.var_names, sort=False)
    query = transfer.query[:, genes].copy()
    query.obs[BATCH] = "query:" + query.obs[BATCH].astype(str)
    adata = ad.concat([transfer.reference[:, genes], query], label="_side", keys=["reference", "query"])
    adata.obs_names_make_unique()
    is_query = (adata.obs["_side"] == "query").to_numpy()
    return make_task(transfer.name, adata, is_query, LABELS, BATCH, transfer.description, n_top_genes or len(genes))


def run_celltyper(transfer: Transfer, seed: int, variant: dict) -> Run:
    """:func:`celltyper.tl.transfer_labels` as a user calls it, plus ``variant``'s keyword arguments."""
    query = transfer.query.copy()
    start = time.perf_counter()
    result = ct.tl.transfer_labels(
        transfer.reference,
        query,
        LABELS,
        layer="counts",
        batch_key=BATCH,
        random_state=seed,
        progress_bar=False,
        **variant,
    )
    seconds = time.perf_counter() - start
    truth = query.obs[LABELS].astype(str).to_numpy()
    prediction = query.obs[keys.prediction_key()].astype(str).to_numpy()
    best = result.probabilities.idxmax(axis=1).to_numpy()
    cells = pd.DataFrame(
        {
            "truth": truth,
            "prediction": best,
            "confidence": query.obs[keys.confidence_key()].to_numpy(),
            "novelty": query.obs[keys.novelty_key()].to_numpy(),
            "unknown": prediction == keys.UNKNOWN,
        }
    )
    record = {
        **transfer_scores(truth, prediction),
        "argmax_macro_f1": transfer_scores(truth, best)["macro_f1"],
        "seconds": seconds,
        "n_genes_used": query.uns[keys.KEY_ADDED]["n_genes_used"],
    }
    return Run(record, cells)


def run_logistic_regression(transfer: Transfer, seed: int) -> Run:
    """CellTypist's method on every shared gene; "Unknown" below a top probability of 0.5 kept apart."""
    task = as_task(transfer, None)
    output = run_logreg(task, Budget(seed=seed), {})
    probabilities = output.probabilities
    assert probabilities is not None  # a classifier's output
    truth = task.query.obs[LABELS].astype(str).to_numpy()
    best = probabilities.columns.to_numpy()[probabilities.to_numpy().argmax(1)]
    confidence = probabilities.to_numpy().max(1)
    record = {
        **transfer_scores(truth, best),
        "celltypist_unknown": transfer_scores(truth, np.where(confidence < CELLTYPIST_THRESHOLD, keys.UNKNOWN, best)),
        "seconds": output.train_seconds + output.predict_seconds,
    }
    unknown = confidence < CELLTYPIST_THRESHOLD
    cells = pd.DataFrame({"truth": truth, "prediction": best, "confidence": confidence, "unknown": unknown})
    return Run(record, cells)


def run_scanvi_anchor(transfer: Transfer, seed: int, budget: Budget) -> Run:
    """SCANVI (scvi-tools) with scArches query mapping on the reference's 2,000 most variable shared genes."""
    task = as_task(transfer, 2000)
    output = run_scanvi(task, Budget(budget.max_epochs, budget.query_epochs, budget.batch_size, seed), {})
    probabilities = output.probabilities
    assert probabilities is not None  # a classifier's output
    truth = task.query.obs[LABELS].astype(str).to_numpy()
    best = probabilities.columns.to_numpy()[probabilities.to_numpy().argmax(1)]
    record = {**transfer_scores(truth, best), "seconds": output.train_seconds + output.predict_seconds}
    confidence = probabilities.to_numpy().max(1)
    cells = pd.DataFrame(
        {"truth": truth, "prediction": best, "confidence": confidence, "unknown": np.zeros_like(best, bool)}
    )
    return Run(record, cells)


METHODS = ("celltyper", "logreg", "scanvi")


def run_method(method: str, transfer: Transfer, seed: int, variant: dict, budget: Budget) -> Run:
    """One of :data:`METHODS` on ``transfer`` (``variant``: keyword arguments of celltyper's ``transfer_labels``)."""
    if method == "celltyper":
        return run_celltyper(transfer, seed, variant)
    if method == "logreg":
        return run_logistic_regression(transfer, seed)
    if method == "scanvi":
        return run_scanvi_anchor(transfer, seed, budget)
    raise ValueError(f"Unknown method {method!r}; choose from {METHODS}.")
