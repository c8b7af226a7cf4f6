"""The tasks of the label-transfer benchmark (``benchmarks/transfer.py``) and what each scores.

- ``kang`` / ``kang_8donors``: labelled queries, scored by macro-F1, accuracy, ECE and the share called "Unknown".
- ``zheng``: an unlabelled query (frozen donor A), scored by marker agreement: the share of cells whose predicted
  lineage (T / B / NK / monocyte) has the highest mean marker z-score; its predicted composition is kept too.
- ``novel``: Kang control → stimulated with one type left out of the reference, scored by how well 1 − confidence
  separates that type's query cells (AUROC) and the shares of novel and known cells called "Unknown".

Every task returns one row (a dict for ``results.json``) per method; :func:`run_transfer_task` runs one by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from sklearn.metrics import roc_auc_score

from celltyper.tl._calibration import expected_calibration_error

from ._logreg import log_normalized
from ._metrics import classification_metrics
from ._pairs import kang_conditions, kang_donors, zheng_to_donor_a
from ._transfer_methods import TransferMethodRun, TransferPair, TransferSettings, run_transfer_methods

#: Confidence below which a cell counts as "Unknown" (celltyper's default unknown_threshold), for the methods that do
#: not call "Unknown" themselves.
UNKNOWN_THRESHOLD = 0.5
TRANSFER_TASKS = ("kang", "kang_8donors", "zheng", "novel")
TASK_TITLES = {
    "kang": "kang ctrl→stim",
    "kang_8donors": "kang 4 donors→4 donors",
    "zheng": "zheng sorted→donor A",
    "novel": "novel type",
}
#: Marker genes of the four lineages of the Zheng sorted types (scanpy PBMC tutorial markers).
LINEAGE_MARKERS = {
    "T": ["CD3D", "CD3E", "IL7R"],
    "B": ["MS4A1", "CD79A", "CD79B"],
    "NK": ["GNLY", "NKG7", "KLRF1"],
    "monocyte": ["CD14", "LYZ", "FCGR3A"],
}
ZHENG_LINEAGE = {
    "bcells": "B",
    "nk": "NK",
    "monocytes": "monocyte",
    **dict.fromkeys(("memoryt", "regulatoryt", "thelper", "cytotoxict", "naivet", "naivecytotoxic"), "T"),
}


def confidences(run: TransferMethodRun) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Take out of ``run.extra`` the confidence, the "Unknown" calls and further scores to report AUROCs of.

    The confidence is the method's own, else its top probability; the "Unknown" calls are its own, else a confidence
    below :data:`UNKNOWN_THRESHOLD`. What is left in ``run.extra`` are numbers to report.
    """
    confidence = run.extra.pop("confidence", run.probabilities.max(1))
    return confidence, run.extra.pop("unknown", confidence < UNKNOWN_THRESHOLD), run.extra.pop("scores", {})


def predicted_types(run: TransferMethodRun) -> list[str]:
    """The query cells' most probable types (no "Unknown")."""
    return np.asarray(run.classes, dtype=object)[run.probabilities.argmax(1)].tolist()


def marker_lineages(query: AnnData, markers: Mapping[str, Sequence[str]] = LINEAGE_MARKERS) -> np.ndarray:
    """Per cell, the lineage whose markers have the highest mean z-score of log1p(CP10k); missing markers ignored."""
    present = {lineage: [g for g in genes if g in query.var_names] for lineage, genes in markers.items()}
    expression = pd.DataFrame(log_normalized(query).toarray(), index=query.obs_names, columns=query.var_names)
    z = (expression - expression.mean()) / expression.std().replace(0, 1)
    return pd.DataFrame({k: z[v].mean(1) for k, v in present.items()}).idxmax(axis=1).to_numpy()


def marker_agreement(
    predicted: Sequence[str], lineages: np.ndarray, lineage_of_type: Mapping[str, str] = ZHENG_LINEAGE
) -> float:
    """Share of cells whose predicted type's lineage is their marker lineage (:func:`marker_lineages`)."""
    return float((pd.Series(predicted).map(lineage_of_type).to_numpy() == lineages).mean())


