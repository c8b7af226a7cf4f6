"""transfer_labels: annotate a query from a labelled reference — genes aligned, query mapped, confidence calibrated."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
import scvi
from anndata import AnnData
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from celltyper._normalization import log1p_cp10k
from celltyper.model import SemiSupervisedCountVAE

from ._calibration import TemperatureScaling, fit_temperature
from ._class_prior import change_class_prior
from ._genes import MIN_GENE_OVERLAP, GeneOverlap, align_genes
from ._majority_voting import leiden_clusters, majority_vote
from ._novelty import TypeDistance, novelty
from ._shifted_genes import shifted_genes

logger = logging.getLogger(__name__)

UNKNOWN = "Unknown"
Classifier = Literal["vae", "transformer", "linear", "ensemble"]
#: The classifiers whose probabilities ``classifier="ensemble"`` averages (chosen by measurement, docs/transfer.md).
ENSEMBLE = ("vae", "transformer")
#: Inverse L2 strength of the linear classifier, chosen on transfers outside the benchmark (docs/transfer.md).
LINEAR_C = 0.001
ClassPrior = Literal["balanced", "reference"]
# Internal obs columns of the copies the models are trained on (the user's AnnData never gets them).
_LABELS, _BATCH, _CALIBRATION = "_celltyper_labels", "_celltyper_batch", "_celltyper_calibration"
_TRUE_LABELS = "_celltyper_true_labels"  # the labels, the held-out calibration cells' included


@dataclass
class TransferResult:
    """What :func:`transfer_labels` fitted and measured.

    Attributes
    ----------
    reference_model
        The :class:`~celltyper.model.SemiSupervisedCountVAE` trained on the reference (pass it back to
        :func:`transfer_labels` as ``reference_model`` to annotate further queries without retraining).
    query_model
        The reference model after scArches surgery and training on this query's new batches.
    transformer
        The :class:`~celltyper.CellTypeTransformer` trained on the reference (``classifier`` ``"transformer"`` or
        ``"ensemble"``), else ``None``.
    linear
        The linear classifier (scikit-learn ``LogisticRegression`` on log1p(CP10k) of the reference's genes) fitted on
        every labelled reference cell (``classifier="linear"``), else ``None``. The temperature was fitted on a twin
        trained without the held-out cells.
    genes
        Which reference genes the query has (:class:`~celltyper.tl.GeneOverlap`).
    calibration
        The temperature fitted on held-out reference cells, with the expected calibration error before and after.
    probabilities
        Calibrated class probabilities of every query cell (cells × cell types), under ``class_prior``.
    novelty
        Per query cell, the share of held-out reference cells that lie closer to their nearest cell type in the latent
        space (:func:`~celltyper.tl.novelty`): about 0.5 for a typical cell, 1 beyond every reference cell.
    unknown_threshold, novelty_threshold
        Cells whose calibrated confidence is below ``unknown_threshold``, or whose novelty is above
        ``novelty_threshold``, were called ``"Unknown"``.
    """

    reference_model: SemiSupervisedCountVAE
    query_model: SemiSupervisedCountVAE
    transformer: object | None
    linear: LogisticRegression | None
    genes: GeneOverlap
    calibration: TemperatureScaling
    probabilities: pd.DataFrame = field(repr=False)
    novelty: np.ndarray = field(repr=False)
    unknown_threshold: float
    novelty_threshold: float

    @property
    def gene_overlap(self) -> float:
        """Fraction of the reference's genes found in the query."""
        return self.genes.fraction


def _check_inputs(
    reference,
    query,
    labels_key,
    layer,
    batch_key,
    unknown_threshold,
    novelty_threshold,
    classifier,
    class_prior,
    reference_model,
):
    if labels_key not in reference.obs:
        raise KeyError(f"labels_key {labels_key!r} is not a column of reference.obs (columns: {list(reference.obs)}).")
    for name, adata in (("reference", reference), ("query", query)):
        if layer is not None and layer not in adata.layers:
            raise KeyError(f"layer {layer!r} is not in {name}.layers ({list(adata.layers)}).")
        if adata.n_obs == 0:
            raise ValueError(f"The {name} has no cells.")
        if not adata.var_names.is_unique:
            raise ValueError(f"{name}.var_names has duplicates; call {name}.var_names_make_unique() first.")
    if batch_key is not None and batch_key not in reference.obs:
        raise KeyError(f"batch_key {batch_key!r} is not a column of reference.obs.")
    if not 0 <= unknown_threshold < 1:
        raise ValueError(f"unknown_threshold must be in [0, 1), not {unknown_threshold}.")
    if not 0 < novelty_threshold <= 1:
        raise ValueError(f"novelty_threshold must be in (0, 1], not {novelty_threshold}.")
    if classifier not in get_args(Classifier):
        raise ValueError(f"classifier must be one of {get_args(Classifier)}, not {classifier!r}.")
    if class_prior not in get_args(ClassPrior):
        raise ValueError(f"class_prior must be 'balanced' or 'reference', not {class_prior!r}.")
    if reference_model is not None and _CALIBRATION not in reference_model.adata.obs:
        raise ValueError(
            "reference_model must come from a previous transfer_labels call (result.reference_model): its held-out "
            "calibration cells are needed to calibrate the confidence."
        )
    labels = reference.obs[labels_key].dropna().astype(str)
    n_types = labels[labels != UNKNOWN].nunique()
    if reference_model is None and n_types < 2:
        raise ValueError(f"reference.obs[{labels_key!r}] needs at least two cell types; it has {n_types}.")


def _reference_copy(reference, labels_key, layer, batch_key, calibration_fraction, random_state) -> AnnData:
    """The reference's counts and labels, with a stratified ``calibration_fraction`` of cells marked unlabelled."""
    adata = AnnData(
        X=reference.layers[layer] if layer is not None else reference.X,
        obs=pd.DataFrame(index=reference.obs_names.copy()),
        var=pd.DataFrame(index=reference.var_names.copy()),
    )
    if layer is not None:
        adata.layers[layer] = adata.X
    labels = reference.obs[labels_key].astype(object).where(reference.obs[labels_key].notna(), UNKNOWN).astype(str)
    adata.obs[_BATCH] = reference.obs[batch_key].astype(str).to_numpy() if batch_key is not None else "reference"
    labelled = np.flatnonzero(labels.to_numpy() != UNKNOWN)
    counts = labels.iloc[labelled].value_counts()
    splittable = labelled[labels.iloc[labelled].map(counts).to_numpy() >= 2]  # a class needs 2 cells to be split
    _, held_out = train_test_split(
        splittable,
        test_size=calibration_fraction,
        stratify=labels.iloc[splittable].to_numpy(),
        random_state=random_state,
    )
    calibration = np.zeros(adata.n_obs, dtype=bool)
    calibration[held_out] = True
    adata.obs[_CALIBRATION] = calibration
    adata.obs[_LABELS] = np.where(calibration, UNKNOWN, labels.to_numpy())
    adata.obs[_TRUE_LABELS] = labels.to_numpy()
    return adata


def _select_genes(adata: AnnData, n_top_genes: int | None, layer: str | None) -> AnnData:
    """The ``n_top_genes`` highly variable genes (scanpy ``seurat_v3`` on the counts), or all genes."""
    if n_top_genes is None or n_top_genes >= adata.n_vars:
        return adata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        genes = sc.pp.highly_variable_genes(
            adata, n_top_genes=n_top_genes, flavor="seurat_v3", layer=layer, inplace=False
        )
    return adata[:, genes["highly_variable"].to_numpy()].copy()


def _train_reference(adata, layer, model_kwargs, max_epochs, train_kwargs) -> SemiSupervisedCountVAE:
    SemiSupervisedCountVAE.setup_anndata(
        adata, labels_key=_LABELS, unlabeled_category=UNKNOWN, layer=layer, batch_key=_BATCH
    )
    model = SemiSupervisedCountVAE(adata, **{"encode_covariates": True, "n_latent": 20, **(model_kwargs or {})})
    model.train(max_epochs=max_epochs, **{"enable_progress_bar": False, **(train_kwargs or {})})
    return model


def _map_query(reference_model, query_data, max_epochs, train_kwargs) -> SemiSupervisedCountVAE:
    query_data.obs[_LABELS] = UNKNOWN
    # The decoder's batch norm is frozen too, so that nothing the reference's cells go through changes.
    model = SemiSupervisedCountVAE.load_query_data(query_data, reference_model, freeze_batchnorm_decoder=True)
    model.train(
        max_epochs=max_epochs,
        weight_decay=0.0,
        train_size=1.0,
        **{"enable_progress_bar": False, **(train_kwargs or {})},
    )
    return model


def _novelty(reference_model, calibration_cells: np.ndarray, query_latent: np.ndarray) -> np.ndarray:
    """Novelty of the query cells: type distances against those of the held-out reference cells."""
    obs = reference_model.adata.obs
    fitted = np.flatnonzero((obs[_LABELS] != UNKNOWN).to_numpy())  # labelled, not held out
    distances = TypeDistance(reference_model.get_latent_representation(indices=fitted), obs[_LABELS].to_numpy()[fitted])
    calibration_latent = reference_model.get_latent_representation(indices=calibration_cells)
    return novelty(distances.distance(query_latent), distances.distance(calibration_latent))


def _train_transformer(reference_data, layer, train_kwargs):
    from celltyper.model import CellTypeTransformer

    CellTypeTransformer.setup_anndata(reference_data, labels_key=_LABELS, layer=layer, unlabeled_category=UNKNOWN)
    transformer = CellTypeTransformer(reference_data)
    transformer.train(**{"enable_progress_bar": False, **(train_kwargs or {})})
    return transformer


def _train_linear(normalized: sp.csr_matrix, labels: np.ndarray) -> LogisticRegression:
    """Balanced, strongly L2-penalised logistic regression on the labelled cells of ``normalized`` (log1p(CP10k))."""
    labelled = np.flatnonzero(labels != UNKNOWN)
    model = LogisticRegression(C=LINEAR_C, class_weight="balanced", max_iter=1000)
    return model.fit(normalized[labelled], labels[labelled])


def _linear_probabilities(model: LogisticRegression, normalized: sp.csr_matrix, classes: list[str]) -> np.ndarray:
    """The linear classifier's probabilities of the cells of ``normalized``, one column per class of ``classes``."""
    return model.predict_proba(normalized)[:, pd.Index(model.classes_).get_indexer(classes)]


def _classifier_probabilities(
    classifier: Classifier,
    class_prior: ClassPrior,
    reference_model: SemiSupervisedCountVAE,
    query_model: SemiSupervisedCountVAE,
    reference_data: AnnData,
    query_data: AnnData,
    calibration_cells: np.ndarray,
    layer: str | None,
    train_kwargs: dict | None,
) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, object]]:
    """Probabilities of the query and of the held-out reference cells under ``class_prior``, and the classifiers.

    The VAE's classifier learns the reference's class frequencies; the transformer (class-balanced sampling, balanced
    linear head) and the linear classifier (balanced class weights) learn a uniform prior. Each is moved to
    ``class_prior`` (:func:`~celltyper.tl.change_class_prior`) before it is used or averaged with the others.
    """
    labels = reference_data.obs[_LABELS]
    classes = reference_model.cell_types
    frequencies = labels[labels != UNKNOWN].value_counts(normalize=True).reindex(classes, fill_value=0).to_numpy()
    uniform = np.full(len(classes), 1 / len(classes))
    target = uniform if class_prior == "balanced" else frequencies
    members = ENSEMBLE if classifier == "ensemble" else (classifier,)
    fitted, query_probabilities, calibration_probabilities = {}, [], []
    for member in members:
        if member == "vae":
            trained_prior = frequencies
            query_p = query_model.predict(query_data, soft=True)[classes].to_numpy()
            calibration_p = reference_model.predict(reference_data, indices=calibration_cells, soft=True)[classes]
            calibration_p = calibration_p.to_numpy()
        elif member == "transformer":
            trained_prior = uniform
            fitted[member] = transformer = _train_transformer(reference_data, layer, train_kwargs)
            query_p = transformer.predict(query_data, soft=True)[classes].to_numpy()
            calibration_p = transformer.predict(reference_data[calibration_cells], soft=True)[classes].to_numpy()
        else:
            # As scikit-learn's CalibratedClassifierCV(ensemble=False): the held-out cells are predicted by a model
            # trained without them, and the query by one refitted on every labelled cell.
            trained_prior = uniform
            normalized = log1p_cp10k(reference_data.X)
            held_in = _train_linear(normalized, reference_data.obs[_LABELS].to_numpy())
            calibration_p = _linear_probabilities(held_in, normalized[calibration_cells], classes)
            fitted[member] = linear = _train_linear(normalized, reference_data.obs[_TRUE_LABELS].to_numpy())
            query_p = _linear_probabilities(linear, log1p_cp10k(query_data.X), classes)
        query_probabilities.append(change_class_prior(query_p, trained_prior, target))
        calibration_probabilities.append(change_class_prior(calibration_p, trained_prior, target))
    return classes, np.mean(query_probabilities, axis=0), np.mean(calibration_probabilities, axis=0), fitted


