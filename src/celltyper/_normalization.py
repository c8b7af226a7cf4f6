"""log1p(counts per 10,000): the normalization that CellTypeTransformer and the linear classifier read."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def log1p_cp10k(X, library: np.ndarray | None = None) -> sp.csr_matrix:
    """log1p(counts per 10,000) of a cells × genes matrix, as sparse float32.

    ``library``: each cell's total count to divide by (default: the row sums of ``X``), e.g. its total over more
    genes than ``X`` holds. Scanpy's ``normalize_total`` divides by the row sums only, hence this function (see
    ``docs/design/libraries.md``). ``X`` is not modified.
    """
    out = sp.csr_matrix(X, dtype=np.float32, copy=True)
    library = np.asarray(out.sum(1)).ravel() if library is None else np.asarray(library, dtype=np.float32)
    scale = (1e4 / np.maximum(library, 1.0)).astype(np.float32)
    out.data *= np.repeat(scale, np.diff(out.indptr))  # each stored value times its row's scale
    np.log1p(out.data, out=out.data)
    return out
