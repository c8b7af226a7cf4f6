"""What :func:`celltyper.pp.prepare` did to an AnnData, as a small record that prints as a table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class PrepareSummary:
    """Cells and genes before and after :func:`~celltyper.pp.prepare`, and why cells were removed.

    Attributes
    ----------
    n_cells_before, n_cells_after
        Cells before and after filtering.
    n_genes_before, n_genes_after
        Genes before and after filtering (and the optional subset to highly variable genes).
    cells_failing
        For each filter (``"min_genes"``, ``"max_genes"``, ``"min_counts"``, ``"max_counts"``, ``"max_pct_mt"``),
        how many of the original cells fail it. A cell can fail several filters, so these can sum to more than
        the cells removed.
    genes_failing_min_cells
        Genes detected in fewer than ``min_cells`` cells (removed).
    n_mt_genes
        Genes whose name starts with the mitochondrial prefix.
    n_highly_variable
        Genes flagged in ``var["highly_variable"]``.
    steps
        What was run, in order.
    """

    n_cells_before: int
    n_cells_after: int
    n_genes_before: int
    n_genes_after: int
    cells_failing: dict[str, int] = field(default_factory=dict)
    genes_failing_min_cells: int = 0
    n_mt_genes: int = 0
    n_highly_variable: int = 0
    steps: list[str] = field(default_factory=list)

    @property
    def n_cells_removed(self) -> int:
        """Cells removed by the QC filters."""
        return self.n_cells_before - self.n_cells_after

    @property
    def n_genes_removed(self) -> int:
        """Genes removed (too rarely detected, or not highly variable when subsetting)."""
        return self.n_genes_before - self.n_genes_after

    def to_dict(self) -> dict:
        """A JSON-serializable dict, as stored in ``adata.uns["celltyper_prepare"]["summary"]``."""
        return {**asdict(self), "n_cells_removed": self.n_cells_removed, "n_genes_removed": self.n_genes_removed}

    def __str__(self) -> str:
        lines = [
            f"cells: {self.n_cells_before} → {self.n_cells_after} ({self.n_cells_removed} removed)",
            f"genes: {self.n_genes_before} → {self.n_genes_after} ({self.n_genes_removed} removed, "
            f"{self.genes_failing_min_cells} detected in too few cells)",
        ]
        for name, count in self.cells_failing.items():
            lines.append(f"  cells failing {name}: {count}")
        lines.append(f"mitochondrial genes: {self.n_mt_genes}; highly variable genes: {self.n_highly_variable}")
        lines.append("steps: " + " → ".join(self.steps))
        return "\n".join(lines)
