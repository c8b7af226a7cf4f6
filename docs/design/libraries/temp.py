# ruff: noqa: E501
"""Temperature: celltyper.fit_temperature vs sklearn CalibratedClassifierCV(method='temperature') + FrozenEstimator."""

import time

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from celltyper.tl import fit_temperature

x, y = make_classification(
    20_000, 50, n_informative=20, n_classes=8, n_clusters_per_class=2, class_sep=0.8, random_state=0
)
fit, cal, test = slice(0, 4000), slice(4000, 12000), slice(12000, None)
clf = LogisticRegression(C=100, max_iter=2000).fit(x[fit], y[fit])  # weakly regularized: over-confident
classes = [str(c) for c in clf.classes_]
p_cal, p_test = clf.predict_proba(x[cal]), clf.predict_proba(x[test])
s = time.perf_counter()
ours = fit_temperature(p_cal, np.asarray(classes)[y[cal]], classes)
t_ours = time.perf_counter() - s
s = time.perf_counter()
sk = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature").fit(x[cal], y[cal])
t_sk = time.perf_counter() - s
beta = sk.calibrated_classifiers_[0].calibrators[0].beta_
print(f"T ours {ours.temperature:.5f}  sklearn 1/beta {1 / beta:.5f}")
print(
    f"test NLL uncalibrated {log_loss(y[test], p_test):.5f}  ours {log_loss(y[test], ours.transform(p_test)):.5f}  sklearn {log_loss(y[test], sk.predict_proba(x[test])):.5f}"
)
print(f"max |p ours - p sklearn| on test {np.abs(ours.transform(p_test) - sk.predict_proba(x[test])).max():.2e}")
print(f"fit time ours {t_ours * 1e3:.1f} ms  sklearn {t_sk * 1e3:.1f} ms (includes predict on the calibration cells)")
