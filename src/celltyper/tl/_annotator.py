"""Annotator: everything label transfer fits on a reference, as one object to save once, share, load and apply.

Genes, classifier, calibration, the reference type profiles novelty compares against and (optionally) the latent
model are fitted once by :meth:`Annotator.from_reference`; :meth:`Annotator.annotate` then labels any query without
training anything but the query's own latent mapping. :func:`~celltyper.tl.transfer_labels` is exactly
``Annotator.from_reference(reference, ..., query=query).annotate(query)``: given the query, the genes are chosen
among those it has and genes shifted between the two are left out. Fitted without a query, an annotator reads the
reference's most variable genes; a later query that lacks some of them reads zeros there (as CellTypist's models do).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scvi
from anndata import AnnData

from celltyper import _keys as keys
from celltyper._gene_overlap import MIN_GENE_OVERLAP
from celltyper.model import CountVAE

from ._annotate_query import Annotation, annotate_query
from ._annotator_fit import fit_annotator
from ._calibration import TemperatureScaling
from ._classifiers import ReferenceClassifier
from ._model_card import render_model_card
from ._novelty import TypeProfiles
from ._threads import Threads, resolve_threads, torch_threads
from ._transfer_data import check_query, query_layer
from ._unknown import NOVELTY_THRESHOLD, UNKNOWN_THRESHOLD, check_thresholds

#: Defaults chosen on the validation suite by their worst case (docs/transfer.md, "How the defaults were chosen").
MAX_GENE_SHIFT, N_TOP_GENES = 0.1, 4000


@dataclass
class Annotator:
    """A reference, fitted for label transfer: apply it with :meth:`annotate`, share it with :meth:`save`.

    Build one with :meth:`from_reference` (or read one with :meth:`load`, or a built-in one with
    :func:`celltyper.models.load`), not with the constructor.

    Attributes
    ----------
    settings
        How it was fitted: ``labels_key``, ``layer``, ``batch_key``, ``classifier``, ``class_prior``, the Unknown
        thresholds, ``min_gene_overlap``, ``leiden_resolution``, ``query_max_epochs``.
    gene_table
        Every reference gene (``var_names``, and Ensembl ids in ``gene_ids`` when the reference had them): a query's
        counts are divided by its total over the genes it shares with this table.
    genes
        The genes the classifier and the latent model read, in their order.
    excluded_genes
        Genes left out because their detection differed between reference and the query it was fitted with.
    classifier
        The fitted classifier.
    trained_prior, target_prior
        The class frequencies the classifier learned and those its probabilities are moved to (``class_prior``).
    calibration
        The temperature fitted on held-out reference cells.
    profiles
        Mean log-normalized profile and number of reference cells of each type, for novelty.
    latent_model
        The reference's latent model (:class:`~celltyper.CountVAE`; or the folder it was saved in), or ``None``.
    card
        The model card: reference, cell types, genes, held-out accuracy, calibration, versions, date, evaluations.
    """

    settings: dict[str, Any]
    gene_table: pd.DataFrame = field(repr=False)
    genes: pd.Index = field(repr=False)
    excluded_genes: list[str] = field(repr=False)
    classifier: ReferenceClassifier
    trained_prior: np.ndarray = field(repr=False)
    target_prior: np.ndarray = field(repr=False)
    calibration: TemperatureScaling
    profiles: TypeProfiles = field(repr=False)
    latent_model: CountVAE | str | os.PathLike | None = field(repr=False)
    card: dict[str, Any] = field(repr=False)
    calibration_cells: pd.Index = field(default_factory=lambda: pd.Index([]), repr=False)

    @property
    def cell_types(self) -> list[str]:
        """The cell types it can call (besides ``"Unknown"``)."""
        return self.classifier.classes

    @classmethod
    def from_reference(
        cls,
        reference: AnnData,
        labels_key: str,
        *,
        layer: str | None = None,
        batch_key: str | None = None,
        query: AnnData | None = None,
        classifier: str = "linear",
        classifier_kwargs: dict | None = None,
        class_prior: str = "balanced",
        latent: bool = True,
        n_top_genes: int | None = N_TOP_GENES,
        max_gene_shift: float | None = MAX_GENE_SHIFT,
        min_gene_overlap: float = MIN_GENE_OVERLAP,
        calibration_fraction: float = 0.1,
        unknown_threshold: float = UNKNOWN_THRESHOLD,
        novelty_threshold: float = NOVELTY_THRESHOLD,
        max_epochs: int | None = None,
        query_max_epochs: int | None = None,
        model_kwargs: dict | None = None,
        train_kwargs: dict | None = None,
        leiden_resolution: float = 1.0,
        n_threads: Threads = "auto",
        progress_bar: bool = True,
        random_state: int = 0,
        name: str | None = None,
        description: str = "",
    ) -> Annotator:
        """Fit an annotator on a labelled reference (the arguments are those of :func:`~celltyper.tl.transfer_labels`).

        Parameters
        ----------
        reference
            Labelled AnnData with raw counts in ``layer`` (or ``X``). Not modified.
        labels_key
            Column of ``reference.obs`` with the cell types; NaN or ``"Unknown"`` cells count as unlabelled.
        layer, batch_key
            Where the raw counts are; the column of each cell's batch (for the latent model).
        query
            The query it will annotate, if known: the genes are then chosen among those the query has, less the genes
            whose detection differs between the two within cell types by more than ``max_gene_shift``.
        classifier, classifier_kwargs, class_prior, latent, n_top_genes, max_gene_shift, min_gene_overlap
            See :func:`~celltyper.tl.transfer_labels`.
        calibration_fraction, unknown_threshold, novelty_threshold, max_epochs, query_max_epochs, model_kwargs
            See :func:`~celltyper.tl.transfer_labels` (the thresholds and query epochs become :meth:`annotate`'s
            defaults).
        train_kwargs, leiden_resolution, n_threads, progress_bar, random_state
            See :func:`~celltyper.tl.transfer_labels`.
        name, description
            The model card's name and description of the reference (where the cells come from, how they were
            labelled).

        Returns
        -------
        The fitted :class:`Annotator`.
        """
        return fit_annotator(
            cls,
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
            name=name,
            description=description,
        )

    def annotate(
        self,
        query: AnnData,
        *,
        layer: str | None = None,
        batch_key: str | None = None,
        unknown_threshold: float | None = None,
        novelty_threshold: float | None = None,
        majority_voting: bool = False,
        key_added: str = keys.KEY_ADDED,
        latent: bool | None = None,
        query_max_epochs: int | None = None,
        n_threads: Threads = "auto",
        progress_bar: bool = True,
        random_state: int = 0,
    ) -> Annotation:
        """Name every query cell after the reference's types, with a calibrated confidence, novelty and ``"Unknown"``.

        Writes the keys :func:`~celltyper.tl.transfer_labels` documents (``obs[f"{key_added}_prediction"]``,
        ``_confidence``, ``_novelty``, with ``majority_voting`` ``_majority_voting``, ``_cluster``,
        ``_cluster_agreement``; ``obsm[f"X_{key_added}"]`` with the latent model; ``uns[key_added]``). The query's
        ``X``, layers and ``var`` are not modified.

        Parameters
        ----------
        query
            The cells to annotate, raw counts in ``layer``. Genes are matched by Ensembl id when both sides have ids,
            else by symbol; genes the annotator reads but the query lacks count as zero.
        layer
            Layer of the query's raw counts (default: the layer the reference's counts were in, if the query has
            it, else ``X``).
        batch_key
            Column of ``query.obs`` with the query's batches, each mapped as a new batch of the latent model (default:
            the reference's ``batch_key`` if the query has that column, else one batch).
        unknown_threshold, novelty_threshold
            The Unknown rule (default: the annotator's; see :func:`~celltyper.tl.unknown_calls`).
        majority_voting
            Also write the majority label of each query cluster.
        key_added
            Prefix of the keys written to ``query``.
        latent
            Map the query onto the latent model (default: when the annotator has one).
        query_max_epochs
            Epochs of query mapping (default: the annotator's; ``None`` there means about 30,000 cells seen).
        n_threads, progress_bar, random_state
            As in :func:`~celltyper.tl.transfer_labels`.

        Returns
        -------
        Annotation
            The probabilities, novelty, clusters, gene overlap and the query model.
        """
        layer = query_layer(query, self.settings["layer"]) if layer is None else layer
        batch_key = self.settings["batch_key"] if batch_key is None else batch_key
        rule = {
            "unknown_threshold": self.settings["unknown_threshold"] if unknown_threshold is None else unknown_threshold,
            "novelty_threshold": self.settings["novelty_threshold"] if novelty_threshold is None else novelty_threshold,
        }
        check_thresholds(**rule)
        check_query(query, layer)
        if latent and self.latent_model is None:
            raise ValueError("This annotator has no latent model (it was fitted with latent=False); pass latent=False.")
        latent = self.latent_model is not None if latent is None else latent
        threads = resolve_threads(n_threads) if latent or self.settings["classifier"] != "linear" else None
        scvi.settings.seed = random_state
        epochs = self.settings["query_max_epochs"] if query_max_epochs is None else query_max_epochs
        with torch_threads(threads):
            annotation = annotate_query(self, query, layer, batch_key, rule, latent, epochs, random_state, progress_bar)
        settings = {**self.settings, **rule, "layer": layer, "torch_threads": threads}
        annotation.write(query, key_added, majority_voting, settings)
        return annotation

    def save(self, dir_path: str | os.PathLike, overwrite: bool = False) -> None:
        """Save to the folder ``dir_path``: tensors in safetensors, the rest in JSON, the model card in markdown.

        Nothing in the folder is pickled, so loading it can run no code. The folder is written next to ``dir_path``
        and renamed, so an interrupted save leaves no half-written annotator.

        Parameters
        ----------
        dir_path
            Folder to write (created with its parents).
        overwrite
            Replace an annotator saved there before.
        """
        from ._annotator_files import write_annotator

        write_annotator(self, dir_path, overwrite)

    @classmethod
    def load(cls, dir_path: str | os.PathLike) -> Annotator:
        """An annotator saved with :meth:`save`, checked file by file; nothing in the folder is unpickled.

        Parameters
        ----------
        dir_path
            The saved folder.

        Raises
        ------
        FileNotFoundError
            If the folder holds no annotator.
        ValueError
            If a file is damaged, changed after saving, or written by a newer celltyper.
        """
        from ._annotator_files import read_annotator

        return read_annotator(cls, dir_path)

    def add_evaluation(self, name: str, metrics: dict[str, float], description: str = "") -> None:
        """Record on the model card how the annotator did on data it was not fitted on (shown by :meth:`model_card`).

        Parameters
        ----------
        name
            What was annotated, e.g. ``"Kang 2018 control, donors 1 and 2"``.
        metrics
            Numbers measured there, e.g. ``{"accuracy": 0.93, "macro_f1": 0.88}``.
        description
            How it was measured.
        """
        entry = {"name": name, "description": description, "metrics": {k: float(v) for k, v in metrics.items()}}
        self.card.setdefault("evaluations", []).append(entry)

    def model_card(self) -> str:
        """The model card as markdown (what ``model_card.md`` in a saved folder holds)."""
        return render_model_card(self.card)
