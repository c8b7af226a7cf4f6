"""Timing a piece of a benchmark script: the wall-clock and CPU seconds of a block, or of a whole command.

The scripts in ``benchmarks/`` time a training run, an annotation pass or a user's command line; this is the one
stopwatch they share. CPU seconds are this process's own (``time.process_time``), which other jobs on shared cores
inflate far less than wall-clock seconds.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence


class Stopwatch:
    """Context manager: :attr:`seconds` (wall clock) and :attr:`cpu_seconds` (this process) spent inside the block."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu


def timed_run(command: Sequence[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``command`` to completion (output captured as text, failure raised); its wall-clock seconds and result.

    Parameters
    ----------
    command
        Program and arguments, as for :func:`subprocess.run`.
    **kwargs
        Passed on to :func:`subprocess.run` (``env``, ``cwd`` …).

    Returns
    -------
    Seconds from start to exit, and the finished process.
    """
    with Stopwatch() as watch:
        done = subprocess.run(list(command), capture_output=True, text=True, check=True, **kwargs)
    return watch.seconds, done
