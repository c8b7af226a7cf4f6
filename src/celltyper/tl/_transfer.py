"""transfer_labels: name a query's cells after a labelled reference — genes, classifier, confidence, novelty."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, get_args

import numpy as np
import pandas as pd
import scvi
from anndata import AnnData
from tqdm.auto import tqdm

from celltyper import _keys as keys
from celltyper._keys import UNKNOWN
from celltyper.model import CountVAE, SemiSupervisedCountVAE

from ._calibration import TemperatureScaling, fit_temperature
from ._class_prior import change_class_prior
from ._classifiers import (
    CLASSIFIERS,
    LABELS,
    ReferenceClassifier,
    VAEClassifier,
    normalized,
)
from ._genes import GeneOverlap
from ._latent import map_query, train_reference_model
from ._majority_voting import majority_vote
from ._novelty import query_novelty
from ._threads import Threads, resolve_threads, torch_threads
from ._transfer_data import (
    CALIBRATION,
    TRUE_LABELS,
    check_inputs,
    model_genes,
    model_reference_copy,
    query_copy,
    reference_copy,
    set_libraries,
)
from ._unknown import NOVELTY_THRESHOLD, UNKNOWN_THRESHOLD, unknown_calls

logger = logging.getLogger(__name__)

Classifier = Literal["linear", "vae", "transformer"]
ClassPrior = Literal["balanced", "reference"]
#: Defaults chosen on the validation suite by their worst case (docs/transfer.md, "How the defaults were chosen").
MAX_GENE_SHIFT, N_TOP_GENES = 0.1, 4000
#: Below this fraction of the smaller of the two gene sets in common, reference and query probably name genes
#: differently (symbols vs Ensembl ids) or come from different species.
MIN_GENE_OVERLAP = 0.25


@dataclass
class TransferResult:
    """What :func:`transfer_labels` fitted and measured.

    Attributes
    ----------
    classifier
        The fitted :class:`~celltyper.tl.ReferenceClassifier` that labelled the query.
    reference_model
        The latent model (:class:`~celltyper.CountVAE`) trained on the reference, or ``None`` with ``latent=False``;
        pass it back as ``reference_model`` to annotate further queries without training it again.
    query_model
        The reference model after scArches surgery and training on this query's batches, or ``None``.
    genes
        Which reference genes the query has (:class:`~celltyper.tl.GeneOverlap`).
    used_genes
        The genes the classifier and the models read.
    excluded_genes
        Genes left out because their detection differs between reference and query within cell types.
    calibration
        The temperature fitted on held-out reference cells, with the expected calibration error before and after.
    calibration_cells
        Names of those held-out reference cells.
    probabilities
        Calibrated class probabilities of every query cell (cells × cell types), under ``class_prior``.
    novelty
        Per query cell, 1 − the correlation of its query cluster's profile with its predicted type's (in [0, 1]).
    clusters
        Leiden cluster of each query cell (computed on the query alone).
    """

    classifier: ReferenceClassifier
    reference_model: CountVAE | None
    query_model: CountVAE | None
    genes: GeneOverlap
    used_genes: pd.Index = field(repr=False)
    excluded_genes: list[str] = field(repr=False)
    calibration: TemperatureScaling
    calibration_cells: pd.Index = field(repr=False)
    probabilities: pd.DataFrame = field(repr=False)
    novelty: np.ndarray = field(repr=False)
    clusters: np.ndarray = field(repr=False)

    @property
    def gene_overlap(self) -> float:
        """Fraction of the reference's genes found in the query."""
        return self.genes.fraction


def _without_empty_reference_cells(reference_data: AnnData) -> AnnData:
    """The reference cells with counts on the genes the models read; the others tell no type and stop the models."""
    empty = np.asarray(reference_data.X.sum(axis=1)).ravel() == 0
    if not empty.any():
        return reference_data
    warnings.warn(
        f"{int(empty.sum())} reference cells have no counts on the {reference_data.n_vars} genes the models read; "
        "they are left out.",
        UserWarning,
        stacklevel=3,
    )
    return reference_data[~empty].copy()


