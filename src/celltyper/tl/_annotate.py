"""One call to annotate an AnnData with a saved or built-in annotator, as CellTypist's ``annotate``."""

from __future__ import annotations

import os
from pathlib import Path

from anndata import AnnData

from celltyper import _keys as keys

from ._annotate_query import Annotation
from ._annotator import Annotator
from ._threads import Threads


def resolve_annotator(model: Annotator | str | os.PathLike) -> Annotator:
    """``model`` itself, the annotator saved in the folder it names, or the built-in annotator of that name.

    Raises
    ------
    FileNotFoundError
        If ``model`` is neither a folder nor a built-in name (the message lists the built-in names).
    """
    if isinstance(model, Annotator):
        return model
    if not isinstance(model, str | os.PathLike):
        raise TypeError(f"model must be an Annotator, a folder or a built-in name, not a {type(model).__name__}.")
    if Path(model).is_dir():
        return Annotator.load(model)
    from celltyper import models

    if str(model) in models.available():
        return models.load(str(model))
    raise FileNotFoundError(
        f"{str(model)!r} is neither a folder holding a saved annotator nor a built-in model "
        f"({', '.join(models.available())}; see celltyper.models.available())."
    )


def annotate(
    adata: AnnData,
    model: Annotator | str | os.PathLike = "pbmc",
    *,
    layer: str | None = None,
    batch_key: str | None = None,
    majority_voting: bool = False,
    unknown_threshold: float | None = None,
    novelty_threshold: float | None = None,
    key_added: str = keys.KEY_ADDED,
    latent: bool | None = None,
    n_threads: Threads = "auto",
    progress_bar: bool = True,
    random_state: int = 0,
) -> Annotation:
    """Name every cell of ``adata`` with a saved or built-in annotator: ``ct.tl.annotate(adata, model="pbmc")``.

    The annotator's classifier, calibration, Unknown rule and reference profiles are used as they were fitted;
    nothing is trained but, when the annotator has a latent model, the mapping of ``adata``'s batches onto it.

    Parameters
    ----------
    adata
        Cells to annotate, with raw counts in ``layer`` (default: the reference's layer name if ``adata`` has it,
        else ``X``). Its ``X``, layers and ``var`` are not modified.
    model
        An :class:`~celltyper.tl.Annotator`, the folder one was saved in, or the name of a built-in one
        (:func:`celltyper.models.available`; default ``"pbmc"``).
    layer, batch_key, majority_voting, unknown_threshold, novelty_threshold, key_added, latent
        As in :meth:`~celltyper.tl.Annotator.annotate`.
    n_threads, progress_bar, random_state
        As in :func:`~celltyper.tl.transfer_labels`.

    Returns
    -------
    The :class:`~celltyper.tl.Annotation`. Writes ``obs[f"{key_added}_prediction"]``, ``_confidence``,
    ``_novelty`` (and with ``majority_voting`` ``_majority_voting``, ``_cluster``, ``_cluster_agreement``) and
    ``uns[key_added]``.

    Examples
    --------
    >>> ct.tl.annotate(adata, model="pbmc", majority_voting=True)
    >>> adata.obs["celltyper_majority_voting"].value_counts()
    """
    return resolve_annotator(model).annotate(
        adata,
        layer=layer,
        batch_key=batch_key,
        majority_voting=majority_voting,
        unknown_threshold=unknown_threshold,
        novelty_threshold=novelty_threshold,
        key_added=key_added,
        latent=latent,
        n_threads=n_threads,
        progress_bar=progress_bar,
        random_state=random_state,
    )
