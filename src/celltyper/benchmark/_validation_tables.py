"""The validation suite's rows summarised: per transfer and per left-out type, mean and range over seeds, worst case.

:func:`tradeoff` re-scores the saved per-cell outputs at every threshold of each "Unknown" rule, for the price of
catching novel types.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from celltyper._keys import UNKNOWN

from ._validation_scores import novel_type_scores, transfer_scores


def _mean_range(values: pd.Series, percent: bool = False) -> str:
    scale, digits = (100, 1) if percent else (1, 3)
    values = values.dropna() * scale
    if values.empty:
        return ""
    if values.size == 1 or np.isclose(values.min(), values.max()):
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ({values.min():.{digits}f}–{values.max():.{digits}f})"


def transfer_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per transfer, mean (range over seeds) of each method's macro-F1, the paired difference and the costs.

    Also the suite's summary: mean and worst difference between celltyper and logistic regression.
    """
    transfers = rows[rows["kind"] != "novel type"]
    wide = transfers.pivot_table(index=["transfer", "seed"], columns="method", values="macro_f1")
    difference = (wide["celltyper"] - wide["logreg"]).rename("difference")
    table = []
    for name in dict.fromkeys(transfers["transfer"]):
        runs = transfers[transfers["transfer"] == name]
        ours, theirs = runs[runs["method"] == "celltyper"], runs[runs["method"] == "logreg"]
        scanvi = runs[runs["method"] == "scanvi"]
        celltypist = pd.DataFrame(list(theirs["celltypist_unknown"])) if "celltypist_unknown" in theirs else None
        table.append(
            {
                "transfer": name,
                "kind": runs["kind"].iloc[0],
                "cells (ref → query)": f"{int(runs['n_reference'].iloc[0]):,} → {int(runs['n_query'].iloc[0]):,}",
                "celltyper": _mean_range(ours["macro_f1"]),
                "logistic regression": _mean_range(theirs["macro_f1"]),
                "difference": _mean_range(difference.loc[name]),
                "SCANVI": _mean_range(scanvi["macro_f1"]) if len(scanvi) else "",
                "celltyper Unknown %": _mean_range(ours["unknown"], percent=True),
                "worst type Unknown %": _mean_range(ours["worst_type_unknown"], percent=True),
                "CellTypist-style Unknown %": _mean_range(celltypist["unknown"], percent=True)
                if celltypist is not None
                else "",
                "seconds (celltyper / logreg)": f"{ours['seconds'].mean():.0f} / {theirs['seconds'].mean():.1f}",
            }
        )
    per_transfer = difference.groupby(level="transfer").mean()
    summary = {
        "mean_difference": float(per_transfer.mean()),
        "worst_transfer": str(per_transfer.idxmin()),
        "worst_difference": float(per_transfer.min()),
        "worst_single_seed_difference": float(difference.min()),
        "transfers_within_0.005": int((per_transfer >= -0.005).sum()),
        "n_transfers": int(per_transfer.size),
        "worst_unknown": float(transfers.loc[transfers["method"] == "celltyper", "unknown"].max()),
        "worst_type_unknown": float(transfers.loc[transfers["method"] == "celltyper", "worst_type_unknown"].max()),
    }
    return pd.DataFrame(table), summary


def novel_type_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per left-out type, mean (range over seeds): each score's AUROC and what each method's "Unknown" calls did."""
    novel = rows[rows["kind"] == "novel type"]
    flat = []
    for _, row in novel.iterrows():
        for score, values in row["scores"].items():
            flat.append(
                {
                    "source": row["source"],
                    "novel_type": row["novel_type"],
                    "seed": row["seed"],
                    "method": row["method"],
                    "score": score,
                    **values,
                }
            )
    flat = pd.DataFrame(flat)
    table = []
    for (source, novel_type), runs in flat.groupby(["source", "novel_type"], sort=False):

        def pick(method, score, column, percent=False, runs=runs):
            chosen = runs[(runs["method"] == method) & (runs["score"] == score)][column]
            return _mean_range(chosen, percent)

        table.append(
            {
                "source": source,
                "left out": novel_type,
                "AUROC celltyper novelty": pick("celltyper", "novelty", "auroc"),
                "AUROC celltyper 1 − confidence": pick("celltyper", "1 - confidence", "auroc"),
                "AUROC logreg 1 − p": pick("logreg", "1 - confidence", "auroc"),
                "AUROC SCANVI 1 − p": pick("scanvi", "1 - confidence", "auroc"),
                "celltyper: left-out called Unknown %": pick("celltyper", "novelty", "novel_called_unknown", True),
                "celltyper: worst known type Unknown %": pick("celltyper", "novelty", "worst_known_type_unknown", True),
                "CellTypist-style: left-out Unknown %": pick("logreg", "1 - confidence", "novel_called_unknown", True),
                "CellTypist-style: worst known type %": pick(
                    "logreg", "1 - confidence", "worst_known_type_unknown", True
                ),
            }
        )
    means = flat.groupby(["method", "score", "source", "novel_type"])["auroc"].mean().groupby(["method", "score"])
    summary = {f"{m} {s}": {"mean_auroc": float(v.mean()), "worst_auroc": float(v.min())} for (m, s), v in means}
    return pd.DataFrame(table).dropna(axis=1, how="all"), summary


def tradeoff(out_dir: str | Path, rows: pd.DataFrame) -> pd.DataFrame:
    """For every rule and threshold: the price of finding novel types.

    The worst transfer's share of known cells called "Unknown" (mean over seeds), its worst type's share, and the mean
    share of the left-out types' cells caught.
    """
    cells_dir = Path(out_dir) / "cells"
    rules = {
        "celltyper novelty >": ("celltyper", "novelty", np.round(np.arange(0.3, 1.0001, 0.05), 2), np.greater),
        "celltyper confidence <": ("celltyper", "confidence", np.round(np.arange(0.0, 0.9001, 0.05), 2), np.less),
        "logreg probability <": ("logreg", "confidence", np.round(np.arange(0.0, 0.9001, 0.05), 2), np.less),
    }
    results = []
    for rule, (method, column, thresholds, compare) in rules.items():
        runs = rows[rows["method"] == method]
        if runs.empty:
            continue
        loaded = [
            (row, pd.read_csv(cells_dir / f"{method}__{row['transfer']}__{row['seed']}.csv.gz"))
            for _, row in runs.iterrows()
        ]
        for threshold in thresholds:
            closed, novel = [], []
            for row, cells in loaded:
                unknown = compare(cells[column].to_numpy(), threshold)
                truth = cells["truth"].to_numpy(dtype=object)
                if row["kind"] == "novel type":
                    novel.append(novel_type_scores(truth == row["novel_type"], unknown, unknown, truth))
                else:
                    closed.append(
                        {"transfer": row["transfer"], **transfer_scores(truth, np.where(unknown, UNKNOWN, truth))}
                    )
            closed = pd.DataFrame(closed).groupby("transfer")[["unknown", "worst_type_unknown"]].mean()
            novel = pd.DataFrame(novel)
            results.append(
                {
                    "rule": rule,
                    "threshold": float(threshold),
                    "worst transfer Unknown": float(closed["unknown"].max()),
                    "worst type Unknown": float(closed["worst_type_unknown"].max()),
                    "left-out type caught": float(novel["novel_called_unknown"].mean()) if len(novel) else np.nan,
                    "known types of LOTO Unknown": float(novel["known_called_unknown"].mean())
                    if len(novel)
                    else np.nan,
                }
            )
    return pd.DataFrame(results)
