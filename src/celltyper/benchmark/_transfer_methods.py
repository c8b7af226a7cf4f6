"""The methods of the label-transfer benchmark (``benchmarks/transfer.py``), all run the same way on one pair.

``transfer_labels`` gets the full reference and query and picks its own genes; the baselines (SCANVI and kNN on the
latent of one SCVI reference model per pair, logistic regression plain or without the genes ``transfer_labels``
would leave out) get the reference's highly variable genes through one :class:`~celltyper.benchmark.Task`. Every
method returns the query cells' probabilities and the extra numbers it reports; :func:`run_transfer_methods` runs the
chosen ones (:class:`TransferSettings`) in the order of :data:`ALL_TRANSFER_METHODS`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from anndata import AnnData

import celltyper as ct
from celltyper._keys import UNKNOWN, confidence_key, novelty_key, prediction_key
from celltyper.tl._transfer import Classifier

from ._logreg import logreg_probabilities
from ._methods import METHODS, Budget, Cache, _labels_key
from ._pairs import on_genes, pair_task, reference_genes
from ._tasks import Task

logger = logging.getLogger(__name__)

#: A method's query probabilities (cells × types) and extra numbers: ``confidence``, ``unknown`` and ``scores``
#: (further confidence-like scores, higher = more like the reference) when it has its own, then values to report.
Outcome = tuple[pd.DataFrame, dict]


@dataclass(frozen=True)
class TransferPair:
    """One reference / query pair of a transfer task: raw counts in ``layers["counts"]``, labels in the reference."""

    reference: AnnData
    query: AnnData
    labels_key: str
    batch_key: str | None = None


@dataclass
class TransferMethodRun:
    """What one method produced on one pair.

    Attributes
    ----------
    method
        Its name in :data:`ALL_TRANSFER_METHODS`.
    classes, probabilities
        The cell types and the query cells' probabilities of each (cells × types).
    extra
        The method's own ``confidence``, ``unknown`` calls and ``scores``, if any (see ``_transfer_tasks.confidences``,
        which takes them out), and numbers to report.
    seconds
        Wall-clock seconds of training and prediction.
    """

    method: str
    classes: list[str]
    probabilities: np.ndarray
    extra: dict
    seconds: float


def transfer_labels_method(classifier: Classifier) -> Callable[[TransferPair, Budget, int], Outcome]:
    """``ct.tl.transfer_labels`` with ``classifier`` on the full reference and query (it picks its own genes)."""

    def run(pair: TransferPair, budget: Budget, n_top_genes: int) -> Outcome:
        query = pair.query.copy()
        result = ct.tl.transfer_labels(
            pair.reference, query, pair.labels_key, layer="counts", batch_key=pair.batch_key, classifier=classifier,
            train_kwargs={"batch_size": budget.batch_size}, max_epochs=budget.max_epochs,
            query_max_epochs=budget.query_epochs, n_top_genes=n_top_genes,
        )  # fmt: skip
        confidence = query.obs[confidence_key()].to_numpy()
        novelty = query.obs[novelty_key()].to_numpy()
        return result.probabilities, {
            "confidence": confidence,
            "unknown": (query.obs[prediction_key()] == UNKNOWN).to_numpy(),
            "scores": {"1-novelty": 1 - novelty, "confidence*(1-novelty)": confidence * (1 - novelty)},
            "gene_overlap": result.gene_overlap,
            "temperature": result.calibration.temperature,
            "ece_heldout_before": result.calibration.ece_before,
            "ece_heldout_after": result.calibration.ece_after,
            "n_shifted_genes_excluded": len(result.excluded_genes),
        }

    return run


def logreg_method(
    C: float = 1.0, class_weight: str | None = None, without_shifted: bool = False
) -> Callable[[Task, Budget, Cache], Outcome]:
    """The benchmark's logistic regression; ``without_shifted``: less the genes shifted by over 0.25 in the query."""

    def run(task: Task, budget: Budget, cache: Cache) -> Outcome:
        reference, query = task.reference, task.query
        if without_shifted:
            keep = ~reference.var_names.isin(ct.tl.shifted_genes(reference.X, query.X, reference.var_names, 0.25))
            reference, query = reference[:, keep].copy(), query[:, keep].copy()
        return logreg_probabilities(reference, query, _labels_key(task), C=C, class_weight=class_weight), {}

    return run


