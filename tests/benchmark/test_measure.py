"""Peak memory of a child process is the child's own, not inherited from a large parent."""

from __future__ import annotations

import sys

import numpy as np
import psutil

from celltyper.benchmark import run_with_peak_memory

ALLOCATE = "import time, numpy as np; a = np.ones({mib} * 2**20 // 8); time.sleep(0.5); print(a.nbytes // 2**20)"


def child_peak_gib(mib: int) -> float:
    done, peak_gib = run_with_peak_memory([sys.executable, "-c", ALLOCATE.format(mib=mib)])
    assert done.returncode == 0 and done.stdout.strip() == str(mib), done.stderr
    return peak_gib


def test_small_child_reports_less_than_large_child_from_a_large_parent():
    _held = np.ones(400 * 2**20 // 8)  # the parent holds 400 MiB more than either child will
    parent_gib = psutil.Process().memory_info().rss / 2**30
    small, large = child_peak_gib(10), child_peak_gib(300)
    assert small + 0.25 < large < parent_gib, (small, large, parent_gib)


def test_a_failing_command_is_returned_not_raised():
    done, peak_gib = run_with_peak_memory([sys.executable, "-c", "import sys; sys.exit('no')"])
    assert done.returncode == 1 and "no" in done.stderr and peak_gib > 0
