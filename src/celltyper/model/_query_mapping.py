"""What scvi-tools 1.4.2's scArches surgery (``ArchesMixin.load_query_data``) gets wrong for celltyper's modules.

``load_query_data`` appends columns for the query's new batches to every tensor that grew, then freezes every
parameter that is not the first ``Linear`` of an ``FCLayers`` (whose gradient hooks let only the covariate columns
learn). Two consequences for :class:`~celltyper.module.CountVAEModule`:

- With ``dispersion="gene-batch"`` the dispersion ``px_r`` (genes × batches) grows a column per new batch, but is
  frozen like everything else, so the new batches keep the fresh initialisation (θ = 1) for good.
  :func:`unfreeze_new_batch_dispersion` lets exactly those new columns learn.
- With extra categorical covariates, the new batch columns are appended *after* the covariate columns of each
  first layer, so the reference's covariate weights are read as batch weights and vice versa.
  :func:`check_no_covariate_misalignment` refuses that case.

And given a folder, ``load_query_data`` reads scvi-tools' pickled ``model.pt``; :func:`reference_model_of` reads
celltyper's safe model folder instead and hands scvi-tools a :class:`SavedReference`.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np
import torch
from scvi import REGISTRY_KEYS
from scvi.model.base import BaseModelClass
from scvi.model.base._archesmixin import _get_loaded_data

from ._model_files import SavedModel, read_model_dir


class SavedReference:
    """A saved model folder in the shape ``ArchesMixin.load_query_data`` reads a reference *instance* in.

    scvi-tools reads a reference instance through ``_get_user_attributes()``, ``get_var_names()`` and
    ``module.state_dict()``; this answers those three from a :class:`~._model_files.SavedModel` (each call a copy,
    as a live model's would be), so a reference needs neither its training data nor unpickling.
    """

    def __init__(self, saved: SavedModel) -> None:
        self._saved = saved
        self.module = self  # scvi-tools calls reference_model.module.state_dict()

    def _get_user_attributes(self) -> list[tuple[str, Any]]:
        return list(copy.deepcopy(self._saved.attributes).items())

    def get_var_names(self) -> np.ndarray:
        """The reference's genes, in its order."""
        return self._saved.var_names.to_numpy(dtype=str)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the reference's tensors."""
        return {name: tensor.clone() for name, tensor in self._saved.state_dict.items()}


def reference_model_of(
    reference_model: BaseModelClass | str | os.PathLike, cls: type[BaseModelClass]
) -> BaseModelClass | SavedReference:
    """``reference_model`` itself if it is a model, else the folder it names read as a :class:`SavedReference`.

    A folder must hold a model of class ``cls`` (else a ``ValueError``); nothing in it is unpickled.
    """
    if not isinstance(reference_model, str | os.PathLike):
        return reference_model
    saved = read_model_dir(reference_model)
    saved.check_class(cls)
    return SavedReference(saved)


def reference_registry(reference_model, adata=None) -> dict:
    """The scvi-tools registry of a reference model (an instance, or a :class:`SavedReference`)."""
    attr_dict, _, _, _ = _get_loaded_data(reference_model, device="cpu", adata=adata)
    return attr_dict["registry_"]


def _batch_mapping(registry: dict) -> list:
    return list(registry["field_registries"][REGISTRY_KEYS.BATCH_KEY]["state_registry"]["categorical_mapping"])


def check_no_covariate_misalignment(registry: dict, query_batches) -> None:
    """Raise if the reference has categorical covariates and the query brings batches the reference lacks."""
    cat_covs = registry["field_registries"].get(REGISTRY_KEYS.CAT_COVS_KEY, {}).get("state_registry", {})
    has_covariates = bool(cat_covs.get("field_keys"))
    new_batches = sorted(set(map(str, query_batches)) - set(map(str, _batch_mapping(registry))))
    if has_covariates and new_batches:
        raise ValueError(
            f"The reference model has categorical covariates {list(cat_covs['field_keys'])} and the query brings "
            f"{len(new_batches)} new batch(es) ({new_batches[:3]}…). scvi-tools 1.4.2's surgery would append the new "
            "batch weights after the covariate weights and misalign them. Train the reference without "
            "categorical_covariate_keys (or fold them into batch_key) to map queries."
        )


def unfreeze_new_batch_dispersion(module: torch.nn.Module, n_reference_batches: int) -> None:
    """Let the dispersion columns of the query's new batches learn while the reference's stay as they are."""
    if getattr(module, "dispersion", None) != "gene-batch":
        return
    px_r = module.get_parameter("px_r")
    if px_r.shape[1] <= n_reference_batches:
        return
    px_r.requires_grad_(True)

    def keep_new_columns(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:, :n_reference_batches] = 0
        return grad

    px_r.register_hook(keep_new_columns)
