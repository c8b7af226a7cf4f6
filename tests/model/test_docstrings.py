"""The models' ``setup_anndata`` docstrings: shared fragments filled in, every parameter documented."""

from __future__ import annotations

import inspect

import pytest

import celltyper as ct
from celltyper.model._docstrings import param_register_kwargs


@pytest.mark.parametrize("model", [ct.CountVAE, ct.model.SemiSupervisedCountVAE, ct.CellTypeTransformer])
def test_setup_anndata_documents_every_parameter(model):
    doc = model.setup_anndata.__doc__
    assert "%(" not in doc
    assert param_register_kwargs in doc
    documented = {
        name.strip().lstrip("*")
        for line in doc.splitlines()
        if line and not line[0].isspace()
        for name in line.split(",")
    }
    parameters = set(inspect.signature(model.setup_anndata).parameters)
    assert parameters <= documented, parameters - documented
