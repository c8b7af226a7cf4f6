"""Thread choice for torch: the cores other processes leave free, torch's setting restored afterwards."""

from __future__ import annotations

import pytest
import torch

from celltyper.tl import _threads


@pytest.mark.parametrize(("busy_percent", "expected"), [(0.0, 4), (50.0, 2), (100.0, 1)])
def test_auto_takes_the_cores_other_processes_leave_free(monkeypatch, busy_percent, expected):
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(_threads.psutil, "cpu_percent", lambda interval: busy_percent)
    monkeypatch.setattr(_threads.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(_threads.torch, "get_num_threads", lambda: 4)
    assert _threads.resolve_threads("auto") == expected


def test_thread_count_is_restored_and_bad_values_refused():
    before = torch.get_num_threads()
    with _threads.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    for bad in (0, -1, 1.5, "two", True):
        with pytest.raises(ValueError, match="n_threads"):
            _threads.resolve_threads(bad)
    assert _threads.resolve_threads(None) is None and _threads.resolve_threads(3) == 3
