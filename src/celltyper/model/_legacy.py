"""One-time conversion of a model folder saved by earlier celltyper versions (scvi-tools' pickled ``model.pt``).

``model.pt`` is a torch zip checkpoint whose ``data.pkl`` is a pickle: unpickling it can call any function the file
names. :func:`convert_legacy_model` unpickles it with :class:`_RestrictedUnpickler`, which resolves only the globals
in :data:`ALLOWED_GLOBALS` (what tensors, numpy arrays and the pandas tables of ``history_`` are rebuilt from) and
stops at any other with an error. ``torch.load(weights_only=True)`` cannot read these files even with an allowlist:
scvi-tools' registry holds a ``collections.defaultdict``, which torch's weights-only unpickler refuses to fill.
"""

from __future__ import annotations

import collections
import os
import pickle
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas._libs.internals import _unpickle_block
from pandas.core.indexes.base import _new_Index
from pandas.core.internals.managers import BlockManager

from ._model_files import CONVERTED_LEGACY_FILE, LEGACY_FILE, MODEL_FILE, add_model_files

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]


#: The classes whose old folders the conversion reads (names as scvi-tools' registry records them).
CELLTYPER_MODELS = ("CountVAE", "SemiSupervisedCountVAE", "CellTypeTransformer")


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """Pickle protocol 2 writes ``bytes`` as ``_codecs.encode(text, "latin1")``; only that call is allowed."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode({type(text).__name__}, {encoding!r}) is not allowed")
    return text.encode("latin1")


#: The only globals the unpickler resolves, by the name a pickle gives them (numpy 1 and 2 name ``_reconstruct``
#: differently). Torch's storages are resolved by torch itself, to a storage type, never to code.
ALLOWED_GLOBALS: dict[str, Any] = {
    "_codecs.encode": _latin1_bytes,
    "collections.OrderedDict": collections.OrderedDict,
    "collections.defaultdict": collections.defaultdict,
    "builtins.dict": dict,
    "builtins.bytes": bytes,
    "builtins.slice": slice,
    "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
    "numpy.core.multiarray._reconstruct": _reconstruct,
    "numpy._core.multiarray._reconstruct": _reconstruct,
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    **{
        f"numpy.dtypes.{type(np.dtype(code)).__name__}": type(np.dtype(code))
        for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "U", "O")
    },
    "pandas.core.frame.DataFrame": pd.DataFrame,
    "pandas.core.indexes.base.Index": pd.Index,
    "pandas.core.indexes.base._new_Index": _new_Index,
    "pandas.core.indexes.range.RangeIndex": pd.RangeIndex,
    "pandas.core.internals.managers.BlockManager": BlockManager,
    "pandas._libs.internals._unpickle_block": _unpickle_block,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that builds only objects of :data:`ALLOWED_GLOBALS` (Python's documented way to restrict one)."""

    def find_class(self, module: str, name: str) -> Any:
        """The allowed global ``module.name``; an ``UnpicklingError`` for any other."""
        qualified = f"{'builtins' if module == '__builtin__' else module}.{name}"  # protocol 2's name for builtins
        if qualified not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"{qualified} is not among the types a celltyper model file may hold")
        return ALLOWED_GLOBALS[qualified]


class _RestrictedPickleModule(types.ModuleType):
    """A stand-in for the ``pickle`` module, for ``torch.load(pickle_module=...)``, whose unpickler is restricted."""

    Unpickler = _RestrictedUnpickler

    @staticmethod
    def load(file, **kwargs) -> Any:
        """Unpickle one object from ``file`` with the restricted unpickler."""
        return _RestrictedUnpickler(file, **kwargs).load()


def _restricted_pickle_module() -> types.ModuleType:
    """:class:`_RestrictedPickleModule`, named as a module."""
    return _RestrictedPickleModule("celltyper_restricted_pickle")


