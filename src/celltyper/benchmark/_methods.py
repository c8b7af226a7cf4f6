"""The methods a benchmark compares, each run the same way: train on the task's reference cells, predict its query.

Every method gets the task's cells and genes as they are (raw counts; each normalizes them its own way) and the same
:class:`Budget`. Embedding methods (SCVI, CountVAE) are scored as classifiers by a 15-nearest-neighbour vote of the
reference cells in their latent space; query cells from batches the reference lacks are first mapped into it by
scArches surgery (``load_query_data``), as scvi-tools recommends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scvi
from sklearn.neighbors import KNeighborsClassifier

import celltyper as ct
from celltyper._keys import UNKNOWN, latent_key, prediction_key
from celltyper.module._vae import GeneLikelihood

from ._logreg import fit_logreg, log_normalized
from ._measure import EpochTimer
from ._tasks import Task


@dataclass(frozen=True)
class Budget:
    """What every method is given.

    Attributes
    ----------
    max_epochs
        Training epochs on the reference. Every VAE (SCVI, CountVAE, the model of ``transfer_labels``) trains exactly
        this long, with KL warm-up over the first half and no early stopping; CellTypeTransformer at most this long
        (it stops early on its validation loss).
    query_epochs
        Epochs of scArches query mapping (SCVI, SCANVI, CountVAE, ``transfer_labels``).
    batch_size
        Minibatch size of every neural method.
    seed
        ``scvi.settings.seed`` before every method.
    scanvi_max_epochs
        SCANVI's epochs after the SCVI reference model (``None``: half of ``max_epochs``).
    """

    max_epochs: int = 40
    query_epochs: int = 20
    batch_size: int = 128
    seed: int = 0
    scanvi_max_epochs: int | None = None

    @property
    def scanvi_epochs(self) -> int:
        """SCANVI's epochs after the SCVI reference model: ``scanvi_max_epochs``, else half of ``max_epochs``."""
        return self.scanvi_max_epochs or max(1, self.max_epochs // 2)


@dataclass
class MethodOutput:
    """What one method produced on one task.

    Attributes
    ----------
    probabilities
        Query cells × cell types (``None`` for an integration-only task).
    latent
        An embedding of every cell of ``task.adata`` in order (``None`` for pure classifiers).
    train_seconds
        Wall-clock training time, query mapping included.
    predict_seconds
        Wall-clock time to produce the query's probabilities once trained.
    epoch_seconds
        Seconds of each reference training epoch (validation excluded), if the method trains in epochs.
    history
        The main model's ``history`` (for training curves).
    extra
        Method-specific numbers for ``results.json``.
    """

    probabilities: pd.DataFrame | None
    latent: np.ndarray | None
    train_seconds: float
    predict_seconds: float
    epoch_seconds: list[float] = field(default_factory=list)
    history: dict | None = None
    extra: dict = field(default_factory=dict)


#: Per task, models that a later method reuses (SCANVI starts from the SCVI reference model).
Cache = dict[str, object]


def _train_kwargs(budget: Budget, timer: EpochTimer | None = None) -> dict:
    kwargs = {"batch_size": budget.batch_size, "accelerator": "cpu", "enable_progress_bar": False}
    return kwargs | ({"callbacks": [timer]} if timer is not None else {})


def _has_new_batches(task: Task) -> bool:
    if task.batch_key is None or not task.is_query.any():
        return False
    reference = set(task.adata.obs[task.batch_key][~task.is_query])
    return bool(set(task.adata.obs[task.batch_key][task.is_query]) - reference)


def _knn_probabilities(latent: np.ndarray, task: Task) -> pd.DataFrame | None:
    """Probabilities of a 15-NN vote of the reference cells' labels, for the query cells."""
    if not task.classifies:
        return None
    knn = KNeighborsClassifier(n_neighbors=15).fit(
        latent[~task.is_query], task.adata.obs[task.labels_key][~task.is_query].astype(str)
    )
    query_names = task.adata.obs_names[task.is_query]
    return pd.DataFrame(knn.predict_proba(latent[task.is_query]), index=query_names, columns=knn.classes_)


def _embed(model_cls, reference_model, task: Task, budget: Budget) -> tuple[np.ndarray, float, float]:
    """Latent of every task cell: reference from the model, query via scArches when it has new batches.

    Returns the latent, the seconds spent on query mapping and the seconds spent embedding the query.
    """
    latent = np.zeros((task.adata.n_obs, reference_model.module.n_latent), dtype=np.float32)
    latent[~task.is_query] = reference_model.get_latent_representation()
    mapping_seconds = embed_seconds = 0.0
    if task.is_query.any():
        query = task.query
        if _has_new_batches(task):
            start = time.perf_counter()
            query_model = model_cls.load_query_data(query, reference_model)
            query_model.train(
                max_epochs=budget.query_epochs, plan_kwargs={"weight_decay": 0.0}, **_train_kwargs(budget)
            )
            mapping_seconds = time.perf_counter() - start
        else:
            query_model = reference_model
        start = time.perf_counter()
        latent[task.is_query] = query_model.get_latent_representation(query)
        embed_seconds = time.perf_counter() - start
    return latent, mapping_seconds, embed_seconds


def _vae_output(model_cls, model, task: Task, budget: Budget, train_seconds: float, timer: EpochTimer):
    latent, mapping_seconds, embed_seconds = _embed(model_cls, model, task, budget)
    start = time.perf_counter()
    probabilities = _knn_probabilities(latent, task)
    knn_seconds = time.perf_counter() - start
    return MethodOutput(
        probabilities,
        latent,
        train_seconds + mapping_seconds,
        embed_seconds + knn_seconds,
        timer.seconds,
        model.history,
    )


def _scvi_reference(task: Task, budget: Budget, cache: Cache):
    """SCVI (scvi-tools defaults) trained on the reference; its AnnData keeps the labels for SCANVI in ``_labels``."""
    if "scvi" not in cache:
        reference = task.reference
        if task.labels_key is not None:
            reference.obs["_labels"] = reference.obs[task.labels_key].astype(str)
        scvi.settings.seed = budget.seed
        scvi.model.SCVI.setup_anndata(reference, layer="counts", batch_key=task.batch_key)
        model = scvi.model.SCVI(reference)
        timer = EpochTimer()
        start = time.perf_counter()
        model.train(
            max_epochs=budget.max_epochs,
            check_val_every_n_epoch=1,
            plan_kwargs={"n_epochs_kl_warmup": max(1, budget.max_epochs // 2)},
            **_train_kwargs(budget, timer),
        )
        cache["scvi"] = (model, time.perf_counter() - start, timer)
    return cache["scvi"]


def run_scvi(task: Task, budget: Budget, cache: Cache) -> MethodOutput:
    """scvi-tools' SCVI (its defaults: ZINB, 10 latent dimensions) + 15-NN on its latent."""
    model, seconds, timer = _scvi_reference(task, budget, cache)
    return _vae_output(scvi.model.SCVI, model, task, budget, seconds, timer)


def run_scanvi(task: Task, budget: Budget, cache: Cache) -> MethodOutput:
    """SCANVI initialized from the SCVI reference model, query mapped by scArches, its own classifier predicts."""
    scvi_model, scvi_seconds, timer = _scvi_reference(task, budget, cache)
    start = time.perf_counter()
    scvi.settings.seed = budget.seed
    model = scvi.model.SCANVI.from_scvi_model(scvi_model, unlabeled_category=UNKNOWN, labels_key="_labels")
    model.train(max_epochs=budget.scanvi_epochs, check_val_every_n_epoch=1, **_train_kwargs(budget))
    query = task.query
    query.obs["_labels"] = UNKNOWN
    query_model = model
    if _has_new_batches(task):
        query_model = scvi.model.SCANVI.load_query_data(query, model)
        query_model.train(max_epochs=budget.query_epochs, plan_kwargs={"weight_decay": 0.0}, **_train_kwargs(budget))
    train_seconds = scvi_seconds + time.perf_counter() - start
    start = time.perf_counter()
    probabilities = query_model.predict(query, soft=True)
    predict_seconds = time.perf_counter() - start
    latent = np.zeros((task.adata.n_obs, model.module.n_latent), dtype=np.float32)
    latent[~task.is_query] = model.get_latent_representation()
    latent[task.is_query] = query_model.get_latent_representation(query)
    probabilities.index = task.adata.obs_names[task.is_query]
    return MethodOutput(probabilities, latent, train_seconds, predict_seconds, timer.seconds, model.history)


def _run_countvae(gene_likelihood: GeneLikelihood) -> Callable[[Task, Budget, Cache], MethodOutput]:
    def run(task: Task, budget: Budget, cache: Cache) -> MethodOutput:
        reference = task.reference
        scvi.settings.seed = budget.seed
        ct.CountVAE.setup_anndata(reference, layer="counts", batch_key=task.batch_key)
        model = ct.CountVAE(reference, gene_likelihood=gene_likelihood)
        timer = EpochTimer()
        start = time.perf_counter()
        model.train(max_epochs=budget.max_epochs, **_train_kwargs(budget, timer))
        return _vae_output(ct.CountVAE, model, task, budget, time.perf_counter() - start, timer)

    run.__doc__ = f"CountVAE of celltyper, {gene_likelihood} likelihood (defaults) + 15-NN on its latent."
    return run


def _labels_key(task: Task) -> str:
    """The task's column of cell types, which a method that classifies needs."""
    if task.labels_key is None:
        raise ValueError(f"Task {task.name!r} has no labels_key: only integration methods run on it.")
    return task.labels_key


def run_logreg(task: Task, budget: Budget, cache: Cache) -> MethodOutput:
    """Logistic regression on log1p(CP10k) (scikit-learn, L2, C = 1): CellTypist's method (:mod:`._logreg`)."""
    reference, query = task.reference, task.query
    start = time.perf_counter()
    model = fit_logreg(log_normalized(reference), reference.obs[_labels_key(task)].to_numpy())
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probabilities = model.predict_proba(log_normalized(query))
    predict_seconds = time.perf_counter() - start
    return MethodOutput(
        pd.DataFrame(probabilities, index=query.obs_names, columns=model.classes_), None, train_seconds, predict_seconds
    )


def run_transformer(task: Task, budget: Budget, cache: Cache) -> MethodOutput:
    """CellTypeTransformer of celltyper: its defaults, at most ``budget.max_epochs`` (it stops early on its own)."""
    reference, query = task.reference, task.query
    scvi.settings.seed = budget.seed
    ct.CellTypeTransformer.setup_anndata(
        reference, labels_key=_labels_key(task), layer="counts", batch_key=task.batch_key
    )
    model = ct.CellTypeTransformer(reference)
    timer = EpochTimer()
    start = time.perf_counter()
    model.train(max_epochs=budget.max_epochs, **_train_kwargs(budget, timer))
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probabilities = model.predict(query, soft=True)
    predict_seconds = time.perf_counter() - start
    return MethodOutput(probabilities, None, train_seconds, predict_seconds, timer.seconds, model.history)


def run_transfer_labels(task: Task, budget: Budget, cache: Cache) -> MethodOutput:
    """``celltyper.tl.transfer_labels`` with its defaults, on the task's genes and the same epoch budget."""
    reference, query = task.reference, task.query
    scvi.settings.seed = budget.seed
    start = time.perf_counter()
    result = ct.tl.transfer_labels(
        reference,
        query,
        _labels_key(task),
        layer="counts",
        batch_key=task.batch_key,
        n_top_genes=None,
        max_epochs=budget.max_epochs,
        query_max_epochs=budget.query_epochs,
        train_kwargs={"batch_size": budget.batch_size, "accelerator": "cpu"},
        random_state=budget.seed,
    )
    seconds = time.perf_counter() - start
    assert result.reference_model is not None  # transfer_labels trains one by default (latent=True)
    latent = np.zeros((task.adata.n_obs, query.obsm[latent_key()].shape[1]), dtype=np.float32)
    latent[~task.is_query] = result.reference_model.get_latent_representation()  # on the genes it kept
    latent[task.is_query] = query.obsm[latent_key()]
    extra = {
        "unknown_fraction": float((query.obs[prediction_key()] == UNKNOWN).mean()),
        "ece_heldout_reference_before": result.calibration.ece_before,
        "ece_heldout_reference_after": result.calibration.ece_after,
    }
    # Training, query mapping and prediction are one call: all of its time is training, prediction time is not known.
    history = result.reference_model.history
    return MethodOutput(result.probabilities, latent, seconds, float("nan"), history=history, extra=extra)


#: name → (runner, whether it needs labels). Classifier names score their own predictions; embedding methods score
#: a 15-NN vote on their latent.
METHODS: dict[str, tuple[Callable[[Task, Budget, Cache], MethodOutput], bool]] = {
    "logreg": (run_logreg, True),
    "scvi": (run_scvi, False),
    "scanvi": (run_scanvi, True),
    "countvae_nb": (_run_countvae("nb"), False),
    "countvae_zinb": (_run_countvae("zinb"), False),
    "countvae_gaussian": (_run_countvae("gaussian"), False),
    "transformer": (run_transformer, True),
    "transfer_labels": (run_transfer_labels, True),
}
