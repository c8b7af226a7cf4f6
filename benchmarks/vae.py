"""CountVAE (nb / zinb / gaussian) vs scvi-tools' SCVI: speed, validation reconstruction loss, kNN accuracy.

Every model trains in this one process on the same cells, genes, split (``scvi.settings.seed``), epochs, batch size
and KL warm-up. Writes ``results.json``, ``report.md`` and ``vae_benchmark.png`` to ``--out``.

    python benchmarks/vae.py --out runs/vae [--epochs 100] [--datasets kang_ifnb kang_8donors] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from celltyper.benchmark import load_real_dataset
from celltyper.benchmark._data import REAL_DATASETS
from celltyper.benchmark._script_output import script_command, silence_training_logs
from celltyper.benchmark._vae_benchmark import (
    METHODS,
    compare_with_scvi,
    kl_warmup_epochs,
    train_and_score,
    write_vae_report,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--datasets", nargs="+", default=["kang_ifnb", "kang_8donors"], choices=sorted(REAL_DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--data", default=None, help="folder of the real datasets (default ../shared/data)")
    args = parser.parse_args(argv)
    silence_training_logs()
    args.out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for dataset in args.datasets:
        _, labels_key, batch_key = REAL_DATASETS[dataset]
        adata = load_real_dataset(dataset, args.data)
        for method in args.methods:
            row, curves[(dataset, method)] = train_and_score(
                method, dataset, adata, labels_key, batch_key, args.epochs, args.batch_size
            )
            rows.append(row)
            speed, knn = row["seconds_per_epoch"], row["knn_accuracy"]
            print(f"{dataset:14s} {method:18s} {speed:.3f} s/epoch  kNN {knn:.3f}", flush=True)
        compare_with_scvi(rows, dataset)
    settings = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "n_epochs_kl_warmup": kl_warmup_epochs(args.epochs),
        "validation": "every epoch, 10% of cells (same split for all)",
        "torch_threads": torch.get_num_threads(),
    }
    command = script_command("vae.py", sys.argv[1:] if argv is None else argv)
    print(f"wrote {write_vae_report(rows, curves, args.out, command, settings)}")


if __name__ == "__main__":
    main()
