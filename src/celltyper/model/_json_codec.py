"""An explicit JSON encoding of the few Python types a saved model's metadata holds, and nothing else.

scvi-tools pickles a model's registry, ``__init__`` arguments and history, so loading a shared model file can run any
code the file holds. celltyper writes them as JSON instead, with a tag for each type JSON lacks:

=====================  ==============================================================================================
value                  JSON
=====================  ==============================================================================================
None, bool, int, str   themselves
float                  a number; NaN and ±inf as ``{"__type__": "float", "value": "nan" | "inf" | "-inf"}``
list                   a list
tuple                  ``{"__type__": "tuple", "items": [...]}``
dict                   an object when every key is a string other than ``"__type__"``, else
                       ``{"__type__": "dict", "items": [[key, value], ...]}``
numpy scalar           ``{"__type__": "numpy_scalar", "dtype": "<i8", "value": ...}``
numpy array            ``{"__type__": "ndarray", "dtype": "<f4", "shape": [...], "data": [...]}`` (bool, integer,
                       float, fixed-width unicode, or object arrays of the values above)
pandas Index           ``{"__type__": "Index", "name": ..., "values": <ndarray>}`` (a plain or range index)
pandas DataFrame       ``{"__type__": "DataFrame", "index": <Index>, "columns": <Index>, "data": [<ndarray>, ...]}``
                       (columns of numpy dtypes)
=====================  ==============================================================================================

:func:`encode` refuses any other type with a ``TypeError`` and :func:`decode` refuses anything it did not write with a
``ValueError``, so decoding builds plain data and never calls code named by the file.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd

TAG = "__type__"
#: numpy dtype kinds an array or scalar may have: bool, signed / unsigned integer, float, unicode, object.
ARRAY_KINDS = frozenset("biufUO")
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode(value: Any, where: str = "value") -> Any:
    """``value`` as JSON-serialisable data; ``where`` names it in the ``TypeError`` raised for an unsupported type."""
    if value is None or isinstance(value, bool | int | str) and not isinstance(value, np.generic):
        return value
    if isinstance(value, float) and not isinstance(value, np.generic):
        return value if math.isfinite(value) else {TAG: "float", "value": _nonfinite_name(value)}
    if isinstance(value, list):
        return [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and TAG not in value:
            return {key: encode(item, f"{where}[{key!r}]") for key, item in value.items()}
        return {TAG: "dict", "items": [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
    if isinstance(value, np.generic):
        dtype = _checked_dtype(value.dtype, where)
        return {TAG: "numpy_scalar", "dtype": dtype.str, "value": encode(value.item(), where)}
    if isinstance(value, np.ndarray):
        dtype = _checked_dtype(value.dtype, where)
        data = [encode(item, f"{where}[{i}]") for i, item in enumerate(value.ravel().tolist())]
        return {TAG: "ndarray", "dtype": dtype.str, "shape": list(value.shape), "data": data}
    if type(value) in (pd.Index, pd.RangeIndex):
        return {TAG: "Index", "name": encode(value.name, f"{where}.name"), "values": encode(value.to_numpy(), where)}
    if type(value) is pd.DataFrame:
        columns = [value.iloc[:, i].to_numpy() for i in range(value.shape[1])]
        for name, dtype in value.dtypes.items():
            if not isinstance(dtype, np.dtype):
                raise TypeError(f"Cannot save {where}: column {name!r} has the pandas dtype {dtype}.")
        return {
            TAG: "DataFrame",
            "index": encode(value.index, f"{where}.index"),
            "columns": encode(value.columns, f"{where}.columns"),
            "data": [encode(column, f"{where}[{name!r}]") for name, column in zip(value.columns, columns, strict=True)],
        }
    raise TypeError(
        f"Cannot save {where} of type {type(value).__module__}.{type(value).__qualname__}: model files hold only "
        "None, bool, int, float, str, lists, tuples, dicts, numpy arrays and scalars, pandas Index and DataFrame."
    )


def decode(data: Any, where: str = "value") -> Any:
    """The value :func:`encode` turned into ``data``; a ``ValueError`` naming ``where`` for anything else."""
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [decode(item, f"{where}[{i}]") for i, item in enumerate(data)]
    if not isinstance(data, dict):
        raise ValueError(f"{where}: unexpected JSON value of type {type(data).__name__}.")
    if TAG not in data:
        return {key: decode(item, f"{where}[{key!r}]") for key, item in data.items()}
    tag = data[TAG]
    decoder = _DECODERS.get(tag) if isinstance(tag, str) else None
    if decoder is None:
        raise ValueError(f"{where}: unknown type tag {tag!r}; this file was not written by celltyper.")
    fields = _FIELDS[tag]
    if set(data) != {TAG, *fields}:
        raise ValueError(f"{where}: a {tag!r} entry must have exactly the fields {sorted(fields)}, not {sorted(data)}.")
    return decoder(data, where)


def _nonfinite_name(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _checked_dtype(dtype: np.dtype, where: str) -> np.dtype:
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise TypeError(f"Cannot save {where}: numpy dtype {dtype} is not one of bool, integer, float, str or object.")
    return dtype


def _dtype(name: Any, where: str) -> np.dtype:
    if not isinstance(name, str):
        raise ValueError(f"{where}: the dtype must be a string, not {name!r}.")
    try:
        dtype = np.dtype(name)
    except TypeError as error:
        raise ValueError(f"{where}: {name!r} is not a numpy dtype.") from error
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"{where}: numpy dtype {name!r} is not one of bool, integer, float, str or object.")
    return dtype


def _decode_float(data: dict, where: str) -> float:
    if data["value"] not in _NONFINITE:
        raise ValueError(f"{where}: a tagged float must be 'nan', 'inf' or '-inf', not {data['value']!r}.")
    return _NONFINITE[data["value"]]


def _decode_items(data: dict, where: str) -> list:
    items = data["items"]
    if not isinstance(items, list):
        raise ValueError(f"{where}: 'items' must be a list.")
    return items


def _decode_tuple(data: dict, where: str) -> tuple:
    return tuple(decode(item, f"{where}[{i}]") for i, item in enumerate(_decode_items(data, where)))


def _decode_dict(data: dict, where: str) -> dict:
    pairs = _decode_items(data, where)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise ValueError(f"{where}: the items of a dict must be [key, value] pairs.")
    result = {}
    for key, value in pairs:
        key = decode(key, where)
        try:
            result[key] = decode(value, f"{where}[{key!r}]")
        except TypeError as error:  # an unhashable key
            raise ValueError(f"{where}: the key {key!r} cannot be a dict key.") from error
    return result


def _decode_scalar(data: dict, where: str) -> np.generic:
    dtype = _dtype(data["dtype"], where)
    value = decode(data["value"], where)
    if dtype.kind == "O" or not isinstance(value, bool | int | float | str):
        raise ValueError(f"{where}: a numpy scalar of dtype {dtype} cannot hold {value!r}.")
    try:
        return cast(np.generic, np.array(value, dtype=dtype)[()])  # a 0-d array indexed by () is a scalar
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{where}: {value!r} is not a {dtype} value.") from error


def _decode_ndarray(data: dict, where: str) -> np.ndarray:
    dtype = _dtype(data["dtype"], where)
    shape, values = data["shape"], data["data"]
    if not (isinstance(shape, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise ValueError(f"{where}: the shape must be a list of non-negative integers, not {shape!r}.")
    if not isinstance(values, list) or len(values) != math.prod(shape):
        raise ValueError(f"{where}: an array of shape {shape} needs {math.prod(shape)} values.")
    items = [decode(value, f"{where}[{i}]") for i, value in enumerate(values)]
    try:
        if dtype.kind == "O":
            array = np.empty(len(items), dtype=object)
            array[:] = items
        else:
            if not all(isinstance(item, bool | int | float | str) for item in items):
                raise ValueError(f"{where}: an array of dtype {dtype} holds only numbers or strings.")
            array = np.array(items, dtype=dtype)
    except (TypeError, OverflowError) as error:
        raise ValueError(f"{where}: the values do not fit dtype {dtype}.") from error
    return array.reshape(shape)


def _decode_index(data: dict, where: str) -> pd.Index:
    values = decode(data["values"], where)
    if not isinstance(values, np.ndarray) or values.ndim != 1:
        raise ValueError(f"{where}: the values of an Index must be a one-dimensional array.")
    name = decode(data["name"], f"{where}.name")
    if not (name is None or isinstance(name, str | int | float)):
        raise ValueError(f"{where}: an Index name must be None, a string or a number.")
    return pd.Index(values, name=name, dtype=values.dtype)


def _decode_dataframe(data: dict, where: str) -> pd.DataFrame:
    index = decode(data["index"], f"{where}.index")
    columns = decode(data["columns"], f"{where}.columns")
    values = decode(data["data"], where)
    if not (isinstance(index, pd.Index) and isinstance(columns, pd.Index)):
        raise ValueError(f"{where}: the index and the columns of a DataFrame must be Index entries.")
    if len(values) != len(columns) or any(
        not isinstance(column, np.ndarray) or column.shape != (len(index),) for column in values
    ):
        raise ValueError(f"{where}: a DataFrame needs one array of {len(index)} values per column.")
    frame = pd.DataFrame(dict(enumerate(values)), index=index)
    frame.columns = columns
    return frame


_DECODERS = {
    "float": _decode_float,
    "tuple": _decode_tuple,
    "dict": _decode_dict,
    "numpy_scalar": _decode_scalar,
    "ndarray": _decode_ndarray,
    "Index": _decode_index,
    "DataFrame": _decode_dataframe,
}
_FIELDS = {
    "float": ("value",),
    "tuple": ("items",),
    "dict": ("items",),
    "numpy_scalar": ("dtype", "value"),
    "ndarray": ("dtype", "shape", "data"),
    "Index": ("name", "values"),
    "DataFrame": ("index", "columns", "data"),
}
