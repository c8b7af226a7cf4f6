"""Write benchmark results: ``results.json`` (machine-readable rows) and ``report.md`` (tables, best marked)."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

_PACKAGES = ("celltyper", "scvi-tools", "torch", "lightning", "scanpy", "anndata", "scikit-learn", "numpy")


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def source_commit() -> str | None:
    """The git commit of the celltyper checkout the results come from (``None`` outside a git checkout)."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return found.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def markdown_table(frame: pd.DataFrame, higher_is_better: dict[str, bool]) -> str:
    """A markdown table, numbers to 3 significant digits, with the best value of each scored column in bold."""
    shown = frame.copy()
    for column in shown.columns:
        if not pd.api.types.is_float_dtype(shown[column]):
            continue
        higher = higher_is_better.get(column)
        best = None if higher is None else (shown[column].max() if higher else shown[column].min())
        shown[column] = ["" if pd.isna(v) else (f"**{v:.3g}**" if v == best else f"{v:.3g}") for v in frame[column]]
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def write_results(
    rows: Sequence[dict],
    out_dir: str | Path,
    *,
    title: str,
    command: str,
    columns: Sequence[str],
    higher_is_better: dict[str, bool],
    group_by: Sequence[str] = ("dataset", "task"),
    settings: dict | None = None,
    notes: str = "",
) -> Path:
    """Write ``results.json`` and ``report.md`` to ``out_dir``; one markdown table per ``group_by`` combination.

    Parameters
    ----------
    rows
        One dict per dataset × task × method; every value JSON-serializable.
    out_dir
        Folder to write into (created if missing).
    title, command
        Report heading and the command that reproduces it.
    columns
        Which keys of the rows the tables show, in order.
    higher_is_better
        For each scored column, whether higher is better (its best value is shown in bold).
    group_by
        Keys whose combinations each get a table.
    settings
        What every method was given (epochs, batch size, genes …), recorded in both files.
    notes
        Markdown appended after the tables.

    Returns
    -------
    The path of ``report.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    versions = package_versions()
    meta = {
        "title": title,
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.system()}",
        "versions": versions,
        "commit": source_commit(),
        "settings": settings or {},
    }
    (out / "results.json").write_text(json.dumps({**meta, "rows": list(rows)}, indent=2, default=str))

    frame = pd.DataFrame(list(rows))
    lines = [
        "---",
        "orphan: true",  # reports written inside docs/ are linked from pages, not listed in a toctree
        "---",
        "",
        f"# {title}",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {meta['date']}; commit: {meta['commit']}; versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "",
    ]
    if settings:
        lines += ["Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), ""]
    keys = [k for k in group_by if k in frame]
    groups = frame.groupby(keys, sort=False) if keys else [((), frame)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        if keys:
            lines += [f"## {' / '.join(str(k) for k in key)}", ""]
        lines += [markdown_table(group[[c for c in columns if c in group]], higher_is_better), ""]
    if notes:
        lines += [notes, ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def replace_section(page: str | Path, name: str, text: str) -> None:
    """Replace what ``page`` holds between its ``<!-- name -->`` and ``<!-- /name -->`` lines with ``text``."""
    page = Path(page)
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    content = page.read_text()
    if start not in content or end not in content:
        raise ValueError(f"{page} has no {start} … {end} section to write into.")
    before, rest = content.split(start, 1)
    page.write_text(f"{before}{start}\n{text}\n{end}{rest.split(end, 1)[1]}")