def transfer_labels(
    reference: AnnData,
    query: AnnData,
    labels_key: str,
    *,
    layer: str | None = None,
    batch_key: str | None = None,
    unknown_threshold: float = 0.5,
    novelty_threshold: float = 0.9,
    majority_voting: bool = False,
    key_added: str = "celltyper",
    classifier: Classifier = "linear",
    class_prior: ClassPrior = "balanced",
    reference_model: SemiSupervisedCountVAE | None = None,
    n_top_genes: int | None = 2000,
    max_gene_shift: float | None = 0.25,
    min_gene_overlap: float = MIN_GENE_OVERLAP,
    calibration_fraction: float = 0.1,
    max_epochs: int = 50,
    query_max_epochs: int = 50,
    model_kwargs: dict | None = None,
    train_kwargs: dict | None = None,
    leiden_resolution: float = 1.0,
    random_state: int = 0,
) -> TransferResult:
    """Name every query cell after the reference's cell types, with a calibrated confidence and ``"Unknown"``.

    1. **Genes.** The reference is reduced to its ``n_top_genes`` highly variable genes (scanpy's ``seurat_v3`` on
       the counts); the query is aligned to them on a copy (:func:`~celltyper.tl.align_genes`: by Ensembl id when
       both have ids, else by symbol; missing genes zero-filled). Below ``min_gene_overlap`` it stops with an error.
       Genes expressed by a much larger (or smaller) share of query than reference cells are left out
       (``max_gene_shift``).
    2. **Reference model.** A :class:`~celltyper.model.SemiSupervisedCountVAE` (ELBO + α · cross-entropy of a
       classifier on z) is trained on the reference, except a stratified ``calibration_fraction`` of its cells
       whose labels are hidden.
    3. **Query mapping.** scArches surgery: the model gets new batch slots for the query's batches, and only those
       weights train on the query (the reference's weights and the classifier stay frozen).
    4. **Classifier** (``classifier``). By default a class-balanced, strongly regularised logistic regression on the
       log-normalized expression of the same reference cells and genes; or the VAE's classifier on the mapped query,
       a :class:`~celltyper.CellTypeTransformer`, or the mean of those two. Each gets equal prior odds for every cell
       type (``class_prior``).
    5. **Confidence and novelty.** A temperature is fitted on the held-out reference cells (ECE before / after in
       ``result.calibration``); the confidence of a cell is its calibrated top-class probability. Its novelty is how
       far it lies from the nearest reference type in the latent space (Mahalanobis distance to per-type Gaussians,
       :class:`~celltyper.tl.TypeDistance`), as the share of held-out reference cells that lie closer to theirs.
       Cells with confidence below ``unknown_threshold`` or novelty above ``novelty_threshold`` are ``"Unknown"``.
    6. **Majority voting** (optional): every Leiden cluster of the query's latent space gets its majority label.

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
        Column of ``obs`` with the batch (donor, sample …) of each cell. The reference's batches are modelled as
        batches; the query's (or, without the column in the query, the whole query) become new batches, always
        distinct from the reference's even when the names coincide.
    unknown_threshold
        Calibrated confidence below which a cell is ``"Unknown"`` (0: never).
    novelty_threshold
        Novelty above which a cell is ``"Unknown"`` (1: never). 0.9 calls a cell unknown when it lies further from every
        reference type than 90 % of the held-out reference cells do from theirs.
    majority_voting
        Also write the majority label of each Leiden cluster of the query.
    key_added
        Prefix of the keys written to ``query``.
    classifier
        ``"linear"`` (default): class-balanced logistic regression with a strong L2 penalty (``C=0.001``) on the
        log1p(CP10k) expression of the reference's genes. ``"vae"``: the classifier of the semi-supervised CountVAE on
        the mapped query. ``"transformer"``: a :class:`~celltyper.CellTypeTransformer` trained on the reference.
        ``"ensemble"``: the mean of the VAE's and the transformer's probabilities. The CountVAE is trained whichever
        is chosen (for the latent space and the novelty). The linear classifier measured best on four transfers
        between datasets, donors and conditions held out from the benchmark, and on both labelled benchmark tasks
        over three seeds; the ensemble was level with it within one dataset (``docs/transfer.md``).
    class_prior
        ``"balanced"`` (default): every cell type is a priori equally likely, so a type rare in the reference is not
        called less often for being rare there (the query's composition is unknown; this maximises balanced accuracy
        and measured best for macro-F1, ``docs/transfer.md``). ``"reference"``: the reference's cell-type
        frequencies, for a query expected to have the reference's composition.
    reference_model
        ``result.reference_model`` of an earlier call, to skip reference training (its genes are used).
    n_top_genes
        Highly variable genes of the reference to model (``None``: all genes).
    max_gene_shift
        Leave out genes whose fraction of expressing cells differs between reference and query by more than this
        (:func:`~celltyper.tl.shifted_genes`: responses to a condition, such as interferon, that would otherwise pull
        every query cell away from its reference type). ``None``: keep all. Only used when the reference model is
        trained here.
    min_gene_overlap
        Smallest fraction of the reference's (selected) genes the query must have.
    calibration_fraction
        Fraction of labelled reference cells held out to fit the temperature.
    max_epochs, query_max_epochs
        Training epochs of the reference model and of query mapping.
    model_kwargs
        Passed to :class:`~celltyper.model.SemiSupervisedCountVAE` (default ``encode_covariates=True``,
        ``n_latent=20``).
    train_kwargs
        Passed to the ``train`` methods (e.g. ``{"batch_size": 256}``).
    leiden_resolution
        Resolution of the Leiden clustering for majority voting.
    random_state
        Seed of the calibration split, of scvi-tools (``scvi.settings.seed``) and of the clustering.

    Returns
    -------
    :class:`TransferResult` with the models, the gene overlap, the calibration and the probabilities.

    Writes, to ``query``:

    - ``obs[f"{key_added}_prediction"]``: cell type, or ``"Unknown"`` (categorical).
    - ``obs[f"{key_added}_confidence"]``: calibrated probability of the top cell type (float in [0, 1]).
    - ``obs[f"{key_added}_novelty"]``: share of held-out reference cells closer to their nearest type (in [0, 1]).
    - ``obsm[f"X_{key_added}"]``: the cell's position in the reference's latent space (posterior mean).
    - with ``majority_voting``: ``obs[f"{key_added}_majority_voting"]`` (cluster majority label),
      ``obs[f"{key_added}_cluster"]`` (Leiden cluster) and ``obs[f"{key_added}_cluster_agreement"]`` (share of the
      cluster predicted as its majority label).
    - ``uns[key_added]``: the settings, the gene overlap and the calibration.

    Examples
    --------
    >>> res = ct.tl.transfer_labels(ref, query, labels_key="cell_type", layer="counts", batch_key="donor")
    >>> query.obs["celltyper_prediction"].value_counts()
    >>> res.gene_overlap, res.calibration
    """
    thresholds = unknown_threshold, novelty_threshold
    _check_inputs(reference, query, labels_key, layer, batch_key, *thresholds, classifier, class_prior, reference_model)
    scvi.settings.seed = random_state

    if reference_model is None:
        reference_data = _reference_copy(reference, labels_key, layer, batch_key, calibration_fraction, random_state)
        reference_data = _select_genes(reference_data, n_top_genes, layer)
    else:
        reference_data = reference_model.adata
    # Align (and refuse a poor overlap) before any training.
    query_data, genes = align_genes(query, reference_data, layer=layer, min_gene_overlap=min_gene_overlap)
    if genes.fraction < 0.8:
        warnings.warn(f"{genes.describe()}; the missing ones are read as zero counts.", UserWarning, stacklevel=2)
    excluded = pd.Index([])
    if reference_model is None and max_gene_shift is not None:
        # Both copies hold the counts in X (and in `layer`).
        excluded = shifted_genes(reference_data.X, query_data.X, reference_data.var_names, max_gene_shift)
        keep = ~reference_data.var_names.isin(excluded)
        reference_data, query_data = reference_data[:, keep].copy(), query_data[:, keep].copy()
    if reference_model is None:
        reference_model = _train_reference(reference_data, layer, model_kwargs, max_epochs, train_kwargs)
    has_batch = batch_key is not None and batch_key in query.obs
    query_data.obs = pd.DataFrame(index=query.obs_names.copy())
    query_data.obs[_BATCH] = ("query:" + query.obs[batch_key].astype(str)).to_numpy() if has_batch else "query"
    query_model = _map_query(reference_model, query_data, query_max_epochs, train_kwargs)

    calibration_cells = np.flatnonzero(reference_data.obs[_CALIBRATION].to_numpy())
    classes, query_probabilities, calibration_probabilities, classifiers = _classifier_probabilities(
        classifier,
        class_prior,
        reference_model,
        query_model,
        reference_data,
        query_data,
        calibration_cells,
        layer,
        train_kwargs,
    )
    calibration = fit_temperature(
        calibration_probabilities,
        reference_data.obs[_TRUE_LABELS].to_numpy()[calibration_cells],
        classes,
    )
    probabilities = pd.DataFrame(calibration.transform(query_probabilities), index=query.obs_names, columns=classes)
    confidence = probabilities.max(axis=1).to_numpy()
    latent = query_model.get_latent_representation(query_data)
    query_novelty = _novelty(reference_model, calibration_cells, latent)
    unknown = (confidence < unknown_threshold) | (query_novelty > novelty_threshold)
    prediction = np.where(unknown, UNKNOWN, np.asarray(classes, dtype=object)[probabilities.to_numpy().argmax(1)])
    query.obs[f"{key_added}_prediction"] = pd.Categorical(prediction, categories=[*classes, UNKNOWN])
    query.obs[f"{key_added}_confidence"] = confidence
    query.obs[f"{key_added}_novelty"] = query_novelty
    query.obsm[f"X_{key_added}"] = latent
    if majority_voting:
        clusters = leiden_clusters(latent, resolution=leiden_resolution, random_state=random_state)
        voted, agreement = majority_vote(prediction, clusters)
        query.obs[f"{key_added}_majority_voting"] = pd.Categorical(voted, categories=[*classes, UNKNOWN])
        query.obs[f"{key_added}_cluster"] = pd.Categorical(clusters)
        query.obs[f"{key_added}_cluster_agreement"] = agreement
    query.uns[key_added] = {
        "labels_key": labels_key,
        "classifier": classifier,
        "class_prior": class_prior,
        "unknown_threshold": unknown_threshold,
        "novelty_threshold": novelty_threshold,
        "gene_overlap": genes.fraction,
        "n_reference_genes": genes.n_reference_genes,
        "n_genes_found": genes.n_found,
        "excluded_shifted_genes": list(excluded),
        "temperature": calibration.temperature,
        "ece_before": calibration.ece_before,
        "ece_after": calibration.ece_after,
        "majority_voting": majority_voting,
    }
    logger.info(
        "%s; temperature %.2f, ECE %.3f → %.3f",
        genes.describe(),
        calibration.temperature,
        calibration.ece_before,
        calibration.ece_after,
    )
    return TransferResult(
        reference_model=reference_model,
        query_model=query_model,
        transformer=classifiers.get("transformer"),
        linear=classifiers.get("linear"),
        genes=genes,
        calibration=calibration,
        probabilities=probabilities,
        novelty=query_novelty,
        unknown_threshold=unknown_threshold,
        novelty_threshold=novelty_threshold,
    )
