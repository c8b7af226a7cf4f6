"""``import celltyper``: the models at top level, the benchmark harness only once asked for."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import celltyper as ct
assert "celltyper.benchmark" not in sys.modules, "import celltyper loaded the benchmark harness"
assert ct.SemiSupervisedCountVAE is ct.model.SemiSupervisedCountVAE
assert callable(ct.benchmark.run_benchmark) and "celltyper.benchmark" in sys.modules
from celltyper import benchmark
assert benchmark is ct.benchmark
try:
    ct.no_such_name
except AttributeError as error:
    assert "has no attribute 'no_such_name'" in str(error)
else:
    raise AssertionError("ct.no_such_name did not raise AttributeError")
"""


def test_import_celltyper_is_lazy_about_the_benchmark_harness():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
