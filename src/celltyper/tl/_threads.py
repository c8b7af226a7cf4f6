"""How many threads torch trains with: chosen from the cores that are free, because its default collapses under load.

torch's default is one thread per core, and its threads wait for each other at every operation: when another process
holds a core, every step waits for the descheduled thread (label transfer on a loaded 2-core machine was reported at
849 s with the default threads and 57 s with one; ``docs/transfer.md``, *Speed*). On a quiet machine, though, two
threads trained 1.5 times faster than one. So ``"auto"`` looks at how busy the cores are when training starts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import psutil
import torch

Threads = int | Literal["auto"] | None


def free_cores(interval: float = 0.2) -> int:
    """Cores not used by other processes, measured over ``interval`` seconds (at least 1)."""
    cores = os.cpu_count() or 1
    psutil.cpu_percent(None)
    time.sleep(interval)
    busy = psutil.cpu_percent(None) / 100 * cores  # this process sleeps meanwhile: the load is the others'
    return max(1, cores - round(busy))


def resolve_threads(n_threads: Threads) -> int | None:
    """The threads ``n_threads`` asks for: itself, torch's default (``None``) or the free cores (``"auto"``)."""
    if n_threads == "auto":
        return min(free_cores(), torch.get_num_threads())
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1):
        raise ValueError(f"n_threads must be a positive number of threads, 'auto' or None, not {n_threads!r}.")
    return n_threads


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Let torch use ``n_threads`` intra-op threads inside the block (``None``: leave torch's setting), then restore."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
