"""How label transfer degrades as a query lacks more of the genes an annotator reads, on the validation suite.

The measurement behind :data:`celltyper._gene_overlap.MIN_GENE_OVERLAP` (the fraction under which a query is refused)
and ``WARN_GENE_OVERLAP``. On each transfer an annotator is fitted on the reference alone (as a shared or built-in
one is: its genes are the reference's, not chosen with the query), then annotates the query with a random
``fraction`` of the genes it reads kept and the others removed, which it reads as zero. Scored: macro-F1 with
"Unknown" a miss, the worst case over transfers per fraction deciding where a query stops being usable.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from celltyper import _keys as keys
from celltyper.tl import Annotator

from ._script_output import pipe_table
from ._suite import BATCH, LABELS, Transfer
from ._validation_scores import transfer_scores

#: Fractions of the annotator's genes the query keeps (of those it had to start with).
FRACTIONS = (1.0, 0.8, 0.5, 0.35, 0.25, 0.15, 0.1)


def sweep_transfer(transfer: Transfer, fractions: Sequence[float], seed: int = 0) -> list[dict]:
    """One row per fraction: the fraction of the annotator's genes found in the query, macro-F1 and Unknown share."""
    annotator = Annotator.from_reference(
        transfer.reference, LABELS, layer="counts", batch_key=BATCH, latent=False, min_gene_overlap=0.0,
        random_state=seed, progress_bar=False,
    )  # fmt: skip
    present = annotator.genes[annotator.genes.isin(transfer.query.var_names)]
    rng = np.random.default_rng(seed)
    rows = []
    for fraction in fractions:
        kept = present[np.sort(rng.choice(len(present), round(fraction * len(present)), replace=False))]
        query = transfer.query[:, ~transfer.query.var_names.isin(present.difference(kept))].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the missing-genes warning is the point here
            annotator.annotate(query, layer="counts", progress_bar=False, random_state=seed)
        truth = query.obs[LABELS].astype(str).to_numpy()
        scores = transfer_scores(truth, query.obs[keys.prediction_key()].astype(str).to_numpy())
        rows.append(
            {
                "transfer": transfer.name,
                "kept": fraction,
                "genes_found": len(kept) / len(annotator.genes),
                "macro_f1": scores["macro_f1"],
                "unknown_fraction": float((query.obs[keys.prediction_key()] == keys.UNKNOWN).mean()),
            }
        )
    return rows


def sweep_report(rows: list[dict]) -> list[str]:
    """Markdown: per transfer macro-F1 at each kept fraction, then the mean and worst case per fraction."""
    frame = pd.DataFrame(rows)
    f1 = frame.pivot(index="transfer", columns="kept", values="macro_f1").sort_index(axis=1, ascending=False)
    found = frame.pivot(index="transfer", columns="kept", values="genes_found").sort_index(axis=1, ascending=False)
    header = ["transfer", *(f"{kept:.0%} kept" for kept in f1.columns)]
    body = [[name, *(f"{f1.loc[name, k]:.3f} ({found.loc[name, k]:.0%})" for k in f1.columns)] for name in f1.index]
    body.append(["**mean**", *(f"{f1[k].mean():.3f}" for k in f1.columns)])
    body.append(["**worst**", *(f"{f1[k].min():.3f}" for k in f1.columns)])
    drop = f1.sub(f1[1.0], axis=0)
    body.append(["**worst loss vs all kept**", *(f"{drop[k].min():+.3f}" for k in f1.columns)])
    return pipe_table(header, body, text_columns=1)
