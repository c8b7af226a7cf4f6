"""Benchmarks of celltyper against scvi-tools and scikit-learn baselines (not tests: they write results)."""

from ._data import load_real_dataset, shared_data_dir
from ._metrics import classification_metrics, expected_calibration_error, knn_accuracy
from ._report import write_results

__all__ = [
    "classification_metrics",
    "expected_calibration_error",
    "knn_accuracy",
    "load_real_dataset",
    "shared_data_dir",
    "write_results",
]
