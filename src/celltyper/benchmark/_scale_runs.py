"""What one process of the scaling benchmark (``benchmarks/scale.py``) measures: a training epoch or an annotation pass.

Every (method, size) runs in a fresh process (see :mod:`celltyper.benchmark._scale`) so that its peak memory is its
own; this module is what that process runs, plus training the annotation models once beforehand. Methods:

- ``countvae``: ``CountVAE`` (default settings) on ``anndata.read_h5ad(path, backed="r")``, one epoch;
- ``scvi``: ``scvi.model.SCVI`` (default settings) on the file read into memory, one epoch, as users run it;
- ``annotate`` / ``annotate_countvae`` / ``annotate_annotator``: ``ct.tl.annotate_h5ad`` over every cell with a
  trained ``CellTypeTransformer``, ``SemiSupervisedCountVAE`` or saved ``ct.Annotator``.

Training uses batch size 128, 90 % of the cells and no validation pass. An annotation pass is timed after the file
was read through once, so that it sits in the OS page cache and the pass measures celltyper rather than the disk.
"""

from __future__ import annotations

from pathlib import Path

from ._scale_data import reference, simulated_h5ad
from ._timing import Stopwatch

METHODS = ("countvae", "scvi", "annotate", "annotate_countvae", "annotate_annotator")
TRAINING = ("countvae", "scvi")
#: annotation method → folder of its saved model under ``OUT/models``
ANNOTATORS = {
    "annotate": "transformer",
    "annotate_countvae": "semisupervised_countvae",
    "annotate_annotator": "annotator",
}


def train_one_epoch(method: str, path: Path) -> dict:
    """One training epoch of ``method`` (``countvae`` or ``scvi``) on the file at ``path``: its row of results."""
    import anndata as ad
    import scvi

    import celltyper as ct

    from ._measure import EpochTimer

    scvi.settings.seed = 0
    with Stopwatch() as setup:
        if method == "countvae":
            adata = ad.read_h5ad(path, backed="r")
            ct.CountVAE.setup_anndata(adata, batch_key="batch")
            model = ct.CountVAE(adata)
        else:
            adata = ad.read_h5ad(path)
            scvi.model.SCVI.setup_anndata(adata, batch_key="batch")
            model = scvi.model.SCVI(adata)
    timer = EpochTimer()
    model.train(
        max_epochs=1,
        batch_size=128,
        accelerator="cpu",
        check_val_every_n_epoch=None,
        callbacks=[timer],
        enable_progress_bar=False,
    )
    n_train = len(model.train_indices)
    row: dict[str, float | dict[str, float]] = {
        "seconds_per_epoch": timer.seconds[0],
        "cells_per_s": n_train / timer.seconds[0],
        "n_train_cells": n_train,
        "setup_seconds": setup.seconds,
    }
    if method == "countvae":
        row["read_ms_per_minibatch"] = read_times(model.adata_manager, model.train_indices)
    return row


def read_times(adata_manager, indices, n_batches: int = 100) -> dict[str, float]:
    """Milliseconds to load one shuffled 128-cell training minibatch of a backed file, by loader."""
    from scvi.dataloaders import AnnDataLoader

    from celltyper.train import BackedDataLoader

    loaders = {"scvi AnnDataLoader": AnnDataLoader(adata_manager, indices=indices, shuffle=True, batch_size=128)}
    for block_size in (1, 16, 128):
        loaders[f"block_size={block_size}"] = BackedDataLoader(
            adata_manager, indices=indices, shuffle=True, batch_size=128, block_size=block_size
        )
    times = {}
    for name, loader in loaders.items():
        with Stopwatch() as watch:
            for i, _ in enumerate(loader):
                if i + 1 == n_batches:
                    break
        times[name] = watch.seconds / n_batches * 1000
    return times


def train_annotators(model_dir: Path) -> None:
    """Train and save the three annotation models on simulated reference cells (same gene programs as the files)."""
    import scvi

    import celltyper as ct
    from celltyper.model import SemiSupervisedCountVAE

    adata = reference()
    del adata.layers["counts"]  # raw counts in X, like the files
    scvi.settings.seed = 0
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
    transformer = ct.CellTypeTransformer(adata)
    transformer.train(max_epochs=3, accelerator="cpu", enable_progress_bar=False)
    transformer.save(model_dir / ANNOTATORS["annotate"], overwrite=True, save_anndata=True)
    scvi.settings.seed = 0
    SemiSupervisedCountVAE.setup_anndata(adata, labels_key="cell_type", batch_key="batch")
    vae = SemiSupervisedCountVAE(adata)
    vae.train(max_epochs=10, accelerator="cpu", enable_progress_bar=False)
    vae.save(model_dir / ANNOTATORS["annotate_countvae"], overwrite=True, save_anndata=True)
    annotator = ct.Annotator.from_reference(adata, "cell_type", batch_key="batch", latent=False, progress_bar=False)
    annotator.save(model_dir / ANNOTATORS["annotate_annotator"], overwrite=True)


def annotate(method: str, path: Path, model_dir: Path, out: Path) -> dict:
    """Stream every cell of ``path`` through ``ct.tl.annotate_h5ad`` with ``method``'s model: its row of results."""
    import anndata as ad

    import celltyper as ct
    from celltyper.model import SemiSupervisedCountVAE

    loaders = {"annotate": ct.CellTypeTransformer.load, "annotate_countvae": SemiSupervisedCountVAE.load}
    model = loaders.get(method, ct.Annotator.load)(str(model_dir / ANNOTATORS[method]))
    with Stopwatch() as file_read, open(path, "rb") as f:  # into the OS page cache
        while f.read(64 * 2**20):
            pass
    with Stopwatch() as annotation:
        table = ct.tl.annotate_h5ad(model, path)
    with Stopwatch() as write:
        table.to_csv(out / "predictions.csv")  # what annotate_h5ad(predictions=...) adds
    (out / "predictions.csv").unlink()
    truth = ad.read_h5ad(path, backed="r").obs["cell_type"].astype(str).to_numpy()
    accuracy = float((table.iloc[:, 0].astype(str).to_numpy() == truth).mean())
    return {
        "seconds": annotation.seconds,
        "cells_per_s": len(table) / annotation.seconds,
        "accuracy": accuracy,
        "write_seconds": write.seconds,
        "file_read_seconds": file_read.seconds,
    }


def measure(method: str, n_cells: int, data_dir: Path, out: Path) -> dict:
    """The row of one (method, size), measured in this process (models under ``out/models``)."""
    path = simulated_h5ad(n_cells, data_dir)
    if method in TRAINING:
        row = train_one_epoch(method, path)
    else:
        row = annotate(method, path, out / "models", out)
    return {"method": method, "n_cells": n_cells, **row}
