"""``celltyper benchmark``: the config → tasks, methods and budget of :func:`celltyper.benchmark.run_benchmark`."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from celltyper import benchmark

from ._config import ConfigError

#: Epoch budgets when the config leaves them out: ``--quick`` must finish in a few minutes on 2 CPU cores.
QUICK_BUDGET = {"max_epochs": 10, "query_epochs": 5}
FULL_BUDGET = {"max_epochs": 40, "query_epochs": 20}


def _names(value, key: str) -> list[str] | None:
    """A list of names from a YAML list or a comma-separated flag (``--methods logreg,scvi``)."""
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"{key} must be a list of names or a comma-separated string, not {value!r}.")
    return [n.strip() for n in names]


def _tasks(config: dict) -> list[benchmark.Task]:
    n_top_genes, seed = config["n_top_genes"], config["seed"]
    if config["h5ad"]:
        tasks = []
        for name, entry in config["h5ad"].items():
            if not isinstance(entry, Mapping):
                raise ConfigError(f"h5ad.{name} must be a mapping with path, labels_key, batch_key …, not {entry!r}.")
            tasks.append(benchmark.task_from_config(name, entry, n_top_genes, seed))
    elif config["quick"]:
        tasks = benchmark.quick_tasks(n_top_genes, seed)
    else:
        tasks = benchmark.full_tasks(config["data"], n_top_genes, seed)
    wanted = _names(config["tasks"], "tasks")
    if wanted is not None:
        unknown = sorted(set(wanted) - {t.name for t in tasks})
        if unknown:
            raise ConfigError(f"Unknown tasks {unknown}; this mode has {[t.name for t in tasks]}.")
        tasks = [t for t in tasks if t.name in wanted]
    return tasks


def run_benchmark(config: dict) -> dict[str, Path]:
    """Run the benchmark the config describes; write results to ``out`` (and the docs page if ``docs_page``)."""
    methods = _names(config["methods"], "methods")
    if methods is not None and set(methods) - set(benchmark.METHODS):
        raise ConfigError(
            f"Unknown methods {sorted(set(methods) - set(benchmark.METHODS))}; choose from {list(benchmark.METHODS)}."
        )
    defaults = QUICK_BUDGET if config["quick"] else FULL_BUDGET
    budget = benchmark.Budget(
        max_epochs=config["max_epochs"] or defaults["max_epochs"],
        query_epochs=config["query_epochs"] or defaults["query_epochs"],
        batch_size=config["batch_size"],
        seed=config["seed"],
    )
    tasks = _tasks(config)
    out = Path(config["out"])
    print(f"celltyper benchmark: {len(tasks)} task(s) → {out}", flush=True)
    benchmark.run_benchmark(
        tasks,
        out,
        methods=methods,
        budget=budget,
        umap=config["umap"],
        scib=config["scib"],
        command="celltyper " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["benchmark"] else "celltyper benchmark",
    )
    written = {"results": out / "results.json", "report": out / "report.md"}
    if config["docs_page"]:
        written["docs_page"] = benchmark.write_docs_page(out, config["docs_page"], config["scale_results"])
    print(f"wrote {written['report']}", flush=True)
    return written
