"""log1p(counts per 10,000): the normalization that CellTypeTransformer and the linear classifier read."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def log1p_cp10k(X, library: np.ndarray | None = None) -> sp.csr_matrix:
    """log1p(counts per 10,000) of a cells × genes matrix, as sparse float32.

    ``library``: each cell's total count to divide by (default: the row sums of ``X``), e.g. its total over more
    genes than ``X`` holds.
    """
    X = sp.csr_matrix(X, dtype=np.float32)
    library = np.asarray(X.sum(1)).ravel() if library is None else np.asarray(library, dtype=np.float32)
    scale = 1e4 / np.maximum(library, 1.0)
    out = sp.diags(scale.astype(np.float32)) @ X
    out.data = np.log1p(out.data)
    return out.tocsr()