def _calibrated_probabilities(
    make_classifier, reference_data, query_data, class_prior
) -> tuple[ReferenceClassifier, list[str], np.ndarray, TemperatureScaling]:
    """Fit the classifier, fit a temperature on the held-out reference cells, and predict the query under the prior.

    The held-out cells are predicted by a classifier trained without them; a cheap classifier is then fitted again on
    every labelled cell for the query (as scikit-learn's ``CalibratedClassifierCV(ensemble=False)``).
    """
    held_out = reference_data.obs[CALIBRATION].to_numpy()
    twin = make_classifier().fit(reference_data)
    classes = twin.classes
    calibration_p = twin.predict_proba(reference_data[held_out])
    if twin.refit_on_every_cell:
        every_cell = reference_data.copy()
        every_cell.obs[LABELS] = every_cell.obs[TRUE_LABELS]
        classifier = make_classifier().fit(every_cell)
    else:
        classifier = twin
    query_p = classifier.predict_proba(query_data)

    labels = reference_data.obs[TRUE_LABELS].to_numpy()
    frequencies = pd.Series(labels[labels != UNKNOWN]).value_counts(normalize=True).reindex(classes).to_numpy()
    uniform = np.full(len(classes), 1 / len(classes))
    trained = frequencies if classifier.learns_frequencies else uniform
    target = uniform if class_prior == "balanced" else frequencies
    calibration = fit_temperature(change_class_prior(calibration_p, trained, target), labels[held_out], classes)
    return classifier, classes, calibration.transform(change_class_prior(query_p, trained, target)), calibration


