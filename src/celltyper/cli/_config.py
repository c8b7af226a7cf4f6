"""YAML configs of the command line: defaults, loading, checking every key and value, flag overrides."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config file or flag names an unknown key or holds a value the command cannot use."""


#: Allowed values of the keys that take one of a few strings (in the commands whose default is one of them).
CHOICES: dict[str, tuple[str, ...]] = {
    "model": ("vae", "transformer"),
    "dataset": ("kang_ifnb", "zheng_sorted"),
    "gene_likelihood": ("zinb", "nb", "poisson", "gaussian"),
}

_PREPARE = {
    "input": None,
    "out": "runs/prepare",
    "labels_key": None,
    "layer": None,
    "mt_prefix": "MT-",
    "min_genes": 200,
    "max_genes": None,
    "min_counts": None,
    "max_counts": None,
    "max_pct_mt": 20.0,
    "min_cells": 3,
    "target_sum": 10000.0,
    "n_top_genes": 2000,
    "batch_key": None,
    "subset_hvg": False,
    "combat": False,
    "n_pcs": 50,
    "n_neighbors": 15,
    "umap": True,
    "random_state": 0,
}

_TRAIN = {
    "model": "transformer",
    "input": None,
    "out": "runs/train",
    "labels_key": "cell_type",
    "batch_key": None,
    "layer": "counts",
    "max_epochs": 20,
    "batch_size": 128,
    "holdout": 0.2,
    "seed": 0,
    "umap": True,
    "write_embedded": True,
    "checkpoint_every": None,
    "resume": False,
    "model_kwargs": {},
    "train_kwargs": {},
}

_ANNOTATE = {
    "model": "pbmc",
    "vae": None,
    "input": None,
    "out": "runs/annotate",
    "labels_key": None,
    "layer": None,
    "batch_key": None,
    "majority_voting": False,
    "unknown_threshold": None,
    "novelty_threshold": None,
    "stream": False,
    "embed": True,
    "seed": 0,
}

_TRANSFER = {
    "reference": None,
    "query": None,
    "out": "runs/transfer",
    "labels_key": "cell_type",
    "query_labels_key": None,
    "layer": None,
    "query_layer": None,
    "batch_key": None,
    "latent": True,
    "majority_voting": False,
    "unknown_threshold": None,
    "novelty_threshold": None,
    "max_epochs": None,
    "query_epochs": None,
    "seed": 0,
}

_SERVE = {"model": "pbmc", "host": "127.0.0.1", "port": 8000, "max_upload_mb": 1024}

_DEMO = {
    "dataset": "kang_ifnb",
    "out": "runs/demo",
    "labels_key": "cell_type",
    "batch_key": "condition",
    "seed": 0,
    # the demo keeps the 2000 highly variable genes only, so that both models train in about a minute on 2 cores;
    # no mitochondrial filter: the sources of both bundled datasets dropped the mitochondrial genes
    "prepare": {
        **{k: v for k, v in _PREPARE.items() if k not in ("input", "out", "labels_key", "batch_key")},
        "subset_hvg": True,
        "max_pct_mt": None,
    },
    "vae": {"max_epochs": 20, "batch_size": 128, "model_kwargs": {}, "train_kwargs": {}},
    "transformer": {"max_epochs": 10, "batch_size": 128, "holdout": 0.2, "model_kwargs": {}, "train_kwargs": {}},
}

_BENCHMARK = {
    "quick": False,
    "out": "runs/benchmark",
    "data": None,
    "tasks": None,
    "methods": None,
    "max_epochs": None,
    "query_epochs": None,
    "batch_size": 128,
    "n_top_genes": 2000,
    "seed": 0,
    "umap": True,
    "scib": True,
    "docs_page": None,
    "scale_results": None,
    "h5ad": {},
}

#: Every command's defaults; a config file may set any of these keys and nothing else.
DEFAULTS: dict[str, dict[str, Any]] = {
    "prepare": _PREPARE,
    "train": _TRAIN,
    "transfer": _TRANSFER,
    "annotate": _ANNOTATE,
    "models": {},
    "serve": _SERVE,
    "demo": _DEMO,
    "benchmark": _BENCHMARK,
}

#: Keys whose value may be a number where the default is a whole number, and the other way round.
_NUMBER = (int, float)

#: What each key whose default is null takes when it is set (every other key takes the kind of its default).
NULLABLE: dict[str, str] = {
    **dict.fromkeys(
        (
            *("input", "model", "vae", "data", "docs_page", "scale_results", "labels_key", "batch_key", "layer"),
            *("reference", "query", "query_labels_key", "query_layer"),
        ),
        "string",
    ),
    **dict.fromkeys(("unknown_threshold", "novelty_threshold"), "number"),
    **dict.fromkeys(("max_genes", "max_epochs", "query_epochs", "checkpoint_every"), "whole number"),
    **dict.fromkeys(("min_counts", "max_counts", "max_pct_mt"), "number"),
    **dict.fromkeys(("tasks", "methods"), "list of names"),
}

