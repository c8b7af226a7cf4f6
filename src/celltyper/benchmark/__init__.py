"""Benchmarks of celltyper against scvi-tools and scikit-learn baselines (not tests: they write results).

:func:`run_benchmark` runs every method of :data:`METHODS` on tasks from :func:`quick_tasks` (bundled data),
:func:`full_tasks` (the real datasets of a data folder) or :func:`task_from_config` (any h5ad), in one process, and
writes ``results.json``, ``report.md`` and figures. The command line is ``celltyper benchmark``.
"""

from celltyper.tl._calibration import expected_calibration_error

from ._data import load_real_dataset, shared_data_dir
from ._measure import EpochTimer, PeakMemory, run_with_peak_memory
from ._methods import METHODS, Budget, MethodOutput
from ._metrics import classification_metrics, knn_accuracy
from ._page import write_docs_page
from ._report import write_results
from ._run import run_benchmark
from ._tasks import Task, full_tasks, make_task, quick_tasks, task_from_config

__all__ = [
    "METHODS",
    "Budget",
    "EpochTimer",
    "MethodOutput",
    "PeakMemory",
    "Task",
    "classification_metrics",
    "expected_calibration_error",
    "full_tasks",
    "knn_accuracy",
    "load_real_dataset",
    "make_task",
    "quick_tasks",
    "run_benchmark",
    "run_with_peak_memory",
    "shared_data_dir",
    "task_from_config",
    "write_docs_page",
    "write_results",
]
