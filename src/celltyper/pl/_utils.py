"""What every plot shares: scanpy-like style, saving to PNG, checking the obs keys it reads."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
from anndata import AnnData
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: rc settings close to scanpy's ``set_figure_params`` defaults, applied only inside celltyper's plots
STYLE: dict[RcKeyType, Any] = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
}


@contextmanager
def style() -> Iterator[None]:
    """Draw with :data:`STYLE` without changing the user's matplotlib settings.

    Only the keys of :data:`STYLE` are set and restored (``plt.rc_context`` would also restore the backend, which
    stops Jupyter's inline backend from showing the figures drawn inside it).
    """
    previous = {key: plt.rcParams[key] for key in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(previous)


def finish(fig: Figure, save: str | Path | None) -> Figure:
    """Lay out ``fig`` and, when ``save`` is a path, write it there as PNG (folders are created)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scanpy's legends and colorbars are not tight_layout-able
        fig.tight_layout()
    if save is not None:
        path = Path(save)
        if path.suffix == "":
            path = path.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight")
    return fig


def check_obs_keys(adata: AnnData, *keys: str, hint: str = "") -> None:
    """Raise a ``KeyError`` naming the missing column(s) of ``adata.obs`` and the ones that exist."""
    missing = [key for key in keys if key not in adata.obs]
    if missing:
        raise KeyError(f"{missing} not in adata.obs (columns: {list(adata.obs)}). {hint}".strip())
