"""Scaling to a million cells: one epoch of CountVAE from a backed file, of SCVI in memory, and annotation throughput.

Simulated counts (``ct.datasets.simulate``, 2,000 genes) are written once to sparse h5ad files under ``--data``
(see ``celltyper.benchmark._scale_data``). Every (method, size) runs in its own subprocess, whose resident memory the
parent samples every 0.05 s (``celltyper.benchmark.run_with_peak_memory``): ``peak_rss_gib`` is that run's own peak,
not ``ru_maxrss``, which a child inherits from this parent (which may hold gigabytes after writing the files). Methods:

- ``countvae``: ``CountVAE`` (default settings) set up on ``anndata.read_h5ad(path, backed="r")``, one epoch;
- ``scvi``: ``scvi.model.SCVI`` (default settings) on the file read into memory, one epoch, as users run it;
- ``annotate``: ``ct.tl.annotate_h5ad`` with a trained ``CellTypeTransformer`` (default settings) — what
  ``celltyper annotate`` runs;
- ``annotate_countvae``: ``ct.tl.annotate_h5ad`` with a trained ``SemiSupervisedCountVAE`` (encoder + classifier on
  the latent space);
- ``annotate_annotator``: ``ct.tl.annotate_h5ad`` with a saved ``ct.Annotator`` (label transfer's linear classifier
  and calibration) — what ``celltyper annotate --stream true`` runs.

Both training rows use batch size 128, 90 % of the cells for training and no validation pass; ``seconds_per_epoch``
is the wall time of the training epoch, ``cells_per_s`` training cells per second. Annotation rows time the
prediction pass over every cell, after the file was read through once (``file_read_seconds``) so that it sits in the
OS page cache and the pass measures celltyper rather than the disk; ``write_seconds`` is writing its predictions CSV.
Writes ``scale.json`` (``{"rows": [...], "exponents": {method: slope of log time vs log cells}}``), ``report.md`` and
``scale.png`` to ``--out``; rows measured by earlier runs into the same ``--out`` are kept unless measured again.

    python benchmarks/scale.py --out runs/scale [--cells 100000 300000 1000000] [--methods countvae scvi annotate]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from celltyper.benchmark._scale import measure_scaling, write_scale_report
from celltyper.benchmark._scale_runs import METHODS, measure, train_annotators
from celltyper.benchmark._script_output import script_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cells", nargs="+", type=int, default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--data", type=Path, default=Path("/tmp/celltyper_scale"), help="where the h5ad files go")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "N_CELLS"), help=argparse.SUPPRESS)
    parser.add_argument("--train-annotators", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measured run, in the process the parent watches: its row on the last line
        warnings.filterwarnings("ignore")
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.data, args.out)), flush=True)
        return
    if args.train_annotators:
        warnings.filterwarnings("ignore")
        train_annotators(args.out / "models")
        print("{}")
        return
    command = script_command("scale.py", sys.argv[1:])
    results = measure_scaling(__file__, args.out, args.data, args.cells, args.methods, command)
    print(write_scale_report(results, args.out))


if __name__ == "__main__":
    main()
