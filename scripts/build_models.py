"""Rebuild the built-in annotators in ``src/celltyper/models`` from the real data in ``../shared/data``.

Run from the repository root: ``python scripts/build_models.py [--data-dir ../shared/data]`` (a few minutes, 2 cores).
``pbmc``: Zheng 2017 sorted populations + Kang 2018 control PBMC of 8 donors, labels harmonised by ``PBMC_LABELS``, on
the genes both studies measured; linear classifier, no latent model. Twins fitted without one Kang donor or without the
Zheng study annotate the cells left out; those scores, and the shipped model's on IFN-β-stimulated Kang
cells it never saw, are recorded on the model card.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anndata as ad
import pandas as pd

import celltyper as ct
from celltyper._keys import UNKNOWN
from celltyper.benchmark._data import load_real_dataset
from celltyper.benchmark._metrics import classification_metrics
from celltyper.benchmark._suite import BATCH, LABELS, PBMC_LABELS, _pbmc

OUT = Path(__file__).resolve().parents[1] / "src" / "celltyper" / "models"
STUDIES = {"zheng_sorted": None, "kang_8donors": "donor"}  # dataset → its donor column (None: one batch)
HELD_OUT_DONOR = "kang_1015"  # the largest of the 8 donors
FIT = {"labels_key": LABELS, "layer": "counts", "batch_key": BATCH, "latent": False, "progress_bar": False}


def reference(data_dir: Path) -> ad.AnnData:
    """Both studies on the genes they share, harmonised labels in ``obs["cell_type"]``, study or donor in ``batch``."""
    parts = {name: _pbmc(name, data_dir, batch) for name, batch in STUDIES.items()}
    parts["kang_8donors"].obs[BATCH] = "kang_" + parts["kang_8donors"].obs[BATCH].astype(str)
    both = ad.concat(parts, join="inner", label="study", index_unique="-")
    both.var["gene_ids"] = parts["kang_8donors"].var.loc[both.var_names, "gene_id"].to_numpy()  # Zheng has none
    return both


def label_table(data_dir: Path, cell_types: list[str]) -> str:
    """Markdown table: each harmonised type and the study labels ``PBMC_LABELS`` maps to it."""
    raw = {name: set(load_real_dataset(name, data_dir).obs["cell_type"].astype(str)) for name in STUDIES}
    lines = ["| cell type | " + " | ".join(STUDIES) + " |", "|---" * (len(STUDIES) + 1) + "|"]
    for cell_type in cell_types:
        cells = [
            ", ".join(sorted(k for k, v in PBMC_LABELS.items() if v == cell_type and k in raw[n])) for n in STUDIES
        ]
        lines.append(f"| {cell_type} | " + " | ".join(c or "—" for c in cells) + " |")
    return "\n".join(lines)


def latent_megabytes(both: ad.AnnData) -> float:
    """Size on disk of the CountVAE ``latent=True`` would add (its shape, untrained: training changes no size)."""
    ct.CountVAE.setup_anndata(both, layer="counts", batch_key=BATCH)
    with tempfile.TemporaryDirectory() as folder:
        ct.CountVAE(both, encode_covariates=True, n_latent=20).save(folder, overwrite=True)
        return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 1e6


def predictions(annotator: ct.Annotator, query: ad.AnnData) -> pd.Series:
    query = query.copy()
    annotator.annotate(query, progress_bar=False)
    return query.obs["celltyper_prediction"].astype(str)


def scores(truth: pd.Series, predicted: pd.Series) -> dict[str, float]:
    """Accuracy and macro F1 over the query's types ("Unknown" counts as wrong), and the share of "Unknown"."""
    metrics = classification_metrics(truth.astype(str), predicted)
    share_unknown = float((predicted == UNKNOWN).mean())
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "share_unknown": share_unknown}


def evaluations(both: ad.AnnData) -> list[tuple[str, dict[str, float], str]]:
    """Scores of twins (same settings and genes) fitted without one Kang donor, or without the Zheng study."""
    donor = both.obs[BATCH] == HELD_OUT_DONOR
    zheng = both.obs["study"] == "zheng_sorted"
    held_out = {
        f"Kang 2018 control, donor {HELD_OUT_DONOR.removeprefix('kang_')} ({int(donor.sum()):,} cells) held out": (
            donor,
            "A twin of this annotator (same settings and genes) fitted on every other cell annotated this donor's "
            "cells (its largest donor; the other 7 donors and Zheng 2017 were in the twin's reference).",
        ),
        f"Zheng 2017 sorted populations ({int(zheng.sum()):,} cells), study held out": (
            zheng,
            "A twin fitted on the 8 Kang 2018 donors only annotated the Zheng 2017 cells (another lab and "
            "preparation; their labels come from bead sorting).",
        ),
    }
    results = []
    for name, (cells, text) in held_out.items():
        cells = cells.to_numpy()
        twin = ct.Annotator.from_reference(both[~cells].copy(), **FIT)
        results.append((name, scores(both.obs.loc[cells, LABELS], predictions(twin, both[cells])), text))
        print(name, results[-1][1], flush=True)
    return results


def stimulated(data_dir: Path) -> ad.AnnData:
    """Kang 2018's IFN-β-stimulated cells (scGen's split): the 8-donor data holds control cells only."""
    cells = _pbmc("kang_ifnb", data_dir, "condition")
    return cells[(cells.obs[BATCH] == "stimulated").to_numpy()].copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="folder of the real datasets")
    data_dir = parser.parse_args().data_dir
    both = reference(data_dir)
    held_out = evaluations(both)
    cell_types = sorted(both.obs[LABELS].unique())
    description = (
        f"PBMC: {int((both.obs['study'] == 'zheng_sorted').sum()):,} bead-sorted cells of Zheng et al. 2017 (10x "
        f"Genomics, one batch) and {int((both.obs['study'] == 'kang_8donors').sum()):,} control cells of 8 lupus "
        "donors of Kang et al. 2018 (GSE96583, authors' labels, one batch per donor), on the "
        f"{both.n_vars:,} genes both measured. Labels harmonised by `celltyper.benchmark._suite.PBMC_LABELS`:\n\n"
        f"{label_table(data_dir, cell_types)}\n\nNo latent model (fitted with latent=False): a CountVAE on these "
        f"genes would add {latent_megabytes(both.copy()):.1f} MB to the package and a query-mapping training step to "
        "every annotation, so it writes no `obsm['X_celltyper']`. Rebuilt by `python scripts/build_models.py`."
    )
    annotator = ct.Annotator.from_reference(both, **FIT, name="pbmc", description=description)
    for name, metrics, text in held_out:
        annotator.add_evaluation(name, metrics, text)
    query = stimulated(data_dir)
    annotator.add_evaluation(
        f"Kang 2018 IFN-β-stimulated cells ({query.n_obs:,}), a condition it was not fitted on",
        scores(query.obs[LABELS], predictions(annotator, query)),
        "This annotator itself, on the stimulated cells of scGen's Kang split (same donors as the control cells it "
        f"was fitted on, none of these cells); {annotator.genes.isin(query.var_names).sum():,} of the "
        f"{len(annotator.genes):,} genes it reads are in that data, the others read as 0.",
    )
    annotator.save(OUT / "pbmc", overwrite=True)
    print(annotator.model_card())


if __name__ == "__main__":
    main()
