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
"""

from __future__ import annotations

import torch
from scvi import REGISTRY_KEYS
from scvi.model.base._archesmixin import _get_loaded_data


def reference_registry(reference_model, adata=None) -> dict:
    """The scvi-tools registry of a reference model (an instance, or the folder it was saved to)."""
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
    if getattr(module, "dispersion", None) != "gene-batch" or module.px_r.shape[1] <= n_reference_batches:
        return
    module.px_r.requires_grad_(True)

    def keep_new_columns(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:, :n_reference_batches] = 0
        return grad

    module.px_r.register_hook(keep_new_columns)
