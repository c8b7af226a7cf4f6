"""The one thread a server annotates on: annotations run one at a time, so concurrent requests never mix results.

:meth:`~celltyper.tl.Annotator.annotate` sets process-wide state (scvi-tools' seed, torch's thread count) and a VAE
classifier keeps the query model of its last call: two calls at once could mix their results. (Leiden clustering
seeds igraph's generator on every call, so the thread gives the clusters the same call gives in Python.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def annotation_thread() -> ThreadPoolExecutor:
    """An executor with the one worker thread every annotation of a server runs on."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="celltyper-annotate")
