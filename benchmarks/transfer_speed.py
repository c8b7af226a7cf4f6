"""Speed of transfer_labels against logistic regression, by size, on a quiet and on a loaded machine.

Simulated counts (celltyper.datasets.simulate: 10,000 genes, 8 types, 4 batches, reference and query from different
batches) at 2,500 to 20,000 cells a side. Every row runs in a fresh process, so no row inherits another's threads or
caches. Rows: transfer_labels with its defaults; with latent=False; with torch's default threads (n_threads=None);
scikit-learn's LogisticRegression(max_iter=1000) on log1p(CP10k) of every gene. Two other processes keep
both cores busy while each row runs at the --load-sizes (what a user sees on a shared 2-core machine). Writes
results.json, report.md and transfer_speed.png:

    python benchmarks/transfer_speed.py --out docs/benchmarks/transfer_speed
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from celltyper.benchmark._report import replace_section

SIZES = (2500, 5000, 10000, 20000)
VARIANTS = {
    "celltyper (defaults)": {},
    "celltyper, latent=False": {"latent": False},
    "celltyper, n_threads=None (torch default)": {"n_threads": None},
    "logistic regression": None,
}


def _data(n_cells: int):
    import celltyper as ct

    adata = ct.datasets.simulate(n_cells=2 * n_cells, n_genes=10_000, n_types=8, n_batches=4, seed=0)
    in_reference = adata.obs["batch"].isin(["batch_0", "batch_1"]).to_numpy()
    return adata[in_reference].copy(), adata[~in_reference].copy()


def _row(variant: str, n_cells: int, queue: mp.Queue) -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    import celltyper as ct

    reference, query = _data(n_cells)
    start = time.perf_counter()
    if VARIANTS[variant] is None:
        from celltyper._normalization import log1p_cp10k
        from celltyper.benchmark._logreg import fit_logreg

        model = fit_logreg(log1p_cp10k(reference.X), reference.obs["cell_type"].to_numpy())
        model.predict_proba(log1p_cp10k(query.X))
    else:
        ct.tl.transfer_labels(
            reference, query, "cell_type", layer="counts", batch_key="batch", progress_bar=False, **VARIANTS[variant]
        )
    queue.put(time.perf_counter() - start)


def _burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def measure(variant: str, n_cells: int, load: bool) -> float:
    """Seconds of one row in a fresh process (optionally with two processes burning both cores meanwhile)."""
    context = mp.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    burners = [context.Process(target=_burn, args=(stop,)) for _ in range(2 if load else 0)]
    for burner in burners:
        burner.start()
    worker = context.Process(target=_row, args=(variant, n_cells, queue))
    worker.start()
    seconds = queue.get()
    worker.join()
    stop.set()
    for burner in burners:
        burner.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--load-sizes", type=int, nargs="*", default=[10000], help="sizes also measured under load")
    parser.add_argument("--docs-page", default=None, help="markdown page whose transfer-speed section to replace")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for load in (False, True):
        for variant in args.variants:
            for n_cells in args.load_sizes if load else args.sizes:
                seconds = measure(variant, n_cells, load)
                rows.append(
                    {
                        "variant": variant,
                        "cells per side": n_cells,
                        "machine": "loaded" if load else "quiet",
                        "seconds": round(seconds, 1),
                        "query cells / s": round(n_cells / seconds),
                    }
                )
                print(rows[-1], flush=True)
    command = "python benchmarks/transfer_speed.py " + " ".join(os.sys.argv[1:])
    write_report(rows, out, command, args.docs_page)


def write_report(rows: list[dict], out: Path, command: str, docs_page: str | None = None) -> None:
    """results.json, report.md (seconds by size) and transfer_speed.png; the docs page's section if given."""
    frame = pd.DataFrame(rows)
    (out / "results.json").write_text(json.dumps({"command": command, "cpus": os.cpu_count(), "rows": rows}, indent=1))
    frame["shown"] = [f"{s:.1f} ({c:,})" for s, c in zip(frame["seconds"], frame["query cells / s"], strict=True)]
    table = frame.pivot_table(
        index=["machine", "variant"], columns="cells per side", values="shown", aggfunc="first", sort=False
    )
    header = "| machine | variant | " + " | ".join(f"{n:,} cells" for n in table.columns) + " |"
    rule = "|---|---|" + "---:|" * len(table.columns)
    body = [
        f"| {machine} | {variant} | " + " | ".join("" if pd.isna(x) else x for x in row) + " |"
        for (machine, variant), row in table.iterrows()
    ]
    text = [
        f"Command: `{command}`",
        "",
        "Seconds per call, and query cells per second in brackets (reference and query of the same size; 10,000 "
        "genes; 2 cores; loaded: two other processes keep both cores busy):",
        "",
        header,
        rule,
        *body,
    ]
    (out / "report.md").write_text(
        "\n".join(["---", "orphan: true", "---", "", "# transfer_labels: speed", "", *text, ""])
    )
    if docs_page is not None:
        replace_section(docs_page, "transfer-speed", "\n".join(text))
    fig, ax = plt.subplots(figsize=(6, 4))
    for (machine, variant), group in frame.groupby(["machine", "variant"], sort=False):
        style = "-" if machine == "quiet" else "--"
        ax.plot(group["cells per side"], group["seconds"], marker="o", ls=style, label=f"{variant} ({machine})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title("transfer_labels vs logistic regression, 2 cores")
    ax.set_xlabel("cells in reference and in query")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "transfer_speed.png", dpi=120)


if __name__ == "__main__":
    main()
