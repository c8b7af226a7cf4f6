"""What ``celltyper transfer`` and ``celltyper annotate`` write next to the annotated cells: figures and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from celltyper import _keys as keys
from celltyper import pl
from celltyper._keys import UNKNOWN
from celltyper.pp._prepare import MIN_CELLS_UMAP

from ._outputs import write_evaluation

UNKNOWN_COLUMN = "is_unknown"


def predictions_table(adata: AnnData, probabilities: pd.DataFrame) -> pd.DataFrame:
    """The prediction, confidence and novelty of every cell, then one ``p_{type}`` column per type."""
    columns = [keys.prediction_key(), keys.confidence_key(), keys.novelty_key()]
    columns += [c for c in (keys.majority_voting_key(),) if c in adata.obs]
    return pd.concat([adata.obs[columns], probabilities.add_prefix("p_")], axis=1)


def _umap(adata: AnnData) -> AnnData | None:
    """A light copy with a UMAP: of the latent positions when there are some, else of the cells' own expression."""
    if adata.n_obs < MIN_CELLS_UMAP:
        print(f"no UMAP: {adata.n_obs} cells are fewer than the {MIN_CELLS_UMAP} a neighbour graph and UMAP need")
        return None
    latent = keys.latent_key()
    if latent in adata.obsm:
        embedded = AnnData(obs=adata.obs.copy(), obsm={latent: np.nan_to_num(adata.obsm[latent])})
        sc.pp.neighbors(embedded, use_rep=latent)
    else:
        embedded = AnnData(X=adata.X.copy(), obs=adata.obs.copy(), var=pd.DataFrame(index=adata.var_names))
        sc.pp.normalize_total(embedded, target_sum=1e4)
        sc.pp.log1p(embedded)
        sc.pp.pca(embedded, n_comps=min(30, embedded.n_vars - 1, embedded.n_obs - 1))
        sc.pp.neighbors(embedded)
    sc.tl.umap(embedded)
    return embedded


def write_report(adata: AnnData, probabilities: pd.DataFrame, out: Path, labels_key: str | None, title: str) -> dict:
    """Write the figures, ``metrics.json`` (with labels) and ``report.md`` of annotated cells; return their paths.

    Figures: UMAP by prediction, confidence and Unknown; confidence per predicted type; with ``labels_key`` the
    confusion matrix and per-type F1.
    """
    figures, written = out / "figures", {}
    prediction = adata.obs[keys.prediction_key()]
    embedded = _umap(adata)
    if embedded is not None:
        embedded.obs[UNKNOWN_COLUMN] = pd.Categorical(np.where(prediction == UNKNOWN, UNKNOWN, "known"))
        colors = [keys.prediction_key(), keys.confidence_key(), UNKNOWN_COLUMN]
        colors += [labels_key] if labels_key else []
        written["umap"] = figures / "umap_predictions.png"
        pl.umap(embedded, colors, save=written["umap"])
    written["confidence"] = figures / "confidence_per_type.png"
    pl.confidence_histograms(adata, save=written["confidence"])
    metrics: dict[str, Any] = {}
    if labels_key is not None:
        evaluation, metrics = write_evaluation(adata, labels_key, probabilities, out)
        written |= evaluation
    plt.close("all")
    counts = prediction.value_counts()
    lines = [f"# {title}", "", f"{adata.n_obs:,} cells; {int(counts.get(UNKNOWN, 0)):,} Unknown.", ""]
    if metrics:
        lines += [
            f"Against `{labels_key}`: accuracy {metrics['accuracy']:.3f}, macro F1 {metrics['macro_f1']:.3f}.",
            "",
        ]
    lines += ["| predicted type | cells |", "|---|---:|"] + [f"| {t} | {n:,} |" for t, n in counts.items() if n]
    lines += [""] + [f"![{name}]({path.relative_to(out)})" for name, path in written.items() if path.suffix == ".png"]
    written["report"] = out / "report.md"
    written["report"].write_text("\n".join(lines) + "\n")
    return written
