"""The house rules docs/design/layout.md relies on: every module says what it owns, no file grows past its limit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
MODULES = sorted((ROOT / "src" / "celltyper").rglob("*.py"))
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))
#: A module longer than this does more than one thing: split it along its seams.
MAX_MODULE_LINES = 350
#: A benchmark script only picks tasks and methods; the harness lives in celltyper.benchmark.
MAX_SCRIPT_LINES = 100


def test_there_is_something_to_check():
    assert len(MODULES) > 100 and len(SCRIPTS) > 5


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_module_says_what_it_owns_and_stays_short(path: Path):
    text = path.read_text()
    assert ast.get_docstring(ast.parse(text)), "start the module with a docstring saying what it owns"
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"over {MAX_MODULE_LINES} lines: split it"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_benchmark_scripts_only_pick_what_to_run(path: Path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_SCRIPT_LINES, f"{lines} lines: move the harness into celltyper.benchmark"
