"""Cell-type prediction of :class:`~celltyper.model.SemiSupervisedCountVAE`: q(y | z) read in row blocks.

scvi-tools' ``SemisupervisedTrainingMixin.predict`` builds a minibatch loader over a registered AnnData and runs the
whole generative step; :class:`LabelPredictionMixin` reads the registered counts (or, in :meth:`predict_counts`, a bare
count matrix) in blocks straight into the encoder and the classifier, without autograd: the same numbers, several
times faster on large queries, and on a backed file a subset of cells in any order keeps its own rows. Models set up
with covariates take scvi-tools' path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.model.base import SemisupervisedTrainingMixin

from celltyper._counts import summarize_matrix

from ._streaming import row_block, rows_at
from ._validation import check_expression


class LabelPredictionMixin(SemisupervisedTrainingMixin):
    """scvi-tools' ``SemisupervisedTrainingMixin``: :meth:`predict` in row blocks, and :meth:`predict_counts`."""

    def predict(
        self,
        adata: AnnData | None = None,
        indices: Sequence[int] | None = None,
        soft: bool = False,
        batch_size: int = 4096,
        use_posterior_mean: bool = True,
        **kwargs,
    ) -> np.ndarray | pd.DataFrame:
        """Cell type of each cell: the most probable label of q(y | z), or all the probabilities.

        Reads the registered counts in row blocks of ``batch_size`` cells straight into the encoder, without
        scvi-tools' minibatch loader and without autograd: the same numbers as
        :meth:`scvi.model.base.SemisupervisedTrainingMixin.predict`, several times faster on large queries, and on a
        backed file each cell of an ``indices`` subset in any order keeps its own row (scvi-tools' path reads such a
        subset sorted but labels it in the given order). Models set up with covariates, and the
        ``ig_interpretability`` / ``dataloader`` arguments, take scvi-tools' path.

        Parameters
        ----------
        adata
            AnnData set up like the reference (default: the reference); a query is registered on the fly.
        indices
            Cells to predict (default: all).
        soft
            Return a DataFrame cells × labels of probabilities instead of labels.
        batch_size
            Cells per forward pass.
        use_posterior_mean
            Classify the posterior mean of z (else a sample: stochastic predictions).
        **kwargs
            ``ig_interpretability``, ``ig_args``, ``dataloader`` of scvi-tools' ``predict``.

        Returns
        -------
        ``np.ndarray`` of labels, or (``soft=True``) a ``DataFrame`` indexed by the cells' ``obs_names``.
        """
        if kwargs or self._has_covariates():
            return super().predict(adata, indices, soft, batch_size, use_posterior_mean, **kwargs)
        manager = self.get_anndata_manager(self._validate_anndata(adata), required=True)
        rows = np.arange(manager.adata.n_obs) if indices is None else np.asarray(indices, dtype=int)
        counts = manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        batches = np.asarray(manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY)).ravel()
        probabilities = self._probabilities(counts, batches, rows, indices is None, batch_size, use_posterior_mean)
        return self._as_prediction(probabilities, manager.adata.obs_names[rows], soft)

    def predict_counts(
        self,
        counts: np.ndarray | sp.spmatrix | sp.sparray,
        batch: Sequence[str] | np.ndarray | pd.Series | None = None,
        soft: bool = False,
        batch_size: int = 4096,
        use_posterior_mean: bool = True,
    ) -> np.ndarray | pd.DataFrame:
        """:meth:`predict` of a count matrix, without an AnnData: for streaming many chunks of a large query.

        The values are checked as :meth:`predict` checks a new AnnData, and batch names are mapped through the saved
        registry, but nothing is registered with scvi-tools: no AnnData is built, copied or kept per call, which is
        most of the time :meth:`predict` spends on a chunk beyond the network itself
        (:func:`celltyper.tl.annotate_h5ad` uses this).

        Parameters
        ----------
        counts
            Cells × genes, dense or sparse (CSR is read without copies), holding what the model was set up on (raw
            counts, or the layer's values) for the model's genes in the model's order (``registry_`` lists them).
        batch
            The batch of each cell, named as in the reference's batch column; may be left out when the model knows
            a single batch.
        soft
            Return a DataFrame cells × labels of probabilities (indexed by row number) instead of labels.
        batch_size
            Cells per forward pass.
        use_posterior_mean
            Classify the posterior mean of z (else a sample: stochastic predictions).

        Returns
        -------
        ``np.ndarray`` of labels, or (``soft=True``) a ``DataFrame`` of probabilities.
        """
        if self._has_covariates():
            raise ValueError("This model was set up with covariates, which predict_counts cannot take: use predict.")
        if not sp.issparse(counts):
            counts = np.asarray(counts)
        n_genes = self.summary_stats["n_vars"]
        if counts.ndim != 2 or counts.shape[1] != n_genes:
            raise ValueError(
                f"counts must be cells × the model's {n_genes} genes (in the model's order), not of shape "
                f"{counts.shape}."
            )
        check_expression(summarize_matrix(counts), "counts", self.module.gene_likelihood, self.module.log_normalize)
        rows = np.arange(counts.shape[0])
        batches = self._batch_codes(batch, counts.shape[0])
        probabilities = self._probabilities(counts, batches, rows, True, batch_size, use_posterior_mean)
        return self._as_prediction(probabilities, pd.RangeIndex(counts.shape[0]), soft)

    def _has_covariates(self) -> bool:
        """Whether the model was set up with categorical or continuous covariates (which only scvi-tools reads)."""
        setup = self.registry_["setup_args"]
        return bool(setup.get("categorical_covariate_keys") or setup.get("continuous_covariate_keys"))

    def _batch_codes(self, batch, n_cells: int) -> np.ndarray:
        """The registry's code of each cell's batch (a cell of a batch the model does not know is an error)."""
        known = self.registry_["field_registries"][REGISTRY_KEYS.BATCH_KEY]["state_registry"]["categorical_mapping"]
        if batch is None:
            if len(known) > 1:
                raise ValueError(
                    f"The model knows {len(known)} batches ({', '.join(map(str, known[:5]))}…): pass each cell's batch."
                )
            return np.zeros(n_cells, dtype=int)
        # a categorical column is mapped through its categories alone
        codes = pd.Series(batch).astype("category").cat.set_categories(known).cat.codes.to_numpy()
        if len(codes) != n_cells:
            raise ValueError(f"batch names {len(codes)} cells, counts hold {n_cells}.")
        if (codes < 0).any():
            unknown = pd.unique(np.asarray(batch)[codes < 0])[:5]
            raise ValueError(
                f"Batches {list(unknown)} are not among the model's batches {list(known)}. Map a query with new "
                "batches first (load_query_data), then predict with the mapped model."
            )
        return codes

    def _probabilities(
        self, counts, batches: np.ndarray, rows: np.ndarray, contiguous: bool, batch_size: int, use_posterior_mean: bool
    ) -> np.ndarray:
        """Class probabilities (cells, labels) of ``rows`` of ``counts``, ``batch_size`` rows per forward pass.

        ``contiguous`` rows are read as blocks (views of an in-memory CSR matrix, one read of a backed one).
        """
        self.module.eval()
        device = self.device  # scvi-tools looks it up through the parameters on every access
        probabilities = []
        dense_buffer = np.empty((min(batch_size, len(rows)), counts.shape[1]), dtype=np.float32)  # reused by blocks
        batches = batches.reshape(-1, 1)
        with torch.inference_mode():
            for start in range(0, max(len(rows), 1), batch_size):  # one (maybe empty) block at least: the label count
                block: slice | np.ndarray
                if contiguous:
                    block = slice(start, start + batch_size)
                    x = row_block(counts, start, start + batch_size)
                else:
                    block = rows[start : start + batch_size]
                    x = rows_at(counts, block)
                encoder_input, library = (tensor.to(device) for tensor in self._encoder_input(x, dense_buffer))
                block_batches = torch.tensor(batches[block], dtype=torch.long, device=device)  # copy: read-only input
                inference = self.module.encode(encoder_input, library, block_batches)
                logits = self.module.classify_posterior(inference, use_posterior_mean)
                probabilities.append(torch.softmax(logits, dim=-1).cpu().numpy())
        return np.concatenate(probabilities)

    @property
    def cell_types(self) -> list[str]:
        """The cell types the classifier predicts: the columns of ``predict(soft=True)``, in their order."""
        return list(self._label_mapping[: self.n_labels])

    def _as_prediction(self, probabilities: np.ndarray, cells: pd.Index, soft: bool) -> np.ndarray | pd.DataFrame:
        """Labels (the most probable), or the probabilities as a DataFrame cells × labels."""
        labels = np.asarray(self.cell_types)
        if soft:
            return pd.DataFrame(probabilities, columns=labels, index=cells)
        return labels[probabilities.argmax(1)]

    def _encoder_input(self, counts, dense_buffer: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """What the encoder reads and the log library size, ``(cells, 1)``, of a block of counts.

        Of sparse counts only the stored values are transformed (:meth:`CountVAEModule.model_input` maps 0 to 0),
        then densified into the first rows of ``dense_buffer``, memory used again by every block (freshly allocated
        memory costs more to fill): half the work of transforming the dense block when half the values are zero.
        Both are returned on the CPU; the encoder input shares memory with ``dense_buffer``.
        """
        if not sp.issparse(counts):
            counts = torch.as_tensor(np.asarray(counts), dtype=torch.float32)
            library = counts.sum(-1, keepdim=True).clamp(min=1.0)
            return self.module.model_input(counts, library), library.log()
        if not (counts.format == "csr" and counts.dtype == np.float32):  # the constructor would copy a view's arrays
            counts = sp.csr_matrix(counts, dtype=np.float32)
        library = torch.from_numpy(np.asarray(counts.sum(axis=1), dtype=np.float32)).clamp(min=1.0)
        if self.module.gene_likelihood == "gaussian" and self.module.log_normalize:  # each value needs its library
            value_library = np.repeat(library.numpy().ravel(), np.diff(counts.indptr))
            values = self.module.model_input(torch.from_numpy(counts.data), torch.from_numpy(value_library))
        else:  # log1p(counts): no library
            values = self.module.model_input(torch.from_numpy(counts.data), library)
        transformed = row_block(counts, 0, counts.shape[0])  # the same rows and columns, holding the new values
        transformed.data = values.numpy()
        dense = transformed.toarray(out=dense_buffer[: counts.shape[0]])
        return torch.from_numpy(dense), library.log()
