"""Fitting an annotator on a labelled reference: genes, calibrated classifier, type profiles, latent model, card.

This is the body of :meth:`~celltyper.tl.Annotator.from_reference`, kept apart from the class so that the class
reads as what an annotator holds and does. The arguments are checked before anything is copied or trained; the genes
are chosen among the query's when one is given (less those shifted between the two), else among the reference's
most variable genes.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import scvi
from anndata import AnnData
from tqdm.auto import tqdm

from ._annotate_query import check_query_has_counts
from ._classifiers import CLASSIFIERS, LIBRARY, VAEClassifier, normalized
from ._fit_classifier import calibrated_classifier
from ._genes import GeneOverlap
from ._latent import train_reference_model
from ._model_card import model_card
from ._novelty import TypeProfiles
from ._threads import Threads, resolve_threads, torch_threads
from ._transfer_data import (
    TRUE_LABELS,
    check_query,
    check_reference,
    model_genes,
    query_copy,
    reference_copy,
    reference_gene_table,
    set_libraries,
    without_empty_cells,
)
from ._unknown import check_thresholds

if TYPE_CHECKING:
    from ._annotator import Annotator

CLASSIFIER_NAMES, CLASS_PRIORS = tuple(CLASSIFIERS), ("balanced", "reference")


def fit_annotator(
    annotator_class: type[Annotator],
    reference: AnnData,
    labels_key: str,
    *,
    layer: str | None,
    batch_key: str | None,
    query: AnnData | None,
    classifier: str,
    classifier_kwargs: dict | None,
    class_prior: str,
    latent: bool,
    n_top_genes: int | None,
    max_gene_shift: float | None,
    min_gene_overlap: float,
    calibration_fraction: float,
    unknown_threshold: float,
    novelty_threshold: float,
    max_epochs: int | None,
    query_max_epochs: int | None,
    model_kwargs: dict | None,
    train_kwargs: dict | None,
    leiden_resolution: float,
    n_threads: Threads,
    progress_bar: bool,
    random_state: int,
    name: str | None,
    description: str,
) -> Annotator:
    """An ``annotator_class`` fitted on ``reference`` (the arguments are those of :meth:`Annotator.from_reference`)."""
    choices = (CLASSIFIER_NAMES, CLASS_PRIORS)
    check_reference(reference, labels_key, layer, batch_key, classifier, class_prior, n_threads, choices)
    if query is not None:
        check_query(query, layer)
    check_thresholds(unknown_threshold, novelty_threshold)
    if not 0 < calibration_fraction < 1:
        raise ValueError(
            f"calibration_fraction must be between 0 and 1 (the share of labelled reference cells held out to fit "
            f"the confidence's temperature), not {calibration_fraction}."
        )
    scvi.settings.seed = random_state
    bar = tqdm(total=3 if latent else 2, desc="fitting the annotator", disable=not progress_bar, leave=False)

    reference_data = reference_copy(reference, labels_key, layer, batch_key, calibration_fraction, random_state)
    gene_table = reference_gene_table(reference)
    excluded: list[str] = []
    if query is not None:
        query_data, overlap = query_copy(query, reference_data, layer, batch_key, min_gene_overlap)
        set_libraries(reference_data, query_data, overlap)
        selected, excluded = model_genes(reference_data, query_data, overlap, n_top_genes, max_gene_shift)
        check_query_has_counts(query_data[:, selected])  # before the reference's empty cells are warned about
    else:
        reference_data.obs[LIBRARY] = np.asarray(reference_data.X.sum(axis=1)).ravel()
        everything = GeneOverlap(reference_data.n_vars, reference_data.n_vars, "itself", [])
        selected, _ = model_genes(reference_data, reference_data, everything, n_top_genes, None)
    reference_data = without_empty_cells(reference_data[:, selected].copy())
    bar.update()

    settings = dict(classifier_kwargs or {})
    if classifier == "vae":
        vae = {"max_epochs": max_epochs, "query_max_epochs": query_max_epochs, "model_kwargs": model_kwargs}
        settings = {**vae, "train_kwargs": train_kwargs, **settings}
    threads = resolve_threads(n_threads) if classifier != "linear" or latent else None
    with torch_threads(threads):
        fit = calibrated_classifier(partial(CLASSIFIERS[classifier], **settings), reference_data, class_prior)
    labels = reference_data.obs[TRUE_LABELS].to_numpy()
    profiles = TypeProfiles.from_cells(normalized(reference_data), labels, fit.classifier.classes)
    bar.update()

    latent_model = None
    if latent and isinstance(fit.classifier, VAEClassifier):
        latent_model = fit.classifier.model
    elif latent:
        with torch_threads(threads):
            latent_model = train_reference_model(
                reference_data, model_kwargs, max_epochs, train_kwargs, semi_supervised=False
            )
        bar.update()
    bar.close()
    annotator = annotator_class(
        settings={
            "labels_key": labels_key,
            "layer": layer,
            "batch_key": batch_key,
            "classifier": classifier,
            "class_prior": class_prior,
            "unknown_threshold": unknown_threshold,
            "novelty_threshold": novelty_threshold,
            "min_gene_overlap": min_gene_overlap,
            "leiden_resolution": leiden_resolution,
            "query_max_epochs": query_max_epochs,
            "train_kwargs": dict(train_kwargs or {}),
        },
        gene_table=gene_table,
        genes=reference_data.var_names.copy(),
        excluded_genes=excluded,
        classifier=fit.classifier,
        trained_prior=fit.trained_prior,
        target_prior=fit.target_prior,
        calibration=fit.calibration,
        profiles=profiles,
        latent_model=latent_model,
        card={},
    )
    annotator.card = model_card(annotator, reference, reference_data, fit.held_out, name, description)
    annotator.calibration_cells = fit.held_out.cells
    return annotator
