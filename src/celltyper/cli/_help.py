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
    "transfer": "Fit an annotator on a labelled reference and label a query: annotated h5ad, CSV, annotator, report",
    "annotate": "Label cells with a saved or built-in annotator (or a CellTypeTransformer): h5ad, CSV, report",
    "models": "List the built-in annotators, one name per line",
    "serve": "Serve an annotator over HTTP: GET /health, GET /model, POST /annotate (needs celltyper[serve])",
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
    "transfer": {
        "reference": "Labelled cells: .h5ad, 10x .h5 or 10x .mtx folder, raw counts in X or in --layer",
        "query": "Cells to label: .h5ad, 10x .h5 or 10x .mtx folder, raw counts in X or in --query-layer",
        "labels_key": "Column of the reference's obs with the cell types",
        "query_labels_key": "Column of the query's obs with known cell types, if any: metrics and a confusion matrix",
        "layer": "Layer of the reference with raw counts (null: X if it holds counts, else the layer counts)",
        "query_layer": "Layer of the query with raw counts (null: X if it holds counts, else the layer counts)",
        "batch_key": "Column of obs with each cell's batch (donor, sample), for the latent model",
        "latent": "Train the latent model and map the query onto it (false: much faster, no latent UMAP)",
        "majority_voting": "Also write each query cluster's majority label",
        "unknown_threshold": 'Confidence below which a cell is "Unknown" (null: transfer_labels\' default, 0)',
        "novelty_threshold": 'Novelty above which a cell is "Unknown" (null: transfer_labels\' default, 0.95)',
        "max_epochs": "Epochs of the latent model on the reference (null: about 60,000 cells seen)",
        "query_epochs": "Epochs of query mapping (null: about 30,000 cells seen)",
    },
    "annotate": {
        "model": "A saved annotator's folder, a built-in name (celltyper models), or a saved CellTypeTransformer",
        "vae": "CellTypeTransformer only: folder of a saved CountVAE whose latent space the UMAP is drawn in",
        "input": "Cells to label: .h5ad, 10x .h5 or 10x .mtx folder (a CellTypeTransformer reads .h5ad only)",
        "labels_key": "Column of obs with known cell types, if any: also metrics.json and a confusion matrix",
        "layer": "Layer with raw counts (null: X if it holds counts, else the layer counts)",
        "batch_key": "Column of obs with each cell's batch, mapped onto an annotator's latent model",
        "majority_voting": "Also write each cluster's majority label (annotator)",
        "unknown_threshold": 'Confidence below which a cell is "Unknown" (null: the annotator\'s; 0 for a model)',
        "novelty_threshold": 'Novelty above which a cell is "Unknown" (null: the annotator\'s)',
        "stream": "Read an .h5ad chunk by chunk instead of loading it (no cluster novelty; for files above memory)",
        "embed": "CellTypeTransformer only: compute a UMAP of the cells when the input has none",
    },
    "serve": {
        "model": "A saved annotator's folder or a built-in name (celltyper models)",
        "host": "Address to listen on (0.0.0.0: every interface)",
        "port": "Port to listen on",
        "max_upload_mb": "Largest upload accepted, in MB (larger ones get 413)",
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
