"""A query on the genes a model or annotator reads: where each gene is, the one overlap check, the zero-filled copy.

Every reader of a query (``tl.align_genes``, label transfer, an annotator in memory or chunk by chunk, the models)
finds the genes it reads in the query (by name with :func:`gene_positions`, or by Ensembl id then name) and calls
:func:`check_gene_overlap` on what it found: too few genes is a ``ValueError`` that names the numbers and the likely
cause (symbols vs Ensembl ids), many missing is a warning, since missing genes are read as zero counts
(:func:`on_genes` builds that copy). The module needs numpy, scipy, pandas and anndata only, so that the models and
``tl`` share it without importing each other.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

#: Below this fraction of the genes a reader reads found in the query, the query is refused (``min_gene_overlap``):
#: a guard against genes named another way (symbols vs Ensembl ids, another species). Not higher: the built-in
#: ``pbmc`` annotator reads Kang stimulated cells with 45 % of its genes at 0.715 macro-F1, and on the validation
#: suite real queries with 3–11 % of an annotator's genes score 0.57–0.74 (``benchmarks/gene_overlap.py``,
#: docs/transfer.md, "Missing genes"): the share found does not predict quality, so this minimum is a naming check.
MIN_GENE_OVERLAP = 0.25
#: Below this fraction a warning says the missing genes read as zero and predictions may degrade (scArches warns
#: below 80 % as well).
WARN_GENE_OVERLAP = 0.8
#: The likely causes of a low overlap, ending the error.
GENE_NAMING_HINT = (
    "Check that both name genes the same way (gene symbols or Ensembl ids) and come from the same species."
)


def check_gene_overlap(
    genes: pd.Index,
    found: np.ndarray,
    described: str,
    *,
    searched: str = "the query",
    minimum: float = MIN_GENE_OVERLAP,
    warn_below: float = WARN_GENE_OVERLAP,
    stacklevel: int = 1,
) -> None:
    """Raise a ``ValueError`` if fewer than ``minimum`` of ``genes`` were found; warn below ``warn_below``.

    Parameters
    ----------
    genes
        The genes a reader reads (those a model or annotator reads, or a reference's).
    found
        Boolean mask over ``genes``: whether each was found in ``searched``.
    described
        What ``genes`` are, for the messages: ``"genes the annotator reads"``, ``"reference genes"`` ….
    searched
        Where they were looked for, for the messages.
    minimum
        Smallest accepted fraction of ``genes`` found (``0``: no error).
    warn_below
        Below this fraction, a ``UserWarning`` (``0``: none, for readers that do not read missing genes as zero).
    stacklevel
        Of the warning, counted from the caller of this function (1: the line that calls it).
    """
    found = np.asarray(found, dtype=bool)
    n_genes, n_found = len(genes), int(found.sum())
    fraction = n_found / n_genes if n_genes else 1.0
    missing = ", ".join(map(str, genes[~found][:5])) + (", …" if n_genes - n_found > 5 else "")
    if fraction < minimum:
        raise ValueError(
            f"{_sentence_start(searched)} has only {n_found:,} of the {n_genes:,} {described} ({fraction:.1%}); "
            f"at least {minimum:.0%} are needed. Missing genes include {missing}. {GENE_NAMING_HINT}"
        )
    if fraction < warn_below:
        warnings.warn(
            f"{_sentence_start(searched)} lacks {n_genes - n_found:,} of the {n_genes:,} {described} ({fraction:.1%} "
            f"found; missing: {missing}); the missing ones are read as zero counts, so predictions may be less "
            "reliable than on the reference.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


def _sentence_start(words: str) -> str:
    """``words`` to start a sentence: "the query" becomes "The query"; a variable name (``adata``) stays as it is."""
    return words[0].upper() + words[1:] if words.startswith(("the ", "a ")) else words


def gene_positions(genes: pd.Index, names: pd.Index) -> np.ndarray:
    """For every name of ``genes``, its first position in ``names`` (-1 when absent)."""
    first = pd.Series(np.arange(len(names)), index=names)
    first = first[~first.index.duplicated()]
    return first.reindex(genes).fillna(-1).to_numpy(dtype=np.int64)


def on_genes(query: AnnData, genes: pd.Index, positions: np.ndarray, layer: str | None) -> AnnData:
    """The query's expression on ``genes`` (``positions`` in ``query.var``, -1: zero-filled), as a new CSR AnnData.

    The expression is in ``X``, and also in ``layers[layer]`` when ``layer`` is given; ``obs`` is copied.
    """
    matrix = query.layers[layer] if layer is not None else query.X
    found = np.flatnonzero(positions >= 0)
    selector = sp.csr_matrix(
        (np.ones(found.size, dtype=np.float32), (positions[found], found)), shape=(query.n_vars, len(genes))
    )
    aligned = sp.csr_matrix(matrix) @ selector  # (cells, genes), zeros where the query lacks a gene
    aligned = aligned.astype(np.float32)
    result = AnnData(X=aligned, obs=query.obs.copy(), var=pd.DataFrame(index=genes.copy()))
    if layer is not None:
        result.layers[layer] = aligned
    return result
