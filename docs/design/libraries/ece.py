# ruff: noqa: D103, E501
"""ECE: celltyper vs torchmetrics on random and real-ish inputs."""

import time

import numpy as np
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from celltyper.tl._calibration import expected_calibration_error


def ours(p, t, k):
    classes = [f"c{i}" for i in range(k)]
    return expected_calibration_error(np.asarray(classes)[t], p, classes)


def tm(p, t, k, dtype=torch.float32):
    return float(
        multiclass_calibration_error(
            torch.as_tensor(p, dtype=dtype), torch.as_tensor(t), num_classes=k, n_bins=15, norm="l1"
        )
    )


rng = np.random.default_rng(0)
worst32 = worst64 = 0.0
for seed in range(50):
    r = np.random.default_rng(seed)
    n, k = int(r.integers(50, 5000)), int(r.integers(2, 30))
    logits = r.normal(size=(n, k)) * r.uniform(0.5, 6)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    t = np.where(r.random(n) < 0.7, p.argmax(1), r.integers(0, k, n))
    a = ours(p, t, k)
    worst32 = max(worst32, abs(a - tm(p, t, k)))
    worst64 = max(worst64, abs(a - tm(p, t, k, torch.float64)))
print(f"random (50 draws): max |ours - torchmetrics| float32 {worst32:.2e}, float64 {worst64:.2e}")
# confidences exactly on bin edges (k/15): the edge case of binning
n = 3000
conf = rng.integers(1, 16, n) / 15
k = 2
p = np.stack([conf, 1 - conf], 1)
p = np.where(p.max(1, keepdims=True) == p[:, :1], p, p[:, ::-1])  # make column 0 hold the confidence where >= .5
t = rng.integers(0, 2, n)
print(
    f"on bin edges (c/15): ours {ours(p, t, k):.6f} torchmetrics f32 {tm(p, t, k):.6f} f64 {tm(p, t, k, torch.float64):.6f}"
)
# test-suite over-confident case
truth = rng.integers(0, 3, 2000)
pred = np.where(rng.random(2000) < 0.7, truth, (truth + 1) % 3)
p = np.full((2000, 3), 0.005)
p[np.arange(2000), pred] = 0.99
print(f"over-confident 0.99 / 70 %: ours {ours(p, truth, 3):.6f} torchmetrics {tm(p, truth, 3):.6f}")
# speed on 100k x 30
n, k = 100_000, 30
logits = rng.normal(size=(n, k)) * 3
p = np.exp(logits - logits.max(1, keepdims=True))
p /= p.sum(1, keepdims=True)
t = rng.integers(0, k, n)
for name, f in [("ours", lambda: ours(p, t, k)), ("torchmetrics", lambda: tm(p, t, k))]:
    f()
    s = time.perf_counter()
    [f() for _ in range(5)]
    print(f"{name} 100k x 30: {(time.perf_counter() - s) / 5 * 1e3:.1f} ms")
