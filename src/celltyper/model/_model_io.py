"""``save`` and ``load`` of every celltyper model, through :mod:`._model_files` instead of scvi-tools' pickle.

scvi-tools 1.4.2's ``BaseModelClass.save`` pickles the model's attributes into ``model.pt`` and ``load`` unpickles it
with ``torch.load(weights_only=False)``: a shared model file could run any code on load. :class:`SafeModelIOMixin`
keeps the same calls (``model.save(dir, overwrite=..., save_anndata=...)``, ``Model.load(dir, adata=...)``) and the same
steps as scvi-tools' ``load`` (set up the AnnData with the saved registry, rebuild the model from its ``init_params_``,
load the weights), on files that hold only tensors and JSON. The other inherited methods that read a saved folder
(``load_registry``, ``view_setup_args``, ``convert_legacy_save``) are replaced too, so that none of them unpickles.
"""

from __future__ import annotations

import os

from anndata import AnnData
from scvi.data import AnnDataManager
from scvi.model._utils import parse_device_args
from scvi.model.base._save_load import _initialize_model

from ._genes import in_model_gene_order
from ._model_files import MODEL_FILE, read_model_dir, write_model_dir

_SETUP_METHOD = "setup_anndata"


class SafeModelIOMixin:
    """``save`` / ``load`` as safetensors + JSON; list it first among a model's base classes."""

    #: Attributes that folders saved by an earlier celltyper hold and this version derives instead: ``load`` skips
    #: them, so that they are neither set on the model nor saved again.
    _retired_attributes: frozenset[str] = frozenset()

    def save(
        self,
        dir_path: str | os.PathLike,
        overwrite: bool = False,
        save_anndata: bool = False,
        **anndata_write_kwargs,
    ) -> None:
        """Save the model to the folder ``dir_path``: weights as safetensors, everything else as JSON.

        The folder is written next to ``dir_path`` and then renamed, so an interrupted save never leaves a
        half-written model. The optimizer state is not saved.

        Parameters
        ----------
        dir_path
            Folder to write (created with its parents).
        overwrite
            Replace a model already saved there (a folder holding anything but model files is never replaced).
        save_anndata
            Also save the model's AnnData as ``adata.h5ad``, so that :meth:`load` needs no data.
        **anndata_write_kwargs
            Passed to :meth:`anndata.AnnData.write_h5ad` (e.g. ``compression="gzip"``).
        """
        write_model_dir(
            dir_path,
            model_class=type(self).__name__,
            state_dict=self.module.state_dict(),
            var_names=self.adata.var_names,
            attributes={name: value for name, value in self._get_user_attributes() if name.endswith("_")},
            adata=self.adata if save_anndata else None,
            overwrite=overwrite,
            **anndata_write_kwargs,
        )

    @classmethod
    def load(
        cls,
        dir_path: str | os.PathLike,
        adata: AnnData | None = None,
        accelerator: str = "auto",
        device: int | str = "auto",
    ):
        """A model saved with :meth:`save`; nothing in the folder is unpickled.

        Parameters
        ----------
        dir_path
            The saved folder.
        adata
            The data to attach the model to, set up like the training data (default: the ``adata.h5ad`` saved with
            the model). Its genes are matched to the model's by ``var_names``: in another order, or with extra
            genes, the model reads a reordered copy; missing genes are an error.
        accelerator, device
            Where to put the model (Lightning's names, e.g. ``accelerator="cpu"``).

        Raises
        ------
        ValueError
            If the folder holds scvi-tools' pickled ``model.pt`` (convert it once with
            :func:`celltyper.model.convert_legacy_model`), a truncated or changed file, a model of another class
            or with settings this version cannot build, or if ``adata`` has fewer than a quarter of the model's genes
            (missing ones are read as zero counts).
        """
        saved = read_model_dir(dir_path)
        saved.check_class(cls)
        _, _, torch_device = parse_device_args(
            accelerator=accelerator, devices=device, return_device="torch", validate_single_device=True
        )
        attributes = {name: value for name, value in saved.attributes.items() if name not in cls._retired_attributes}
        registry = attributes.pop("registry_")
        setup_args = registry.get("setup_args")
        if registry.get("setup_method_name", _SETUP_METHOD) != _SETUP_METHOD or not isinstance(setup_args, dict):
            raise ValueError(f"{saved.path}: the saved registry must come from {cls.__name__}.{_SETUP_METHOD}.")
        adata = saved.read_anndata() if adata is None else adata
        adata = in_model_gene_order(adata, saved.var_names, layer=setup_args.get("layer"))
        try:
            cls.setup_anndata(adata, source_registry=registry, **setup_args)
            model = _initialize_model(cls, adata, registry, attributes, None)
        except (TypeError, AttributeError) as error:  # settings of another version, or edited by hand
            raise ValueError(
                f"{saved.path / MODEL_FILE} does not describe a {cls.__name__} this celltyper can build ({error}); "
                "save the model again with this version."
            ) from error
        model.module.on_load(model)
        saved.load_weights(model.module)
        model.to_device(torch_device)
        model.module.eval()
        model._validate_anndata(adata)
        return model

    @staticmethod
    def load_registry(dir_path: str | os.PathLike) -> dict:
        """The scvi-tools registry saved with the model in ``dir_path`` (read without unpickling).

        Parameters
        ----------
        dir_path
            The saved folder.

        Returns
        -------
        The registry: ``setup_method_name``, ``setup_args``, ``field_registries``, …
        """
        return read_model_dir(dir_path).attributes["registry_"]

    @staticmethod
    def view_setup_args(dir_path: str | os.PathLike) -> None:
        """Print the arguments ``setup_anndata`` was called with for the model saved in ``dir_path``.

        Parameters
        ----------
        dir_path
            The saved folder.
        """
        AnnDataManager.view_setup_method_args(SafeModelIOMixin.load_registry(dir_path))

    @classmethod
    def convert_legacy_save(cls, *args, **kwargs) -> None:
        """Not supported: scvi-tools' conversion unpickles the folder it reads.

        Raises
        ------
        NotImplementedError
            Always; a folder saved by an earlier celltyper is converted with
            :func:`celltyper.model.convert_legacy_model`.
        """
        raise NotImplementedError(
            f"{cls.__name__}.convert_legacy_save would unpickle the folder it reads; convert a folder saved by an "
            "earlier celltyper with celltyper.model.convert_legacy_model(dir_path, trust=True)."
        )
