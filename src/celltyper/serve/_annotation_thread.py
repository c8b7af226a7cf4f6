"""The one thread a server annotates on: annotations run one at a time, and each gives what it gives in Python.

One at a time, because :meth:`~celltyper.tl.Annotator.annotate` sets process-wide state (scvi-tools' seed, Python's
``random`` seed that the query's Leiden clustering draws from, torch's thread count) and a VAE classifier keeps the
query model of its last call: two calls at once could mix their results.

On this thread, because igraph draws random numbers from Python's ``random`` module only on the thread that imported
igraph: on any other thread it uses its own unseeded generator, so the query's clusters, hence novelty and the
"Unknown" calls, changed from call to call (measured: novelty differed by up to 0.19 on the Kang data). The thread
points igraph at ``random`` once, when it starts.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import igraph


def annotation_thread() -> ThreadPoolExecutor:
    """An executor with one worker thread on which igraph draws from Python's (seeded) ``random`` module."""
    return ThreadPoolExecutor(
        max_workers=1,
        thread_name_prefix="celltyper-annotate",
        initializer=igraph.set_random_number_generator,
        initargs=(random,),
    )
