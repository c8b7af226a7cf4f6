"""Measuring a method while it runs: seconds per training epoch and peak resident memory."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence

import psutil
from lightning.pytorch.callbacks import Callback


class EpochTimer(Callback):
    """Lightning callback: wall-clock seconds of each training epoch (validation excluded), in :attr:`seconds`."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seconds.append(time.perf_counter() - self._start)


class PeakMemory:
    """Context manager sampling a process's resident memory every ``interval`` seconds; :attr:`peak_gib` after.

    The peak is of the whole process (data already loaded included), as a user would see it in ``top``. ``pid``
    selects the process (default: this one); sampling stops quietly once that process has exited.
    """

    def __init__(self, interval: float = 0.05, pid: int | None = None) -> None:
        self.interval = interval
        self.peak_gib = 0.0
        self._process = psutil.Process(pid)
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()

    def _record(self) -> None:
        try:
            rss = self._process.memory_info().rss
        except psutil.NoSuchProcess:  # the measured child has exited (zombies included)
            return
        self.peak_gib = max(self.peak_gib, rss / 2**30)

    def __enter__(self) -> PeakMemory:
        self._record()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._record()


def run_with_peak_memory(command: Sequence[str], interval: float = 0.05) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``command`` in a new process and sample that process's own resident memory while it runs.

    Unlike ``ru_maxrss``, which on Linux a child inherits from the process that started it (a parent holding
    gigabytes makes every child read gigabytes), the samples are of the child alone. The child's own children are
    not counted, and a spike shorter than ``interval`` seconds can be missed.

    Parameters
    ----------
    command
        Program and arguments, as for :class:`subprocess.Popen`.
    interval
        Seconds between two samples.

    Returns
    -------
    The finished process (``stdout`` and ``stderr`` captured as text) and its peak resident memory in GiB.
    """
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        with PeakMemory(interval, pid=process.pid) as memory:
            stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr), memory.peak_gib
