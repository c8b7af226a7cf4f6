"""The reference's latent space for label transfer: a CountVAE trained on the reference, the query mapped by scArches.

The latent model gives every query cell a position next to the reference's cells (``obsm["X_celltyper"]``). It is
trained for a budget of cells seen rather than a fixed number of epochs, so that its time grows no faster than the
data (``docs/transfer.md``, *Speed*).
"""

from __future__ import annotations

import os

import numpy as np
from anndata import AnnData

from celltyper._keys import UNKNOWN
from celltyper.model import CountVAE, SemiSupervisedCountVAE

from ._classifiers import BATCH, LABELS

#: Cells passed through the model in reference training and in query mapping when no epoch count is given.
REFERENCE_CELL_BUDGET, QUERY_CELL_BUDGET = 60_000, 30_000
#: Minibatch size of both: larger minibatches use two CPU cores better than scvi-tools' 128 (docs/transfer.md).
BATCH_SIZE = 256


def epochs_for(n_cells: int, cell_budget: int, min_epochs: int, max_epochs: int = 50) -> int:
    """Epochs that pass about ``cell_budget`` cells through the model, between ``min_epochs`` and ``max_epochs``."""
    return int(np.clip(round(cell_budget / max(n_cells, 1)), min_epochs, max_epochs))


def _train_kwargs(train_kwargs: dict | None) -> dict:
    defaults = {"enable_progress_bar": False, "batch_size": BATCH_SIZE, "check_val_every_n_epoch": None}
    return {**defaults, **(train_kwargs or {})}


def train_reference_model(
    reference: AnnData,
    model_kwargs: dict | None = None,
    max_epochs: int | None = None,
    train_kwargs: dict | None = None,
    *,
    semi_supervised: bool = True,
) -> CountVAE:
    """A CountVAE (``semi_supervised``: with a classifier q(y | z)) trained on ``reference`` (counts in ``X``).

    The batch of each cell is ``obs[BATCH]``, its label ``obs[LABELS]`` (``"Unknown"``: unlabelled); the batch is given
    to encoder and decoder (``encode_covariates``) so that query batches can be mapped later.
    """
    kwargs = {"encode_covariates": True, "n_latent": 20, **(model_kwargs or {})}
    if semi_supervised:
        SemiSupervisedCountVAE.setup_anndata(reference, labels_key=LABELS, unlabeled_category=UNKNOWN, batch_key=BATCH)
        model = SemiSupervisedCountVAE(reference, **kwargs)
    else:
        CountVAE.setup_anndata(reference, batch_key=BATCH)
        model = CountVAE(reference, **kwargs)
    epochs = max_epochs or epochs_for(reference.n_obs, REFERENCE_CELL_BUDGET, min_epochs=5)
    model.train(max_epochs=epochs, **_train_kwargs(train_kwargs))
    return model


def map_query(
    reference_model: CountVAE | str | os.PathLike,
    query: AnnData,
    max_epochs: int | None = None,
    train_kwargs: dict | None = None,
) -> CountVAE:
    """scArches: the reference model with new batch slots for the query's batches, only those trained on ``query``.

    ``reference_model`` is a trained model, or the folder a :class:`~celltyper.CountVAE` was saved in. Everything the
    reference's cells pass through stays as it was (the decoder's batch norm included), and weight decay is off so
    that the frozen weights do not shrink.
    """
    if isinstance(reference_model, SemiSupervisedCountVAE):
        query.obs[LABELS] = UNKNOWN
    model_class = type(reference_model) if isinstance(reference_model, CountVAE) else CountVAE
    model = model_class.load_query_data(query, reference_model, freeze_batchnorm_decoder=True)
    epochs = max_epochs or epochs_for(query.n_obs, QUERY_CELL_BUDGET, min_epochs=3)
    train_kwargs = _train_kwargs(train_kwargs)
    if isinstance(model, SemiSupervisedCountVAE):
        model.train(max_epochs=epochs, weight_decay=0.0, train_size=1.0, **train_kwargs)
    else:
        plan_kwargs = {"weight_decay": 0.0, **train_kwargs.pop("plan_kwargs", {})}
        model.train(max_epochs=epochs, train_size=1.0, plan_kwargs=plan_kwargs, **train_kwargs)
    return model