def novel_type_scores(
    novel: np.ndarray, confidence: np.ndarray, unknown: np.ndarray, scores: Mapping[str, np.ndarray]
) -> tuple[dict[str, float], dict[str, float]]:
    """How well a method flags the query cells of a type its reference lacks (``novel``, a boolean mask).

    Returns the AUROC of 1 − ``confidence`` separating novel from known cells and the shares of novel and known cells
    called "Unknown"; then, for each of ``scores``, the AUROC of 1 − score as ``auroc_novel_<name>``.
    """
    shares = {
        "auroc_novel": float(roc_auc_score(novel, 1 - confidence)),
        "unknown_novel": float(unknown[novel].mean()),
        "unknown_known": float(unknown[~novel].mean()),
    }
    return shares, {f"auroc_novel_{k}": float(roc_auc_score(novel, 1 - v)) for k, v in scores.items()}


def labelled_task(title: str, pair: TransferPair, settings: TransferSettings) -> list[dict]:
    """Rows of a query with known labels: macro-F1, accuracy, ECE, share called "Unknown" and the method's extras."""
    truth = pair.query.obs[pair.labels_key].astype(str).to_numpy()
    rows = []
    for run in run_transfer_methods(pair, settings):
        _, unknown, _ = confidences(run)
        run.extra["unknown_known"] = float(unknown.mean())
        scores = classification_metrics(truth, predicted_types(run), labels=sorted(set(truth)))
        rows.append(
            {
                "task": title,
                "method": run.method,
                "macro_f1": scores["macro_f1"],
                "accuracy": scores["accuracy"],
                "ece_query": expected_calibration_error(truth, run.probabilities, run.classes),
                "seconds": run.seconds,
                "per_class_f1": scores["per_class_f1"],
                **run.extra,
            }
        )
    return rows


def zheng_task(settings: TransferSettings) -> list[dict]:
    """Rows of Zheng sorted → donor A: marker agreement, predicted composition, share called "Unknown"."""
    reference, query = zheng_to_donor_a(settings.data_dir)
    lineages = marker_lineages(query)
    rows = []
    for run in run_transfer_methods(TransferPair(reference, query, "cell_type"), settings):
        _, unknown, _ = confidences(run)
        run.extra["unknown_fraction"] = float(unknown.mean())
        predicted = predicted_types(run)
        rows.append(
            {
                "task": "zheng_sorted→donorA",
                "method": run.method,
                "marker_agreement": marker_agreement(predicted, lineages),
                "seconds": run.seconds,
                "composition": pd.Series(predicted).value_counts(normalize=True).round(3).to_dict(),
                **run.extra,
            }
        )
    return rows


def novel_task(settings: TransferSettings) -> list[dict]:
    """Rows of Kang control → stimulated with each of ``settings.novel_types`` left out of the reference in turn."""
    rows = []
    for dropped in settings.novel_types:
        reference, query = kang_conditions(drop=dropped)
        novel = (query.obs["cell_type"].astype(str) == dropped).to_numpy()
        for run in run_transfer_methods(TransferPair(reference, query, "cell_type"), settings):
            shares, aurocs = novel_type_scores(novel, *confidences(run))
            row = {"task": f"novel type ({dropped} left out)", "method": run.method, **shares, "seconds": run.seconds}
            rows.append({**row, **aurocs, **run.extra})
    return rows


def run_transfer_task(task: str, settings: TransferSettings) -> list[dict]:
    """The rows of one of :data:`TRANSFER_TASKS`, one per method of ``settings``."""
    if task == "kang":
        return labelled_task(TASK_TITLES[task], TransferPair(*kang_conditions(), "cell_type"), settings)
    if task == "kang_8donors":
        return labelled_task(
            TASK_TITLES[task], TransferPair(*kang_donors(settings.data_dir), "cell_type", "donor"), settings
        )
    if task == "zheng":
        return zheng_task(settings)
    if task == "novel":
        return novel_task(settings)
    raise ValueError(f"Unknown transfer task {task!r}; choose from {TRANSFER_TASKS}.")
