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
celltyper's safe model folder instead and hands scvi-tools a :class:`SavedReference`. :class:`QueryMappingMixin` is
scvi-tools' ``ArchesMixin`` with these fixes applied, for the VAEs.
"""

from __future__ import annotations

import copy
import os
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.model.base import ArchesMixin, BaseModelClass
from scvi.model.base._archesmixin import _get_loaded_data

from ._genes import in_model_gene_order
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


class QueryMappingMixin(ArchesMixin):
    """scvi-tools' scArches surgery with the fixes above; a saved reference folder is read without unpickling."""

    @classmethod
    def load_query_data(
        cls, adata: AnnData | None = None, reference_model: BaseModelClass | str | os.PathLike | None = None, **kwargs
    ) -> Self:
        """Query mapping by scArches surgery (:meth:`scvi.model.base.ArchesMixin.load_query_data`), with fixes.

        On top of scvi-tools' surgery, the dispersion columns of the query's new batches learn when
        ``dispersion="gene-batch"`` (scvi-tools freezes them), and a reference with categorical covariates is refused
        when the query brings new batches (scvi-tools would misalign the covariate weights).
        Train the returned model with ``plan_kwargs={"weight_decay": 0.0}``: weight decay would otherwise shrink the
        frozen reference weights whose gradients the surgery zeroes.

        Parameters
        ----------
        adata
            Query AnnData with the reference's genes (matched by name; extra genes are left out, missing ones are read
            as zero counts, as scvi-tools' ``prepare_query_anndata`` pads them; fewer than a quarter of them is an
            error) and the reference's ``batch_key`` column. In another gene order, or with genes missing, the
            returned model holds a copy of it on the reference's genes.
        reference_model
            A trained model of this class, or the folder it was saved to (read without unpickling).
        **kwargs
            Passed to :meth:`scvi.model.base.ArchesMixin.load_query_data` (``unfrozen``, ``freeze_*`` …).
        """
        reference = reference_model_of(reference_model, cls)
        if adata is not None:
            layer = reference_registry(reference, None)["setup_args"].get("layer")
            adata = in_model_gene_order(adata, pd.Index(reference.get_var_names()), "the query", layer)
        registry = reference_registry(reference, adata)
        batch_key = registry["setup_args"].get("batch_key")
        if adata is not None and batch_key is not None:
            check_no_covariate_misalignment(registry, adata.obs[batch_key].unique())
        model = super().load_query_data(adata, reference, **kwargs)
        if not kwargs.get("unfrozen", False):
            n_reference_batches = registry["field_registries"]["batch"]["summary_stats"]["n_batch"]
            unfreeze_new_batch_dispersion(model.module, n_reference_batches)
        return model

    @classmethod
    def prepare_query_anndata(
        cls,
        adata: AnnData,
        reference_model: BaseModelClass | str | os.PathLike,
        return_reference_var_names: bool = False,
        inplace: bool = True,
    ) -> AnnData | pd.Index | None:
        """scvi-tools' :meth:`~scvi.model.base.ArchesMixin.prepare_query_anndata`, reading a saved folder safely.

        Parameters
        ----------
        adata
            Query AnnData: missing reference genes are added as zeros, extra ones dropped, the rest put in the
            reference's order.
        reference_model
            A trained model of this class, or the folder it was saved to (read without unpickling).
        return_reference_var_names
            Only return the reference's genes.
        inplace
            Change ``adata`` in place (else return the prepared copy).

        Returns
        -------
        The reference's genes with ``return_reference_var_names``, else the prepared copy unless ``inplace``.
        """
        return super().prepare_query_anndata(
            adata, reference_model_of(reference_model, cls), return_reference_var_names, inplace
        )

    @classmethod
    def prepare_query_mudata(cls, *args, **kwargs) -> None:
        """Not supported: celltyper models read AnnData (see :meth:`prepare_query_anndata`).

        Raises
        ------
        NotImplementedError
            Always (scvi-tools' version would unpickle a saved reference folder).
        """
        raise NotImplementedError(
            f"{cls.__name__} reads AnnData, not MuData: use {cls.__name__}.prepare_query_anndata."
        )