def transfer_labels(
    reference: AnnData,
    query: AnnData,
    labels_key: str,
    *,
    layer: str | None = None,
    batch_key: str | None = None,
    unknown_threshold: float = UNKNOWN_THRESHOLD,
    novelty_threshold: float = NOVELTY_THRESHOLD,
    majority_voting: bool = False,
    key_added: str = keys.KEY_ADDED,
    classifier: Classifier = "linear",
    classifier_kwargs: dict | None = None,
    class_prior: ClassPrior = "balanced",
    latent: bool = True,
    reference_model: CountVAE | None = None,
    n_top_genes: int | None = N_TOP_GENES,
    max_gene_shift: float | None = MAX_GENE_SHIFT,
    min_gene_overlap: float = MIN_GENE_OVERLAP,
    calibration_fraction: float = 0.1,
    max_epochs: int | None = None,
    query_max_epochs: int | None = None,
    model_kwargs: dict | None = None,
    train_kwargs: dict | None = None,
    leiden_resolution: float = 1.0,
    n_threads: Threads = "auto",
    progress_bar: bool = True,
    random_state: int = 0,
) -> TransferResult:
    """Name every query cell after the reference's cell types, with a calibrated confidence and ``"Unknown"``.

    1. **Genes.** The query is matched to the reference by gene (:func:`~celltyper.tl.align_genes`: Ensembl id when
       both have ids, else symbol). The models read the reference's ``n_top_genes`` most variable genes among those
       the query has, less the genes whose detection rate differs between reference and query *within* cell types
       by more than ``max_gene_shift`` (a condition, platform or protocol, not a cell type;
       :func:`~celltyper.tl.shifted_genes`).
    2. **Classifier** (``classifier``). By default a class-balanced, L2-regularised logistic regression on
       log1p(CP10k) (:class:`~celltyper.tl.LinearClassifier`); or the classifier of a semi-supervised CountVAE on the
       scArches-mapped query, or a :class:`~celltyper.CellTypeTransformer`. ``class_prior`` sets the prior odds.
    3. **Confidence.** A temperature is fitted on a held-out ``calibration_fraction`` of the reference's cells,
       predicted by a classifier trained without them; the confidence of a cell is its calibrated top probability.
    4. **Novelty.** The query is clustered on its own (Leiden on a PCA of its expression); a cell's novelty is 1 − the
       correlation of its cluster's mean profile with its predicted type's reference profile, each centred on its own
       data set (:func:`~celltyper.tl.cluster_type_match`), so a shift the whole query shares does not count.
    5. **Unknown** (:func:`~celltyper.tl.unknown_calls`). A cell is ``"Unknown"`` when its novelty is above
       ``novelty_threshold`` or its confidence below ``unknown_threshold``. The defaults were chosen on the validation
       suite by their worst case: at them no transfer between donors, studies, conditions or simulated platforms lost
       more than 2 % of a known type, while clusters of a type the reference lacks that look like no known type are
       called Unknown (``docs/transfer.md``).
    6. **Latent space** (``latent``). A :class:`~celltyper.CountVAE` trained on the reference, the query mapped onto
       it by scArches surgery (only new batch weights train), gives every query cell a position next to the
       reference's cells.
    7. **Majority voting** (optional): every query cluster gets its majority label.

    Parameters
    ----------
    reference
        Labelled AnnData with raw counts in ``layer`` (or ``X``). Not modified.
    query
        AnnData to annotate, raw counts in the same ``layer``. Its ``X``, layers and ``var`` are not modified.
    labels_key
        Column of ``reference.obs`` with the cell types; NaN or ``"Unknown"`` cells count as unlabelled.
    layer
        Layer with raw counts in both AnnDatas (``None``: ``X``).
    batch_key
        Column of ``obs`` with the batch (donor, sample …) of each cell, for the latent model: the reference's batches
        are modelled as batches; the query's (or, without the column in the query, the whole query) are mapped as new
        batches.
    unknown_threshold
        Calibrated confidence below which a cell is ``"Unknown"`` (default 0: never; a low confidence marks a cell
        between two known types far more often than a new type).
    novelty_threshold
        Novelty above which a cell is ``"Unknown"`` (default 0.95; 1: never). Lower values catch more cells of types
        the reference lacks and call more known cells Unknown (``docs/transfer.md``, the trade-off table).
    majority_voting
        Also write the majority label of each query cluster.
    key_added
        Prefix of the keys written to ``query``.
    classifier
        ``"linear"`` (default), ``"vae"`` or ``"transformer"`` (see step 2). The linear classifier measured best on the
        validation suite, by its worst transfer and by its mean (``docs/transfer.md``).
    classifier_kwargs
        Passed to the classifier (:data:`~celltyper.tl.CLASSIFIERS`), e.g. ``{"C": 0.1}`` for ``"linear"``.
    class_prior
        ``"balanced"`` (default): every cell type is a priori equally likely, so a type rare in the reference is not
        called less often for being rare there. ``"reference"``: the reference's cell-type frequencies.
    latent
        Train the latent model and map the query onto it (step 6). ``False`` skips it (no ``obsm`` key), which saves
        most of the time.
    reference_model
        ``result.reference_model`` of an earlier call on the same reference: its genes are used, it is not trained
        again, and the classifier is fitted on its copy of the reference.
    n_top_genes
        Most variable reference genes to use (``None``: every gene the query has).
    max_gene_shift
        Largest accepted within-type difference of a gene's detection rate between reference and query (``None``:
        keep every gene). Not applied with ``reference_model`` (its genes are fixed).
    min_gene_overlap
        Smallest fraction of the smaller of the two gene sets that reference and query must share.
    calibration_fraction
        Fraction of labelled reference cells held out to fit the temperature.
    max_epochs, query_max_epochs
        Epochs of the latent model on the reference and of query mapping (``None``: about 60,000 and 30,000 cells
        seen, 5–50 and 3–50 epochs, so that time grows no faster than the cells).
    model_kwargs
        Passed to the latent model (default ``encode_covariates=True``, ``n_latent=20``).
    train_kwargs
        Passed to the latent model's ``train`` (e.g. ``{"batch_size": 512}``).
    leiden_resolution
        Resolution of the query's Leiden clustering (novelty and majority voting).
    n_threads
        Threads torch may use while training. ``"auto"`` (default): the cores other processes leave free when
        training starts (torch's own default, one per core, runs many times slower when other jobs hold the cores;
        ``docs/transfer.md``, *Speed*). ``None``: torch's setting as it is.
    progress_bar
        Show the steps as a progress bar.
    random_state
        Seed of the calibration split, of scvi-tools (``scvi.settings.seed``) and of the clustering.

    Returns
    -------
    :class:`TransferResult` with the classifier, the models, the genes, the calibration and the probabilities.

    Writes, to ``query``:

    - ``obs[f"{key_added}_prediction"]``: cell type, or ``"Unknown"`` (categorical).
    - ``obs[f"{key_added}_confidence"]``: calibrated probability of the top cell type (float in [0, 1]).
    - ``obs[f"{key_added}_novelty"]``: how unlike its predicted type the cell's cluster is (in [0, 1]).
    - ``obsm[f"X_{key_added}"]``: the cell's position in the reference's latent space (with ``latent``).
    - with ``majority_voting``: ``obs[f"{key_added}_majority_voting"]`` (cluster majority label),
      ``obs[f"{key_added}_cluster"]`` and ``obs[f"{key_added}_cluster_agreement"]`` (share of the cluster predicted
      as its majority label).
    - ``uns[key_added]``: the settings, the genes and the calibration.

    Examples
    --------
    >>> res = ct.tl.transfer_labels(ref, query, labels_key="cell_type", layer="counts", batch_key="donor")
    >>> query.obs["celltyper_prediction"].value_counts()
    >>> res.gene_overlap, res.calibration
    """
    thresholds = (unknown_threshold, novelty_threshold)
    choices = (get_args(Classifier), get_args(ClassPrior))
    check_inputs(
        reference, query, labels_key, layer, batch_key, thresholds, classifier, class_prior, n_threads, choices
    )
    if reference_model is not None and not isinstance(reference_model, CountVAE):
        raise TypeError(
            f"reference_model must be result.reference_model of an earlier transfer_labels call (a CountVAE), not a "
            f"{type(reference_model).__name__}; read a saved one back with ct.CountVAE.load(folder) (saved with "
            "save_anndata=True)."
        )
    if reference_model is not None and CALIBRATION not in reference_model.adata.obs:
        raise ValueError("reference_model must be result.reference_model of an earlier transfer_labels call.")
    if reference_model is not None and classifier == "vae" and not isinstance(reference_model, SemiSupervisedCountVAE):
        raise ValueError("classifier='vae' needs a reference_model from an earlier call with classifier='vae'.")
    scvi.settings.seed = random_state
    steps = ["genes", "classifier", "novelty"] + (["latent model"] if latent else [])
    bar = tqdm(total=len(steps), desc="transfer_labels", disable=not progress_bar, leave=False)

    def step(name: str) -> None:
        bar.set_postfix_str(name)

    step("genes")
    if reference_model is None:
        reference_data = reference_copy(reference, labels_key, layer, batch_key, calibration_fraction, random_state)
    else:
        reference_data = model_reference_copy(reference_model)
    query_data, genes = query_copy(query, reference_data, layer, batch_key, min_gene_overlap)
    excluded: list[str] = []
    if reference_model is None:
        set_libraries(reference_data, query_data, genes)
        selected, excluded = model_genes(reference_data, query_data, genes, n_top_genes, max_gene_shift)
        reference_data, query_data = reference_data[:, selected].copy(), query_data[:, selected].copy()
    bar.update()

    step("classifier")
    empty = np.asarray(query_data.X.sum(axis=1)).ravel() == 0  # no counts on the genes the models read
    if empty.all():
        raise ValueError(f"None of the query's cells has counts on the {query_data.n_vars} genes the models read.")
    reference_data = _without_empty_reference_cells(reference_data)
    settings = dict(classifier_kwargs or {})
    if classifier == "vae":
        vae = {"max_epochs": max_epochs, "query_max_epochs": query_max_epochs, "model_kwargs": model_kwargs}
        settings = {**vae, "train_kwargs": train_kwargs, "model": reference_model, **settings}
    make_classifier = partial(CLASSIFIERS[classifier], **settings)
    threads = resolve_threads(n_threads) if classifier != "linear" or latent else None  # torch trains
    with torch_threads(threads):
        fitted, classes, probabilities, calibration = _calibrated_probabilities(
            make_classifier, reference_data, query_data[~empty], class_prior
        )
    bar.update()

    step("novelty")
    predicted = np.asarray(classes, dtype=object)[probabilities.argmax(1)]
    novelty, confidence = np.ones(query.n_obs), np.zeros(query.n_obs)
    clusters = np.full(query.n_obs, "empty", dtype=object)
    clusters[~empty], novelty[~empty] = query_novelty(
        normalized(query_data[~empty]),
        predicted,
        normalized(reference_data),
        reference_data.obs[TRUE_LABELS].to_numpy(),
        leiden_resolution,
        random_state,
    )
    confidence[~empty] = probabilities.max(1)
    prediction = np.full(query.n_obs, UNKNOWN, dtype=object)
    prediction[~empty] = predicted
    rule = {"unknown_threshold": unknown_threshold, "novelty_threshold": novelty_threshold}
    prediction[unknown_calls(confidence, novelty, **rule)] = UNKNOWN
    bar.update()

    models = {"reference": None, "query": None}
    if latent:
        step("latent model")
        with torch_threads(threads):
            models = _latent_models(
                fitted,
                reference_model,
                reference_data,
                query_data[~empty],
                max_epochs,
                query_max_epochs,
                model_kwargs,
                train_kwargs,
            )
        position = np.full((query.n_obs, models["query"].module.n_latent), np.nan, dtype=np.float32)
        position[~empty] = models["query"].get_latent_representation()  # the mapped copy of the query
        query.obsm[keys.latent_key(key_added)] = position
        bar.update()
    bar.close()

    all_probabilities = np.zeros((query.n_obs, len(classes)))
    all_probabilities[~empty] = probabilities
    categories = [*classes, UNKNOWN]
    query.obs[keys.prediction_key(key_added)] = pd.Categorical(prediction, categories=categories)
    query.obs[keys.confidence_key(key_added)] = confidence
    query.obs[keys.novelty_key(key_added)] = novelty
    if majority_voting:
        voted, agreement = majority_vote(prediction, clusters)
        used = [c for c in categories if c in set(voted)]
        query.obs[keys.majority_voting_key(key_added)] = pd.Categorical(voted, categories=used)
        query.obs[keys.cluster_key(key_added)] = pd.Categorical(clusters)
        query.obs[keys.cluster_agreement_key(key_added)] = agreement
    if empty.any():
        warnings.warn(
            f"{int(empty.sum())} query cells have no counts on the {query_data.n_vars} genes the models read; they are "
            "'Unknown' with confidence 0" + (" and no latent position (NaN)." if latent else "."),
            UserWarning,
            stacklevel=2,
        )
    query.uns[key_added] = {
        "labels_key": labels_key,
        "classifier": classifier,
        "class_prior": class_prior,
        "unknown_threshold": unknown_threshold,
        "novelty_threshold": novelty_threshold,
        "gene_overlap": genes.fraction,
        "n_reference_genes": genes.n_reference_genes,
        "n_genes_found": genes.n_found,
        "n_genes_used": int(query_data.n_vars),
        "excluded_shifted_genes": excluded,
        "temperature": calibration.temperature,
        "ece_before": calibration.ece_before,
        "ece_after": calibration.ece_after,
        "majority_voting": majority_voting,
        "torch_threads": threads,
    }
    logger.info("%s; %d genes used; temperature %.2f", genes.describe(), query_data.n_vars, calibration.temperature)
    return TransferResult(
        classifier=fitted,
        reference_model=models["reference"],
        query_model=models["query"],
        genes=genes,
        used_genes=reference_data.var_names.copy(),
        excluded_genes=excluded,
        calibration=calibration,
        calibration_cells=reference_data.obs_names[reference_data.obs[CALIBRATION].to_numpy()],
        probabilities=pd.DataFrame(all_probabilities, index=query.obs_names, columns=classes),
        novelty=novelty,
        clusters=clusters,
    )


def _latent_models(
    fitted, reference_model, reference_data, query_data, max_epochs, query_max_epochs, model_kwargs, train_kwargs
) -> dict:
    """The reference latent model (the VAE classifier's own, one given, or a new CountVAE) and its query mapping."""
    if isinstance(fitted, VAEClassifier):
        return {"reference": fitted.model, "query": fitted.query_model}
    if reference_model is None:
        reference_model = train_reference_model(
            reference_data, model_kwargs, max_epochs, train_kwargs, semi_supervised=False
        )
    return {
        "reference": reference_model,
        "query": map_query(reference_model, query_data.copy(), query_max_epochs, train_kwargs),
    }
