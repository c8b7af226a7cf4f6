"""Annotate the cells of an ``.h5ad`` file chunk by chunk, without loading the file into memory."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata.io import read_elem, write_elem
from scvi import REGISTRY_KEYS

from celltyper import _keys as keys
from celltyper._keys import UNKNOWN
from celltyper.model import SemiSupervisedCountVAE

from ._annotator import Annotator
from ._annotator_chunks import annotator_chunk_predictor
from ._h5ad_chunks import CellNameReader, RowChunkReader
from ._unknown import UNKNOWN_THRESHOLD, check_thresholds, unknown_calls


def annotate_h5ad(
    model,
    path: str | Path,
    *,
    annotated: str | Path | None = None,
    predictions: str | Path | None = None,
    chunk_size: int = 50_000,
    unknown_threshold: float | None = None,
    key_added: str = keys.KEY_ADDED,
    layer: str | None = None,
) -> pd.DataFrame:
    """Predict the cell type of every cell of an ``.h5ad`` file, ``chunk_size`` cells at a time.

    Only ``obs`` and ``var`` are loaded; the counts the model reads (``X`` or the layer it was set up with) stay on
    disk and are read one contiguous chunk at a time, predicted with ``model.predict(chunk, soft=True)`` and dropped;
    a second thread reads the next chunk while the model predicts the current one. Memory holds two chunks and the
    results (a few numbers per cell), never the whole query and never a dense matrix of it.

    Parameters
    ----------
    model
        An :class:`~celltyper.tl.Annotator` (its genes are matched to the file's as in
        :meth:`~celltyper.tl.Annotator.annotate`, the same classifier and calibration predict), or a trained
        :class:`~celltyper.CellTypeTransformer` or :class:`~celltyper.model.SemiSupervisedCountVAE` (any model whose
        ``predict(adata, soft=True)`` returns a cells × cell types DataFrame of probabilities; the file must then hold
        what the model reads: the counts layer it was set up with, and the batch column for the VAE).
    path
        The query ``.h5ad``; it is not modified.
    annotated
        If given, a copy of ``path`` written here with two columns added to ``obs`` (the counts are copied on disk,
        not through memory): ``{key_added}_prediction`` (categorical, with the cell types at least one cell got)
        and ``{key_added}_confidence``.
    predictions
        If given, the returned table is written here as CSV.
    chunk_size
        Cells read and predicted at a time.
    unknown_threshold
        Cells whose top probability is below this are predicted ``"Unknown"`` (the rule of
        :func:`~celltyper.tl.unknown_calls`; default: the annotator's, else 0: never). The cluster novelty needs the
        whole query at once and is not computed here; cells without counts on the genes the model reads are
        ``"Unknown"`` with confidence 0.
    key_added
        Prefix of the columns.
    layer
        For an annotator: where the file holds raw counts (default: the layer the annotator's reference had its
        counts in, if the file has it, else ``X``). A model reads the layer it was set up with.

    Returns
    -------
    ``DataFrame`` indexed by the file's ``obs_names``: ``{key_added}_prediction``, ``{key_added}_confidence`` and
    ``p_{cell type}`` for every cell type the model knows.

    Examples
    --------
    >>> model = ct.CellTypeTransformer.load("reference_model/")
    >>> table = ct.tl.annotate_h5ad(model, "atlas.h5ad", annotated="atlas_annotated.h5ad")
    """
    is_annotator = isinstance(model, Annotator)
    if unknown_threshold is None:
        unknown_threshold = model.settings["unknown_threshold"] if is_annotator else UNKNOWN_THRESHOLD
    check_thresholds(unknown_threshold)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of cells, not {chunk_size}.")
    with h5py.File(path, "r") as f:
        if is_annotator:
            reference_layer = model.settings["layer"]
            if layer is None and reference_layer is not None and f"layers/{reference_layer}" in f:
                layer = reference_layer
        else:
            layer = model.registry_["setup_args"].get("layer")
        key = "X" if layer is None else f"layers/{layer}"
        if key not in f:
            raise KeyError(f"{path} has no {key}, where the model reads its counts (the layer it was set up with).")
        n_cells = int(f[key].attrs["shape"][0] if isinstance(f[key], h5py.Group) else f[key].shape[0])
        if n_cells == 0:
            raise ValueError(f"{path} has no cells to annotate.")
        chunks = [slice(start, min(start + chunk_size, n_cells)) for start in range(0, n_cells, chunk_size)]
        matrix = RowChunkReader(f[key], chunks)  # stays on disk
        if is_annotator:
            predict_chunk = annotator_chunk_predictor(model, read_elem(f["var"]))
        else:
            predict_chunk = _chunk_predictor(model, f["obs"], read_elem(f["var"]), n_cells, chunk_size, layer)
        names = CellNameReader(f["obs"])

        def read_chunk(i: int) -> tuple:
            return matrix.read(i, chunks[i]), names.read(chunks[i])

        probabilities, obs_names = [], []
        # A second thread reads ahead: the counts and cell names of chunk i + 1 while the model predicts chunk i.
        with ThreadPoolExecutor(max_workers=1) as reader:
            next_chunk = reader.submit(read_chunk, 0)
            for i, rows in enumerate(chunks):
                counts, chunk_names = next_chunk.result()
                if i + 1 < len(chunks):
                    next_chunk = reader.submit(read_chunk, i + 1)
                probabilities.append(predict_chunk(rows, counts).astype(np.float32))
                obs_names.append(chunk_names)
        obs_names = pd.Index(np.concatenate(obs_names))
        probabilities = pd.concat(probabilities).set_axis(obs_names)
        obs = read_elem(f["obs"]) if annotated is not None else None
    classes = probabilities.columns
    values = probabilities.to_numpy()
    prediction = pd.Categorical(classes[values.argmax(1)], categories=classes)
    confidence = values.max(1)
    prediction = prediction.add_categories([UNKNOWN]) if UNKNOWN not in classes else prediction
    prediction[unknown_calls(confidence, unknown_threshold=unknown_threshold) | (confidence == 0)] = UNKNOWN
    prediction = prediction.remove_unused_categories()  # no "Unknown" (or type) that no cell has, in counts or legends
    columns = {keys.prediction_key(key_added): prediction, keys.confidence_key(key_added): confidence}
    table = pd.concat(
        [
            pd.DataFrame(columns, obs_names),
            probabilities.add_prefix("p_"),
        ],
        axis=1,
    )
    if predictions is not None:
        Path(predictions).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(predictions)
    if annotated is not None and obs is not None:
        obs[table.columns[:2]] = table.iloc[:, :2]
        _copy_with_obs(path, annotated, obs)
    return table


def _model_obs(model, obs: h5py.Group, n_cells: int) -> pd.DataFrame:
    """The columns of the file's ``obs`` the model reads, batch and covariates, and its labels column, all unlabelled.

    Only these columns are read. The model predicts the labels: a query's own labels column need not hold cell types
    the model knows (scvi-tools refuses a category it has not seen), and is not compared or sorted chunk after chunk.
    The index is the row number; the cells' names are read separately.
    """
    setup = model.registry_["setup_args"]
    keys = [
        setup.get("batch_key"),
        *(setup.get("categorical_covariate_keys") or []),
        *(setup.get("continuous_covariate_keys") or []),
    ]
    in_file = list(obs.attrs["column-order"])
    model_obs = pd.DataFrame({key: read_elem(obs[key]) for key in keys if key in in_file}, index=pd.RangeIndex(n_cells))
    if setup.get("labels_key") is not None:
        unlabelled = setup["unlabeled_category"]
        model_obs[setup["labels_key"]] = pd.Categorical.from_codes(np.zeros(n_cells, dtype=int), [unlabelled])
    return model_obs


def _chunk_predictor(
    model, obs: h5py.Group, var: pd.DataFrame, n_cells: int, chunk_size: int, layer: str | None
) -> Callable[[slice, np.ndarray | sp.spmatrix], pd.DataFrame]:
    """A function ``(rows, counts) -> probabilities`` (cells × cell types) for chunks of the file.

    A :class:`~celltyper.model.SemiSupervisedCountVAE` without covariates predicts the counts directly
    (:meth:`~celltyper.model.SemiSupervisedCountVAE.predict_counts`, the same checks and numbers as ``predict``
    without building and registering an AnnData per chunk, which took a quarter of the time); the file's genes must
    then be the model's, in its order. Any other model predicts each chunk as an in-memory AnnData.
    """
    model_obs = _model_obs(model, obs, n_cells)
    if isinstance(model, SemiSupervisedCountVAE) and not model._has_covariates():
        genes = model.registry_["field_registries"][REGISTRY_KEYS.X_KEY]["state_registry"]["column_names"]
        if not var.index.equals(pd.Index(genes)):
            raise ValueError(
                f"The file's {len(var)} genes are not the model's {len(genes)} genes in the model's order. Align the "
                "query first: celltyper.tl.align_genes(query, reference) gives it the reference's genes."
            )
        batch_key = model.registry_["setup_args"].get("batch_key")
        if batch_key is not None and batch_key not in model_obs:
            raise KeyError(f"The file's obs has no column {batch_key!r}, the batch_key the model was set up with.")
        batch = model_obs[batch_key] if batch_key is not None else None
        return lambda rows, counts: model.predict_counts(counts, None if batch is None else batch.iloc[rows], soft=True)
    names = pd.Index(np.arange(min(chunk_size, n_cells)).astype(str))

    def predict_as_anndata(rows: slice, counts) -> pd.DataFrame:
        chunk = ad.AnnData(
            X=counts if layer is None else None,
            layers={} if layer is None else {layer: counts},
            obs=model_obs.iloc[rows].set_axis(names[: rows.stop - rows.start]),  # AnnData's cell names are strings
            var=var,
        )
        probabilities = model.predict(chunk, soft=True)
        manager = model.get_anndata_manager(chunk)
        if manager is not None:  # scvi-tools models keep (the manager of) every AnnData they predicted: drop the chunk
            model._per_instance_manager_store[model.id].pop(manager.adata_uuid, None)
        return probabilities

    return predict_as_anndata


def _copy_with_obs(source: str | Path, target: str | Path, obs: pd.DataFrame) -> None:
    """Copy an ``.h5ad`` file byte for byte and replace its ``obs``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        del f["obs"]
        write_elem(f, "obs", obs)
