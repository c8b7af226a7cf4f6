"""The models' ``setup_anndata`` and ``train`` docstrings: shared fragments filled in, every parameter documented."""

from __future__ import annotations

import inspect

import pytest

import celltyper as ct
from celltyper.model._docstrings import param_checkpoints, param_register_kwargs


@pytest.mark.parametrize("model", [ct.CountVAE, ct.model.SemiSupervisedCountVAE, ct.CellTypeTransformer])
@pytest.mark.parametrize(
    ("method", "fragment"), [("setup_anndata", param_register_kwargs), ("train", param_checkpoints)]
)
def test_every_parameter_is_documented(model, method, fragment):
    doc = getattr(model, method).__doc__
    assert "%(" not in doc
    assert fragment in doc
    documented = {
        name.strip().lstrip("*")
        for line in doc.splitlines()
        if line and not line[0].isspace()
        for name in line.split(",")
    }
    parameters = set(inspect.signature(getattr(model, method)).parameters) - {"self"}
    assert parameters <= documented, parameters - documented
