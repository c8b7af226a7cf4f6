"""``celltyper --help``: every flag says what it does, and help starts without loading the heavy libraries."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from celltyper.cli import DEFAULTS, build_parser
from celltyper.cli._help import COMMANDS, COMMON, FLAGS, flag_help

#: Libraries that take seconds to import; help must not need them.
HEAVY = ("torch", "scvi", "scanpy", "lightning", "anndata")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_has_a_description():
    assert set(COMMANDS) == set(DEFAULTS)
    assert all(text.strip() for text in COMMANDS.values())


def test_every_flag_of_every_command_has_a_description():
    commands = _subparsers(build_parser())
    assert set(commands) == set(DEFAULTS)
    for command, sub in commands.items():
        flags = [a for a in sub._actions if a.dest.startswith("flag:")]
        top_level = [key for key, value in DEFAULTS[command].items() if not (isinstance(value, dict) and value)]
        assert [a.dest.removeprefix("flag:") for a in flags] == top_level
        for action in flags:
            description, _, default = action.help.rpartition(" (default: ")
            assert description.strip(), f"celltyper {command} {action.option_strings[0]} has no description"
            assert default.endswith(")")


def test_every_help_text_belongs_to_a_flag():
    for command, texts in FLAGS.items():
        assert set(texts) <= set(DEFAULTS[command]), f"FLAGS[{command!r}] describes keys {command} does not have"
    for key in COMMON:
        assert any(key in DEFAULTS[c] and key not in FLAGS.get(c, {}) for c in DEFAULTS), f"COMMON[{key!r}] is unused"


def test_a_key_without_help_is_an_error_that_says_where_to_add_it():
    with pytest.raises(KeyError, match=r"celltyper train --no-such-key has no help text: add it to FLAGS or COMMON"):
        flag_help("train", "no_such_key")
    assert flag_help("annotate", "model") != flag_help("train", "model")  # the same key, a different meaning
    assert flag_help("annotate", "out") == flag_help("train", "out")


def test_defaults_are_shown_as_a_config_file_writes_them(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: null)" in text and "(default: false)" in text and "(default: {})" in text
    assert "(default: None)" not in text


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["demo", "--help"]])
def test_help_imports_no_heavy_library(args):
    script = (
        "import sys\n"
        "from celltyper.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "usage: celltyper" in result.stdout
    assert result.stdout.splitlines()[-1] == "loaded: []"


def test_attributes_of_the_package_are_imported_on_first_use():
    script = (
        "import sys\n"
        "import celltyper as ct\n"
        "assert 'torch' not in sys.modules\n"
        "assert ct.CountVAE.__name__ == 'CountVAE' and ct.tl.majority_vote and ct.model.convert_legacy_model\n"
        "assert 'torch' in sys.modules\n"
        "try:\n"
        "    ct.no_such_name\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "module 'celltyper' has no attribute 'no_such_name'"