def harness_method(name: str) -> Callable[[Task, Budget, Cache], Outcome]:
    """A method of ``celltyper.benchmark.METHODS`` (SCANVI and kNN on scVI share one SCVI reference model)."""

    def run(task: Task, budget: Budget, cache: Cache) -> Outcome:
        probabilities = METHODS[name][0](task, budget, cache).probabilities
        assert probabilities is not None  # a pair task has labelled query cells
        return probabilities, {}

    return run


#: Methods on the full data: ``transfer_labels`` with its default and its other classifiers.
METHODS_ON_FULL_DATA = {
    "celltyper": transfer_labels_method("linear"),
    "celltyper (classifier=vae)": transfer_labels_method("vae"),
    "celltyper (classifier=transformer)": transfer_labels_method("transformer"),
}
#: Methods on the reference's highly variable genes, through one benchmark Task per pair.
BASELINES = {
    "SCANVI (scArches)": harness_method("scanvi"),
    "kNN on scVI": harness_method("scvi"),
    "logreg": logreg_method(),
    "logreg, shifted genes removed": logreg_method(without_shifted=True),
    # The same, class-balanced and 100 times more regularised.
    "logreg (balanced, C=0.01), shifted genes removed": logreg_method(0.01, "balanced", without_shifted=True),
}
ALL_TRANSFER_METHODS = [*METHODS_ON_FULL_DATA, *BASELINES]
#: transfer_labels with its other classifiers (the VAE's, CellTypeTransformer) runs on request only.
DEFAULT_TRANSFER_METHODS = [name for name in ALL_TRANSFER_METHODS if not name.startswith("celltyper (classifier=")]


@dataclass(frozen=True)
class TransferSettings:
    """What every method of every transfer task is given, and which methods run.

    Attributes
    ----------
    budget
        Reference and query epochs and batch size of every method.
    n_top_genes
        The reference's highly variable genes the baselines see (``transfer_labels``' own gene budget too).
    methods
        Names of :data:`ALL_TRANSFER_METHODS`.
    novel_types
        The types left out of the reference, one at a time, by the ``novel`` task.
    data_dir
        Folder of the shared datasets (``kang_8donors``, ``zheng``); ``None``: the default of ``shared_data_dir``.
    """

    budget: Budget
    n_top_genes: int = 2000
    methods: Sequence[str] = field(default_factory=lambda: list(DEFAULT_TRANSFER_METHODS))
    novel_types: Sequence[str] = ("B", "NK")
    data_dir: str | os.PathLike | None = None


def run_transfer_methods(pair: TransferPair, settings: TransferSettings) -> Iterator[TransferMethodRun]:
    """Run the methods of ``settings`` on ``pair`` in the order of :data:`ALL_TRANSFER_METHODS`, yielding each run.

    The baselines see the reference's ``settings.n_top_genes`` highly variable genes; ``transfer_labels`` the full
    data, with ``settings.n_top_genes`` as its own gene budget.
    """
    budget, n_top_genes = settings.budget, settings.n_top_genes
    genes = reference_genes(pair.reference, n_top_genes)
    query = on_genes(pair.query, genes)
    if pair.labels_key not in query.obs:  # an unlabelled query (Zheng donor A); no method reads the query's labels
        query.obs[pair.labels_key] = UNKNOWN
    task = pair_task("transfer", on_genes(pair.reference, genes), query, pair.labels_key, pair.batch_key)
    cache: Cache = {}
    for name in [name for name in ALL_TRANSFER_METHODS if name in settings.methods]:
        start = time.perf_counter()
        if name in METHODS_ON_FULL_DATA:
            probabilities, extra = METHODS_ON_FULL_DATA[name](pair, budget, n_top_genes)
        else:
            probabilities, extra = BASELINES[name](task, budget, cache)
        seconds = time.perf_counter() - start
        logger.info("%s done in %.0f s", name, seconds)
        yield TransferMethodRun(name, list(probabilities.columns), probabilities.to_numpy(), extra, seconds)
