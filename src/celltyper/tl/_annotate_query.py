"""What an :class:`~celltyper.tl.Annotator` computes for a query, and the keys it writes into the query."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from celltyper import _keys as keys
from celltyper._gene_overlap import check_gene_overlap
from celltyper._keys import UNKNOWN
from celltyper.model import CountVAE

from ._classifiers import LIBRARY, VAEClassifier, normalized
from ._fit_classifier import calibrated
from ._genes import GeneOverlap
from ._latent import map_query
from ._majority_voting import majority_vote
from ._novelty import query_novelty
from ._transfer_data import query_copy
from ._unknown import unknown_calls

if TYPE_CHECKING:
    from ._annotator import Annotator


@dataclass
class Annotation:
    """What :meth:`~celltyper.tl.Annotator.annotate` computed for a query.

    Attributes
    ----------
    prediction
        Cell type or ``"Unknown"`` of each query cell.
    confidence
        Calibrated probability of each cell's top type (0 for cells without counts on the annotator's genes).
    novelty
        How unlike its predicted type each cell's query cluster is, in [0, 1].
    clusters
        Leiden cluster of each query cell (computed on the query alone; ``"empty"`` for cells without counts).
    probabilities
        Calibrated class probabilities, cells × cell types.
    genes
        How many of the reference's genes the query has (:class:`~celltyper.tl.GeneOverlap`).
    n_genes_used
        Genes the classifier reads; ``n_genes_used_found`` of them are in the query.
    query_model
        The latent model after scArches mapping of this query, or ``None``.
    latent
        Each cell's position in the latent space (NaN for cells without counts), or ``None``.
    """

    prediction: np.ndarray = field(repr=False)
    confidence: np.ndarray = field(repr=False)
    novelty: np.ndarray = field(repr=False)
    clusters: np.ndarray = field(repr=False)
    probabilities: pd.DataFrame = field(repr=False)
    genes: GeneOverlap
    n_genes_used: int
    n_genes_used_found: int
    query_model: CountVAE | None = field(repr=False)
    latent: np.ndarray | None = field(repr=False)

    def write(self, query: AnnData, key_added: str, majority_voting: bool, settings: dict[str, Any]) -> None:
        """Write the documented ``obs`` / ``obsm`` / ``uns`` keys into ``query``."""
        categories = [*self.probabilities.columns, UNKNOWN]
        query.obs[keys.prediction_key(key_added)] = pd.Categorical(self.prediction, categories=categories)
        query.obs[keys.confidence_key(key_added)] = self.confidence
        query.obs[keys.novelty_key(key_added)] = self.novelty
        if self.latent is not None:
            query.obsm[keys.latent_key(key_added)] = self.latent
        if majority_voting:
            voted, agreement = majority_vote(self.prediction, self.clusters)
            used = [c for c in categories if c in set(voted)]
            query.obs[keys.majority_voting_key(key_added)] = pd.Categorical(voted, categories=used)
            query.obs[keys.cluster_key(key_added)] = pd.Categorical(self.clusters)
            query.obs[keys.cluster_agreement_key(key_added)] = agreement
        query.uns[key_added] = {
            **{k: v for k, v in settings.items() if k != "train_kwargs" and v is not None},
            "gene_overlap": self.genes.fraction,
            "n_reference_genes": self.genes.n_reference_genes,
            "n_genes_found": self.genes.n_found,
            "n_genes_used": self.n_genes_used,
            "n_genes_used_found": self.n_genes_used_found,
            "majority_voting": majority_voting,
        }


def check_query_has_counts(query_data: AnnData) -> np.ndarray:
    """Which query cells have no counts on the genes the models read; a ``ValueError`` if none has any."""
    empty = np.asarray(query_data.X.sum(axis=1)).ravel() == 0
    if empty.all():
        raise ValueError(f"None of the query's cells has counts on the {query_data.n_vars} genes the models read.")
    return empty


def check_genes_found(annotator: Annotator, found: np.ndarray) -> None:
    """Raise if a query has too few of the genes the annotator reads; warn if it lacks many.

    ``found``: a mask over ``annotator.genes``. The minimum is the annotator's ``min_gene_overlap`` setting, saved
    with it.
    """
    check_gene_overlap(
        annotator.genes,
        found,
        "genes the annotator reads",
        minimum=annotator.settings["min_gene_overlap"],
        stacklevel=5,
    )


def _query_on_annotator_genes(annotator: Annotator, query: AnnData, layer, batch_key) -> tuple:
    """The query's counts on the annotator's genes, each cell's library over every gene it shares with the reference."""
    genes = AnnData(var=annotator.gene_table)
    query_data, overlap = query_copy(query, genes, layer, batch_key, min_gene_overlap=0.0)  # checked on used genes
    query_data.obs[LIBRARY] = np.asarray(query_data.X.sum(axis=1)).ravel()  # zero where the query lacks a gene
    found = ~annotator.genes.isin(overlap.missing)
    check_genes_found(annotator, found)
    return query_data[:, annotator.genes].copy(), overlap, int(found.sum())


