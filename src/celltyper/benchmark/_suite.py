"""The validation suite: transfers across donors, studies, conditions, tissues and platforms, for choosing defaults.

Every default of :func:`celltyper.tl.transfer_labels` is chosen on these transfers, by its worst case and its mean,
never on the project benchmark's own tasks (``docs/transfer.md``). PBMC labels of the four studies are harmonised
by :data:`PBMC_LABELS`; where one side only knows "Monocyte", both sides are read at that level. A transfer's query
holds only types its reference has, so every "Unknown" call on it is a false one. Leave-one-type-out tasks
(:func:`novel_type_transfers`) measure the other half of "Unknown": a type the reference lacks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from anndata import AnnData

from celltyper._split import holdout_split
from celltyper.datasets import shift_technology

from ._data import load_real_dataset

#: Every PBMC label of the suite's four studies → one harmonised name (Kang 2018 scGen split, Kang 2018 8 donors,
#: Zheng 2017 sorted populations, 10x PBMC 8k). Labels not listed (PBMC 8k's "NA", "HSC", "Erythrocytes": 41 cells)
#: are dropped.
PBMC_LABELS: dict[str, str] = {
    # Kang 2018, scGen's split (control / IFN-β stimulated)
    "CD4T": "CD4 T",
    "CD8T": "CD8 T",
    "B": "B",
    "NK": "NK",
    "CD14+Mono": "CD14 Mono",
    "FCGR3A+Mono": "FCGR3A Mono",
    "Dendritic": "DC",
    # Kang 2018, control PBMC of 8 donors (muscat)
    "CD4 T cells": "CD4 T",
    "CD8 T cells": "CD8 T",
    "B cells": "B",
    "NK cells": "NK",  # also PBMC 8k's name
    "CD14+ Monocytes": "CD14 Mono",
    "FCGR3A+ Monocytes": "FCGR3A Mono",
    "Dendritic cells": "DC",
    "Megakaryocytes": "Megakaryocyte",
    # Zheng 2017, bead-sorted populations (CD4+: helper, memory, regulatory, naive; CD8+: cytotoxic, naive cytotoxic)
    "bcells": "B",
    "nk": "NK",
    "monocytes": "CD14 Mono",
    "thelper": "CD4 T",
    "memoryt": "CD4 T",
    "regulatoryt": "CD4 T",
    "naivet": "CD4 T",
    "cytotoxict": "CD8 T",
    "naivecytotoxic": "CD8 T",
    # 10x PBMC 8k (OSCA annotation; monocytes not split into CD14 / FCGR3A)
    "B-cells": "B",
    "CD4+ T-cells": "CD4 T",
    "CD8+ T-cells": "CD8 T",
    "Monocytes": "Monocyte",
}
#: The coarser level used when one side of a transfer only knows "Monocyte".
COARSE_MONOCYTES = {"CD14 Mono": "Monocyte", "FCGR3A Mono": "Monocyte"}
LABELS, BATCH = "cell_type", "batch"  # the obs columns of every suite AnnData


@dataclass
class Transfer:
    """One reference → query transfer of the suite.

    Attributes
    ----------
    name
        Short identifier (``"kang8_4to4"`` …).
    kind
        What changes between reference and query: ``"donors"``, ``"study"``, ``"condition"``, ``"technology"``
        (simulated, :func:`~celltyper.datasets.shift_technology`) or ``"novel type"``.
    description
        One line for the report.
    reference, query
        Raw counts in ``X`` and ``layers["counts"]``, labels in ``obs["cell_type"]``, batch in ``obs["batch"]``, each
        on its own genes (as a user would have them).
    novel_type
        The type left out of the reference (``"novel type"`` transfers), else ``None``.
    """

    name: str
    kind: str
    description: str
    reference: AnnData
    query: AnnData
    novel_type: str | None = None


def _pbmc(name: str, data_dir, batch: str | None = None) -> AnnData:
    """A PBMC dataset with harmonised labels in ``obs["cell_type"]`` and ``obs["batch"]``."""
    adata = load_real_dataset(name, data_dir)
    labels = adata.obs["cell_type"].astype(str).map(PBMC_LABELS)
    adata = adata[labels.notna().to_numpy()].copy()
    adata.obs[LABELS] = labels.dropna().to_numpy()
    adata.obs[BATCH] = adata.obs[batch].astype(str).to_numpy() if batch is not None else name
    return adata


def _labelled(name: str, data_dir) -> AnnData:
    """A non-PBMC labelled dataset with its own labels and one batch."""
    adata = load_real_dataset(name, data_dir)
    adata.obs[LABELS] = adata.obs["cell_type"].astype(str).to_numpy()
    adata.obs[BATCH] = name
    return adata


def _coarse(adata: AnnData) -> AnnData:
    adata.obs[LABELS] = adata.obs[LABELS].replace(COARSE_MONOCYTES).to_numpy()
    return adata


def _only_reference_types(reference: AnnData, query: AnnData) -> AnnData:
    """The query cells whose type the reference has (so that every "Unknown" on the query is a false one)."""
    return query[query.obs[LABELS].isin(set(reference.obs[LABELS])).to_numpy()].copy()


def _halves(adata: AnnData, seed: int) -> tuple[AnnData, AnnData]:
    """A stratified 50 / 50 split of ``adata`` into reference and query."""
    reference, query = holdout_split(adata.obs[LABELS].to_numpy(), 0.5, seed)
    return adata[reference].copy(), adata[query].copy()


def _by_donors(adata: AnnData, reversed_: bool) -> tuple[AnnData, AnnData]:
    donors = sorted(adata.obs[BATCH].unique())
    first = adata.obs[BATCH].isin(donors[:4]).to_numpy()
    parts = adata[first].copy(), adata[~first].copy()
    return parts[::-1] if reversed_ else parts


def _with_shifted_query(build: Callable) -> Callable:
    """The builder ``build`` with its query counted by a simulated other platform (drawn with the same seed)."""

    def shifted(data_dir, seed: int) -> tuple[AnnData, AnnData]:
        reference, query = build(data_dir, seed)
        return reference, shift_technology(query, layer="counts", seed=seed)

    return shifted


def _transfer(name, kind, description, reference, query, novel_type=None) -> Transfer:
    return Transfer(name, kind, description, reference, _only_reference_types(reference, query), novel_type)


def _kang_conditions(data_dir) -> tuple[AnnData, AnnData]:
    kang = _pbmc("kang_ifnb", data_dir, "condition")
    return kang[kang.obs[BATCH] == "control"].copy(), kang[kang.obs[BATCH] == "stimulated"].copy()


#: name → (kind, description, builder(data_dir, seed) → (reference, query)).
TRANSFERS: dict[str, tuple[str, str, Callable]] = {
    "kang8_4to4": (
        "donors",
        "Kang 8 donors: first 4 donors → other 4",
        lambda d, s: _by_donors(_pbmc("kang_8donors", d, "donor"), reversed_=False),
    ),
    "kang8_4to4_reversed": (
        "donors",
        "Kang 8 donors: last 4 donors → first 4",
        lambda d, s: _by_donors(_pbmc("kang_8donors", d, "donor"), reversed_=True),
    ),
    "kang_ctrl_to_stim": ("condition", "Kang control → IFN-β stimulated", lambda d, s: _kang_conditions(d)),
    "kang8_to_kang_stim": (
        "condition",
        "Kang 8 donors (control) → Kang stimulated, another sample of the study (590 shared genes)",
        lambda d, s: (_pbmc("kang_8donors", d, "donor"), _kang_conditions(d)[1]),
    ),
    "zheng_to_kang8": (
        "study",
        "Zheng sorted → Kang 8 donors",
        lambda d, s: (_pbmc("zheng_sorted", d), _pbmc("kang_8donors", d, "donor")),
    ),
    "kang8_to_zheng": (
        "study",
        "Kang 8 donors → Zheng sorted",
        lambda d, s: (_pbmc("kang_8donors", d, "donor"), _pbmc("zheng_sorted", d)),
    ),
    "kang_ctrl_to_zheng": (
        "study",
        "Kang control → Zheng sorted",
        lambda d, s: (_kang_conditions(d)[0], _pbmc("zheng_sorted", d)),
    ),
    "zheng_to_pbmc8k": (
        "study",
        "Zheng sorted → 10x PBMC 8k (monocytes coarse; 127 shared genes)",
        lambda d, s: (_coarse(_pbmc("zheng_sorted", d)), _pbmc("pbmc8k", d)),
    ),
    "kang_ctrl_to_pbmc8k": (
        "study",
        "Kang control → 10x PBMC 8k (monocytes coarse; 149 shared genes)",
        lambda d, s: (_coarse(_kang_conditions(d)[0]), _pbmc("pbmc8k", d)),
    ),
    "pbmc8k_to_zheng": (
        "study",
        "10x PBMC 8k (200 genes) → Zheng sorted (monocytes coarse)",
        lambda d, s: (_pbmc("pbmc8k", d), _coarse(_pbmc("zheng_sorted", d))),
    ),
    "kang8_4to4_shifted": (
        "technology",
        "Kang 8 donors 4 → 4, query on a simulated other platform",
        _with_shifted_query(lambda d, s: _by_donors(_pbmc("kang_8donors", d, "donor"), False)),
    ),
    "zheng_halves_shifted": (
        "technology",
        "Zheng sorted, 9 fine types, half → half, query on a simulated other platform",
        _with_shifted_query(lambda d, s: _halves(_labelled("zheng_sorted", d), s)),
    ),
    "pancreas_halves_shifted": (
        "technology",
        "mouse pancreas endocrinogenesis (8 types, a continuum), half → half, query on a simulated other platform",
        _with_shifted_query(lambda d, s: _halves(_labelled("mouse_pancreas", d), s)),
    ),
    "paul15_halves_shifted": (
        "technology",
        "Paul 2015 mouse bone marrow (MARS-seq, 240 genes), half → half, query on a simulated other platform",
        _with_shifted_query(lambda d, s: _halves(_labelled("paul15", d), s)),
    ),
    "tabula_muris_halves_shifted": (
        "technology",
        "Tabula Muris mouse immune cells, half → half, query on a simulated other platform",
        _with_shifted_query(lambda d, s: _halves(_labelled("tabula_muris_immune", d), s)),
    ),
    "pancreas_halves": (
        "tissue",
        "mouse pancreas endocrinogenesis, half → half (same platform)",
        lambda d, s: _halves(_labelled("mouse_pancreas", d), s),
    ),
}


def suite_transfers(
    names: list[str] | None = None, data_dir: str | os.PathLike | None = None, seed: int = 0
) -> list[Transfer]:
    """The transfers of :data:`TRANSFERS` (all, or ``names``); ``seed`` draws the halves and the simulated platform."""
    unknown = set(names or []) - set(TRANSFERS)
    if unknown:
        raise KeyError(f"Unknown transfers {sorted(unknown)}; choose from {list(TRANSFERS)}.")
    transfers = []
    for name in names or TRANSFERS:
        kind, description, build = TRANSFERS[name]
        transfers.append(_transfer(name, kind, description, *build(data_dir, seed)))
    return transfers


#: name → (description, builder(data_dir, seed) → (reference, query)) of the leave-one-type-out datasets.
NOVEL_TYPE_SOURCES: dict[str, tuple[str, Callable]] = {
    "zheng_halves": (
        "Zheng sorted, half → half",
        lambda d, s: _halves(_labelled("zheng_sorted", d), s),
    ),
    "kang8_4to4": (
        "Kang 8 donors, first 4 → other 4",
        lambda d, s: _by_donors(_pbmc("kang_8donors", d, "donor"), reversed_=False),
    ),
}


def novel_type_transfers(
    source: str, data_dir: str | os.PathLike | None = None, seed: int = 0, types: list[str] | None = None
) -> list[Transfer]:
    """Leave-one-type-out transfers: each type of the source left out of the reference in turn; the query keeps all."""
    if source not in NOVEL_TYPE_SOURCES:
        raise KeyError(f"Unknown source {source!r}; choose from {list(NOVEL_TYPE_SOURCES)}.")
    description, build = NOVEL_TYPE_SOURCES[source]
    reference, query = build(data_dir, seed)
    transfers = []
    for novel in types or sorted(pd.unique(reference.obs[LABELS])):
        kept = reference[reference.obs[LABELS] != novel].copy()
        transfers.append(
            Transfer(f"{source}_without_{novel}", "novel type", f"{description}, {novel} left out", kept, query, novel)
        )
    return transfers