def convert_legacy_model(dir_path: str | os.PathLike, *, trust: bool = False) -> Path:
    """Convert a model folder saved by an earlier celltyper (a pickled ``model.pt``) to the safe format, once.

    ``model.pt`` is read with a restricted unpickler that builds only tensors, numpy arrays, dicts and the pandas
    tables of the training history, and stops at anything else (such as a function call planted in the file) with an
    error; the file is never unpickled without that restriction. The folder then holds ``model.safetensors`` and
    ``model.json`` and ``model.pt`` is renamed ``model.pt.legacy``; ``adata.h5ad`` stays as it is.

    Parameters
    ----------
    dir_path
        The folder holding ``model.pt``.
    trust
        Must be ``True``: you confirm that the file comes from a source you trust (the allowlist closes the known
        ways a pickle runs code, but the old format was never meant to be read from untrusted sources).

    Returns
    -------
    The folder, which ``Model.load`` now reads.

    Raises
    ------
    ValueError
        Without ``trust=True``; if the file needs an object outside the allowlist (nothing is written then); if it is
        truncated or not a torch checkpoint.

    Examples
    --------
    >>> import celltyper as ct
    >>> ct.model.convert_legacy_model("reference_model/", trust=True)
    >>> model = ct.CellTypeTransformer.load("reference_model/")
    """
    path = Path(dir_path)
    legacy = path / LEGACY_FILE
    if not trust:
        raise ValueError(
            f"convert_legacy_model reads the pickle {legacy} (with a restricted unpickler); pass trust=True to "
            "confirm that it comes from a source you trust."
        )
    if not legacy.is_file():
        if (path / MODEL_FILE).is_file():
            raise FileNotFoundError(f"{path} holds a model in the current format already ({MODEL_FILE}).")
        raise FileNotFoundError(f"{legacy} does not exist.")
    if not zipfile.is_zipfile(legacy):
        raise ValueError(f"{legacy} is not a torch zip checkpoint (truncated, damaged, or from torch < 1.6).")
    try:
        content = torch.load(legacy, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module())
    except pickle.UnpicklingError as error:
        raise ValueError(f"{legacy} was not converted: {error}. Nothing in it was run or written.") from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(
            f"{legacy} is not a readable torch checkpoint ({error}); it is truncated or damaged."
        ) from error
    state_dict, var_names, attributes = _legacy_parts(content, legacy)
    add_model_files(
        path,
        model_class=attributes["registry_"]["model_name"],
        state_dict=state_dict,
        var_names=pd.Index(var_names),
        attributes=attributes,
    )
    os.replace(legacy, path / CONVERTED_LEGACY_FILE)
    return path


def _legacy_parts(content: Any, legacy: Path) -> tuple[dict[str, torch.Tensor], np.ndarray, dict[str, Any]]:
    """The state dict, genes and attributes of an unpickled scvi-tools ``model.pt``, checked."""
    if not isinstance(content, dict) or not {"model_state_dict", "var_names", "attr_dict"} <= set(content):
        raise ValueError(f"{legacy} is not a scvi-tools model file (no model_state_dict, var_names and attr_dict).")
    state_dict = dict(content["model_state_dict"])
    pyro_store = state_dict.pop("pyro_param_store", None)
    if pyro_store is not None and any(pyro_store.get(key) for key in ("params", "constraints")):
        raise ValueError(f"{legacy} holds Pyro parameters, which no celltyper model has.")
    if not all(isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in state_dict.items()):
        raise ValueError(f"{legacy}: the model_state_dict holds something other than named tensors.")
    var_names, attributes = content["var_names"], content["attr_dict"]
    if not isinstance(var_names, np.ndarray) or var_names.ndim != 1:
        raise ValueError(f"{legacy}: var_names is not a one-dimensional array (a MuData model?).")
    registry = attributes.get("registry_") if isinstance(attributes, dict) else None
    if not isinstance(registry, dict) or not isinstance(registry.get("model_name"), str):
        raise ValueError(f"{legacy}: the attributes hold no registry_ naming the model class.")
    if registry["model_name"] not in CELLTYPER_MODELS:
        raise ValueError(
            f"{legacy} holds a {registry['model_name']}, not a celltyper model ({', '.join(CELLTYPER_MODELS)}); load "
            "it with the package that saved it."
        )
    return state_dict, var_names, attributes
