"""The help texts of the command line: one line per command and one per flag (``celltyper COMMAND --help``).

A flag's text comes from :data:`FLAGS` ``[command][key]`` if the key means something particular to that command, else
from :data:`COMMON` ``[key]``. A new command needs a line in :data:`COMMANDS` and, for each of its keys that
:data:`COMMON` does not describe, a line in :data:`FLAGS`; ``tests/test_cli_help.py`` checks that every flag has one.
"""

from __future__ import annotations

#: What each command does, shown in ``celltyper --help`` and at the top of ``celltyper COMMAND --help``.
COMMANDS: dict[str, str] = {
    "prepare": "QC, filter, normalize, select genes and embed an h5ad of raw counts (scanpy underneath)",
    "train": "Train a CountVAE (--model vae) or a CellTypeTransformer (--model transformer) and evaluate it",
    "annotate": "Label a new h5ad with a saved CellTypeTransformer: annotated h5ad + predictions CSV + UMAP",
    "demo": "The whole pipeline on bundled data: prepare, train both models, evaluate, annotate",
    "benchmark": "celltyper vs SCVI / SCANVI / logistic regression in one process: results.json, report.md, PNGs",
}

#: Shown below every command's flags.
EPILOG = (
    "Every setting comes from the defaults, then --config FILE.yaml, then flags: each key of the config is also a "
    "flag (--max-epochs 5, --batch-key condition); --set key=value reaches nested keys (--set vae.max_epochs=5)."
)

#: Keys that mean the same in every command that has them.
COMMON: dict[str, str] = {
    "out": "Folder to write every output to (created if missing)",
    "labels_key": "Column of obs with the cell types",
    "layer": "Layer of the h5ad with the raw counts (null: X)",
    "seed": "Random seed of the data split, the weights and the UMAP",
    "max_epochs": "Passes over the training cells (early stopping may end sooner)",
    "batch_size": "Cells per training step",
    "n_top_genes": "Number of highly variable genes (seurat_v3 on the counts)",
}

#: Keys whose meaning depends on the command, and keys only one command has.
FLAGS: dict[str, dict[str, str]] = {
    "prepare": {
        "input": "h5ad file of raw counts (in X, or in --layer)",
        "labels_key": "Column of obs with the cell types, to colour the UMAP by (optional)",
        "batch_key": "Column of obs with batches: batch-aware gene selection, UMAP colour and ComBat",
        "mt_prefix": "Prefix of mitochondrial gene names, matched case-insensitively (MT- also matches mouse mt-)",
        "min_genes": "Keep cells with at least this many detected genes (null: no limit)",
        "max_genes": "Keep cells with at most this many detected genes (null: no limit)",
        "min_counts": "Keep cells with at least this many counts (null: no limit)",
        "max_counts": "Keep cells with at most this many counts (null: no limit)",
        "max_pct_mt": "Keep cells with at most this percentage of mitochondrial counts (null: no limit)",
        "min_cells": "Keep genes detected in at least this many of the remaining cells (null: keep all)",
        "target_sum": "Counts per cell after normalization (then log1p)",
        "subset_hvg": "Keep only the highly variable genes (false: flag them in var)",
        "combat": "ComBat on the log-normalized X (needs --batch-key; for Gaussian models only)",
        "n_pcs": "Principal components of the embedding",
        "n_neighbors": "Neighbours per cell in the kNN graph of the UMAP",
        "umap": "Compute the neighbour graph and UMAP (false: stop after PCA)",
        "random_state": "Seed of PCA, neighbours and UMAP",
    },
    "train": {
        "model": "What to train: vae (CountVAE, a batch-corrected latent space) or transformer (a classifier)",
        "input": "h5ad file of raw counts (in --layer), with the cell types in --labels-key",
        "labels_key": "Column of obs with the cell types (transformer: the labels it learns; vae: scores the latent)",
        "batch_key": "Column of obs with batches (vae: corrected; transformer: each class balanced across them)",
        "holdout": "Fraction of cells held out, stratified by type, and scored in metrics.json (transformer)",
        "umap": "UMAP of the latent space in figures/umap_latent.png (vae)",
        "write_embedded": "Write embedded.h5ad: the input with its latent space and UMAP in obsm (vae)",
        "checkpoint_every": "Save a checkpoint to OUT/checkpoint every N epochs (null: none)",
        "resume": "Resume from the checkpoint in OUT/checkpoint (an interrupted run with the same settings)",
        "model_kwargs": "Settings of the model, e.g. --set model_kwargs.n_latent=10",
        "train_kwargs": "Settings of the model's train(), e.g. --set train_kwargs.lr=0.002",
    },
    "annotate": {
        "model": "Folder of a saved CellTypeTransformer (the model/ that `celltyper train` writes)",
        "vae": "Folder of a saved CountVAE: the UMAP is drawn in its latent space (optional)",
        "input": "h5ad file of the cells to label, with raw counts (in the layer the model was trained on)",
        "labels_key": "Column of obs with known cell types, if any: also metrics.json and a confusion matrix",
        "unknown_threshold": 'Cells whose top probability is below this become "Unknown" (0: none)',
        "embed": "Compute a UMAP of the cells when the input has none (skipped below 10 cells)",
    },
    "demo": {
        "dataset": "Bundled dataset to run on: kang_ifnb or zheng_sorted",
        "batch_key": "Column of obs with batches, corrected by the CountVAE (null: none)",
    },
    "benchmark": {
        "quick": "Bundled Kang and Zheng data with a small budget (a few minutes on 2 CPU cores)",
        "data": "Folder of the real datasets (null: $CELLTYPER_DATA, else ../shared/data)",
        "tasks": "Names of the tasks to run, comma-separated (null: every task of the mode)",
        "methods": "Names of the methods to run, comma-separated (null: all of them)",
        "max_epochs": "Reference epochs of every neural method (null: 10 with --quick, 40 otherwise)",
        "query_epochs": "scArches query-mapping epochs (null: 5 with --quick, 20 otherwise)",
        "n_top_genes": "Highly variable genes of the reference, the same for every method",
        "umap": "Draw a UMAP of every latent space",
        "scib": "Score every latent space with scib-metrics",
        "docs_page": "Also write a docs page from the results to this file",
        "scale_results": "With --docs-page: the output folder of a benchmarks/scale.py run, whose table the page adds",
        "h5ad": "Your own h5ad files instead of the built-in tasks, one entry per task (set it in --config)",
    },
}


def flag_help(command: str, key: str) -> str:
    """The one-line description of ``key`` of ``command``; a ``KeyError`` naming both if there is none."""
    text = FLAGS.get(command, {}).get(key, COMMON.get(key))
    if not text:
        raise KeyError(f"celltyper {command} --{key.replace('_', '-')} has no help text: add it to FLAGS or COMMON.")
    return text