#: The smallest value of numeric keys that have one (0 epochs or a batch of 0 cells would silently mean "default").
MINIMUM: dict[str, int] = {
    **dict.fromkeys(("max_epochs", "query_epochs", "batch_size", "n_top_genes", "n_pcs", "checkpoint_every"), 1),
    **dict.fromkeys(("port", "max_upload_mb"), 1),
    "n_neighbors": 2,
    **dict.fromkeys(
        ("min_genes", "max_genes", "min_counts", "max_counts", "max_pct_mt", "min_cells", "seed", "random_state"), 0
    ),
    **dict.fromkeys(("holdout",), 0),
}


def _check_nullable(key: str, value: Any, where: str) -> None:
    """Raise a :class:`ConfigError` unless ``value`` (not None) is of the kind :data:`NULLABLE` gives ``key``."""
    name = key.rsplit(".", 1)[-1]
    kind = NULLABLE[name]
    fits = {
        "string": isinstance(value, str),
        "whole number": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, _NUMBER) and not isinstance(value, bool),
        "list of names": isinstance(value, str | list),
    }[kind]
    if not fits:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConfigError(f"{where}: {key} must be {article} {kind} (or null), not {value!r}.")


def _check_value(key: str, value: Any, default: Any, where: str) -> Any:
    """Return ``value`` if it fits ``key`` (same kind as the default, or one of :data:`CHOICES`), else raise."""
    name = key.rsplit(".", 1)[-1]
    # a key is a choice where its default is one (annotate's model, a folder or a name, is not train's)
    if name in CHOICES and default in CHOICES[name] and value is not None and value not in CHOICES[name]:
        raise ConfigError(f"{where}: {key}={value!r} is not allowed; choose one of {list(CHOICES[name])}.")
    if value is None:
        return value
    if default is None:
        _check_nullable(key, value, where)
    else:
        value = _check_kind(key, value, default, where)
    if name in MINIMUM and value < MINIMUM[name]:
        raise ConfigError(f"{where}: {key} must be at least {MINIMUM[name]}, not {value!r}.")
    return value


def _check_kind(key: str, value: Any, default: Any, where: str) -> Any:
    """``value`` (not None) if it is of the kind of ``default`` (not None), else a :class:`ConfigError`."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false, not {value!r}.")
    elif isinstance(default, _NUMBER):
        if isinstance(value, str) and isinstance(default, float):
            try:  # YAML 1.1 reads 1e4 (no dot) as text
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, _NUMBER):
            raise ConfigError(f"{where}: {key} must be a number, not {value!r}.")
        if isinstance(default, int) and not isinstance(value, int):
            raise ConfigError(f"{where}: {key} must be a whole number, not {value!r}.")
    elif isinstance(default, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {key} must be a mapping (key: value lines), not {value!r}.")
        for inner, inner_value in value.items():
            if inner in CHOICES and inner_value not in CHOICES[inner]:
                raise ConfigError(
                    f"{where}: {key}.{inner}={inner_value!r} is not allowed; choose one of {list(CHOICES[inner])}."
                )
    elif isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, not {value!r}.")
    return value


def merge(base: dict[str, Any], updates: Mapping[str, Any], schema: Mapping[str, Any], where: str, prefix: str = ""):
    """Copy of ``base`` with ``updates`` applied; unknown keys and wrong values raise :class:`ConfigError`.

    Sections whose default is a non-empty mapping (``demo``'s ``prepare:``) are checked key by key; an empty mapping
    default (``model_kwargs: {}``) accepts any keys, which the model itself checks.
    """
    merged = copy.deepcopy(base)
    for key, value in updates.items():
        dotted = f"{prefix}{key}"
        if key not in schema:
            raise ConfigError(f"{where}: unknown key {dotted!r}; the keys are {sorted(schema)}.")
        default = schema[key]
        if isinstance(default, Mapping) and default and isinstance(value, Mapping):
            merged[key] = merge(merged[key], value, default, where, prefix=f"{dotted}.")
        elif isinstance(default, Mapping):  # free-form keyword arguments: merged key by key
            merged[key] = {**merged[key], **_check_value(dotted, value, default, where)}
        else:
            merged[key] = _check_value(dotted, value, default, where)
    return merged


def load_config(command: str, path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """The settings of ``command``: its defaults, updated by the YAML file at ``path``, updated by ``overrides``.

    Parameters
    ----------
    command
        ``"prepare"``, ``"train"``, ``"annotate"``, ``"demo"`` or ``"benchmark"``.
    path
        A YAML file with a mapping of keys of :data:`DEFAULTS` ``[command]``.
    overrides
        Values from command-line flags; dotted keys (``"vae.max_epochs"``) reach into sections.

    Returns
    -------
    The merged settings.
    """
    schema = DEFAULTS[command]
    config = copy.deepcopy(schema)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Config file {path} does not exist (configs/ holds one for every command).")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from error
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"{path} must hold a mapping of keys to values, not {type(loaded).__name__}.")
        config = merge(config, loaded, schema, where=str(path))
    for dotted, value in (overrides or {}).items():
        *sections, key = dotted.split(".")
        update: dict[str, Any] = {key: value}
        for section in reversed(sections):
            update = {section: update}
        config = merge(config, update, schema, where="command line")
    return config


def parse_value(text: str) -> Any:
    """A flag's text as YAML reads it: ``3`` → 3, ``0.5`` → 0.5, ``true`` → True, ``null`` → None, else the text."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text
