# ruff: noqa: E501
"""pl.confusion_matrix vs sklearn ConfusionMatrixDisplay on 2,000 made-up predictions (80 % right, half the rest Unknown); writes both PNGs to the temporary folder."""

import tempfile
import time
import warnings
from pathlib import Path

import anndata as ad
import matplotlib
import numpy as np

matplotlib.use("Agg")
from sklearn.metrics import ConfusionMatrixDisplay

import celltyper as ct

rng = np.random.default_rng(0)
classes = np.array(["B", "CD4 T", "CD8 T", "NK", "Mono", "DC"])
truth = classes[rng.integers(0, 6, 2000)]
pred = np.where(
    rng.random(2000) < 0.8, truth, np.where(rng.random(2000) < 0.5, "Unknown", classes[rng.integers(0, 6, 2000)])
)
a = ad.AnnData(np.zeros((2000, 1), dtype=np.float32))
a.obs["cell_type"] = truth
a.obs["celltyper_prediction"] = pred
s = time.perf_counter()
ct.pl.confusion_matrix(a, "cell_type", save=Path(tempfile.gettempdir()) / "cm_celltyper.png")
print(f"ours {time.perf_counter() - s:.2f} s")
labels = sorted(classes) + ["Unknown"]
s = time.perf_counter()
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    d = ConfusionMatrixDisplay.from_predictions(
        truth, pred, labels=labels, normalize="true", cmap="Blues", values_format=".2f", xticks_rotation=60
    )
d.figure_.savefig(Path(tempfile.gettempdir()) / "cm_sklearn.png", bbox_inches="tight")
print(
    f"sklearn {time.perf_counter() - s:.2f} s; shape {d.confusion_matrix.shape}; warnings {[str(x.message)[:80] for x in w]}"
)
try:
    ConfusionMatrixDisplay(np.ones((6, 7)), display_labels=labels).plot()
    print("non-square: drawn")
except ValueError as e:
    print("non-square:", type(e).__name__, str(e)[:120])
