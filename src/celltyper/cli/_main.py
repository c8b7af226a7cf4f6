"""``celltyper``: the command line, a thin shell over the Python API driven by YAML configs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from celltyper._quiet import quiet_known_noise

from ._config import DEFAULTS, ConfigError, load_config, parse_value
from ._help import COMMANDS, EPILOG, flag_help


def _shown(value: object) -> str:
    """A default as the YAML of a config file writes it: ``null``, ``true``, ``{}``."""
    if isinstance(value, dict):
        return "{}"
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-command per entry of :data:`DEFAULTS`, one flag per top-level config key."""
    parser = argparse.ArgumentParser(prog="celltyper", description="Cell-type annotation for scanpy workflows.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command, defaults in DEFAULTS.items():
        sub = commands.add_parser(command, help=COMMANDS[command], description=COMMANDS[command], epilog=EPILOG)
        sub.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings (see configs/).")
        sub.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", help="Override any key, nested ones too."
        )
        for key, value in defaults.items():
            if isinstance(value, dict) and value:
                continue
            switch = {"nargs": "?", "const": "true"} if isinstance(value, bool) else {}  # bare --quick means true
            sub.add_argument(
                f"--{key.replace('_', '-')}",
                dest=f"flag:{key}",
                metavar="VALUE",
                default=argparse.SUPPRESS,
                help=f"{flag_help(command, key)} (default: {_shown(value)})",
                **switch,
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``celltyper`` console script; returns the exit status.

    Every failure is exit status 2 and one line on stderr, ``celltyper COMMAND: error: ...``, with no traceback (set
    the environment variable ``CELLTYPER_DEBUG=1`` to see it for errors celltyper does not check for itself).
    """
    args = build_parser().parse_args(argv)
    overrides = {k.removeprefix("flag:"): parse_value(v) for k, v in vars(args).items() if k.startswith("flag:")}
    try:
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--set expects KEY=VALUE, not {item!r}.")
            overrides[key.strip()] = parse_value(value)
        config = load_config(args.command, args.config, overrides)
        from ._io import check_out_dir  # heavy imports (anndata, torch, scvi) only once a command runs

        if "out" in config:
            check_out_dir(config["out"])
        quiet_known_noise()
        from ._benchmark import run_benchmark
        from ._commands import run_prepare, run_train
        from ._demo import run_demo
        from ._deploy import run_annotate, run_models, run_serve, run_transfer

        run = {
            "prepare": run_prepare,
            "train": run_train,
            "transfer": run_transfer,
            "annotate": run_annotate,
            "models": run_models,
            "serve": run_serve,
            "demo": run_demo,
            "benchmark": run_benchmark,
        }
        run[args.command](config)
    except (ConfigError, ImportError, KeyError, OSError, ValueError) as error:  # checked: the message says what to do
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        _fail(args.command, message)
        return 2
    except Exception as error:  # anything else: still one line, and how to see where it happened
        if os.environ.get("CELLTYPER_DEBUG"):
            raise
        _fail(
            args.command,
            f"{type(error).__name__}: {error} (check the input and settings; CELLTYPER_DEBUG=1 shows the traceback, "
            "which a bug report needs).",
        )
        return 2
    return 0


def _fail(command: str, message: object) -> None:
    """Print ``message`` on one line of stderr."""
    print(f"celltyper {command}: error: {' '.join(str(message).split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
