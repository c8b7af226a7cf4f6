"""transfer_labels: name a query's cells after a labelled reference — genes, classifier, confidence, novelty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from celltyper import _keys as keys
from celltyper.model import CountVAE

from ._annotator import MAX_GENE_SHIFT, MIN_GENE_OVERLAP, N_TOP_GENES, Annotator
from ._calibration import TemperatureScaling
from ._classifiers import ReferenceClassifier
from ._genes import GeneOverlap
from ._threads import Threads
from ._unknown import NOVELTY_THRESHOLD, UNKNOWN_THRESHOLD

Classifier = Literal["linear", "vae", "transformer"]
ClassPrior = Literal["balanced", "reference"]


@dataclass
class TransferResult:
    """What :func:`transfer_labels` fitted and measured.

    Attributes
    ----------
    annotator
        The :class:`~celltyper.tl.Annotator` fitted on the reference: ``result.annotator.annotate(other_query)``
        labels further queries without fitting anything again, ``result.annotator.save(folder)`` keeps it.
    classifier
        The fitted :class:`~celltyper.tl.ReferenceClassifier` that labelled the query.
    reference_model
        The latent model (:class:`~celltyper.CountVAE`) trained on the reference, or ``None`` with ``latent=False``.
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

    annotator: Annotator
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
    n_top_genes
        Most variable reference genes to use (``None``: every gene the query has).
    max_gene_shift
        Largest accepted within-type difference of a gene's detection rate between reference and query (``None``:
        keep every gene).
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
    :class:`TransferResult` with the annotator, the classifier, the models, the genes, the calibration and the
    probabilities. The call is ``Annotator.from_reference(reference, ..., query=query).annotate(query, ...)``: to
    label more queries with the same reference, use ``result.annotator`` (:class:`~celltyper.tl.Annotator`).

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
    annotator = Annotator.from_reference(
        reference,
        labels_key,
        layer=layer,
        batch_key=batch_key,
        query=query,
        classifier=classifier,
        classifier_kwargs=classifier_kwargs,
        class_prior=class_prior,
        latent=latent,
        n_top_genes=n_top_genes,
        max_gene_shift=max_gene_shift,
        min_gene_overlap=min_gene_overlap,
        calibration_fraction=calibration_fraction,
        unknown_threshold=unknown_threshold,
        novelty_threshold=novelty_threshold,
        max_epochs=max_epochs,
        query_max_epochs=query_max_epochs,
        model_kwargs=model_kwargs,
        train_kwargs=train_kwargs,
        leiden_resolution=leiden_resolution,
        n_threads=n_threads,
        progress_bar=progress_bar,
        random_state=random_state,
    )
    annotation = annotator.annotate(
        query,
        layer=layer,
        batch_key=batch_key,
        majority_voting=majority_voting,
        key_added=key_added,
        n_threads=n_threads,
        progress_bar=progress_bar,
        random_state=random_state,
    )
    query.uns[key_added]["excluded_shifted_genes"] = list(annotator.excluded_genes)
    return TransferResult(
        annotator=annotator,
        classifier=annotator.classifier,
        reference_model=annotator.latent_model if isinstance(annotator.latent_model, CountVAE) else None,
        query_model=annotation.query_model,
        genes=annotation.genes,
        used_genes=annotator.genes.copy(),
        excluded_genes=list(annotator.excluded_genes),
        calibration=annotator.calibration,
        calibration_cells=annotator.calibration_cells,
        probabilities=annotation.probabilities,
        novelty=annotation.novelty,
        clusters=annotation.clusters,
    )
