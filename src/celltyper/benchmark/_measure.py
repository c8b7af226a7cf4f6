"""Measuring a method while it runs: seconds per training epoch and peak resident memory."""

from __future__ import annotations

import threading
import time

import psutil
from lightning.pytorch.callbacks import Callback


class EpochTimer(Callback):
    """Lightning callback: wall-clock seconds of each training epoch (validation excluded), in :attr:`seconds`."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seconds.append(time.perf_counter() - self._start)


class PeakMemory:
    """Context manager sampling this process's resident memory every ``interval`` seconds; :attr:`peak_gib` after.

    The peak is of the whole process (data already loaded included), as a user would see it in ``top``.
    """

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_gib = 0.0
        self._process = psutil.Process()
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()

    def _record(self) -> None:
        self.peak_gib = max(self.peak_gib, self._process.memory_info().rss / 2**30)

    def __enter__(self) -> PeakMemory:
        self._record()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._record()
