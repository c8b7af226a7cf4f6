"""The ``celltyper`` command line: prepare, train, annotate, demo and benchmark, each driven by a YAML config."""

from ._config import DEFAULTS, ConfigError, load_config
from ._main import build_parser, main

__all__ = ["DEFAULTS", "ConfigError", "build_parser", "load_config", "main"]