def _mapped_query(annotator: Annotator, cells: AnnData, query_max_epochs: int | None) -> CountVAE:
    """The latent model with ``cells`` mapped onto it (scArches); the VAE classifier's own mapping when it has one."""
    classifier = annotator.classifier
    if isinstance(classifier, VAEClassifier) and classifier.query_model is not None:
        return classifier.query_model
    if annotator.latent_model is None:
        raise ValueError("This annotator has no latent model (it was fitted with latent=False); pass latent=False.")
    return map_query(annotator.latent_model, cells.copy(), query_max_epochs, annotator.settings["train_kwargs"])


def annotate_query(
    annotator: Annotator, query: AnnData, layer, batch_key, rule, latent, query_max_epochs, random_state, progress_bar
) -> Annotation:
    """Predict, score the novelty of, call Unknown and (``latent``) map every cell of ``query``."""
    bar = tqdm(total=3 if latent else 2, desc="annotating", disable=not progress_bar, leave=False)
    query_data, overlap, found = _query_on_annotator_genes(annotator, query, layer, batch_key)
    empty = check_query_has_counts(query_data)
    classifier = annotator.classifier
    if isinstance(classifier, VAEClassifier):
        classifier.query_max_epochs = query_max_epochs
    raw = classifier.predict_proba(query_data[~empty])
    probabilities = calibrated(raw, annotator.trained_prior, annotator.target_prior, annotator.calibration)
    classes = classifier.classes
    bar.update()

    predicted = np.asarray(classes, dtype=object)[probabilities.argmax(1)]
    novelty, confidence = np.ones(query.n_obs), np.zeros(query.n_obs)
    clusters = np.full(query.n_obs, "empty", dtype=object)
    clusters[~empty], novelty[~empty] = query_novelty(
        normalized(query_data[~empty]),
        predicted,
        annotator.profiles,
        annotator.settings["leiden_resolution"],
        random_state,
    )
    confidence[~empty] = probabilities.max(1)
    prediction = np.full(query.n_obs, UNKNOWN, dtype=object)
    prediction[~empty] = predicted
    prediction[unknown_calls(confidence, novelty, **rule)] = UNKNOWN
    bar.update()

    query_model, position = None, None
    if latent:
        query_model = _mapped_query(annotator, query_data[~empty], query_max_epochs)
        position = np.full((query.n_obs, query_model.module.n_latent), np.nan, dtype=np.float32)
        position[~empty] = query_model.get_latent_representation()
        bar.update()
    bar.close()

    all_probabilities = np.zeros((query.n_obs, len(classes)))
    all_probabilities[~empty] = probabilities
    if empty.any():
        warnings.warn(
            f"{int(empty.sum())} query cells have no counts on the {query_data.n_vars} genes the models read; they are "
            "'Unknown' with confidence 0" + (" and no latent position (NaN)." if latent else "."),
            UserWarning,
            stacklevel=4,
        )
    return Annotation(
        prediction=prediction,
        confidence=confidence,
        novelty=novelty,
        clusters=clusters,
        probabilities=pd.DataFrame(all_probabilities, index=query.obs_names, columns=classes),
        genes=overlap,
        n_genes_used=len(annotator.genes),
        n_genes_used_found=found,
        query_model=query_model,
        latent=position,
    )
