"""Preprocessing (scanpy underneath): QC, filtering, normalization, gene selection, embedding."""

from celltyper._counts import check_raw_counts

from ._prepare import prepare
from ._summary import PrepareSummary

__all__ = ["PrepareSummary", "check_raw_counts", "prepare"]
