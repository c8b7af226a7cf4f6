"""Property-based tests (issue 19, item 6): the cheap public entry points on random, often broken, inputs.

Every call either returns finite results or raises a ``ValueError`` / ``TypeError`` with a message; it never crashes
with another exception, and never changes its input.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import celltyper as ct
from celltyper.model import SemiSupervisedCountVAE

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: What a bad input may raise: a documented error with a message.
DOCUMENTED = (ValueError, TypeError)
SPECIAL = {"nan": np.nan, "inf": np.inf, "negative": -1.0, "fraction": 0.5}


@st.composite
def matrices(draw, max_cells: int = 12, max_genes: int = 8, min_cells: int = 0, min_genes: int = 0):
    """A cells × genes matrix: random shape, dtype, sparsity and format; sometimes NaN, inf, negative or fractions."""
    n_cells = draw(st.integers(min_cells, max_cells))
    n_genes = draw(st.integers(min_genes, max_genes))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.0, 0.3, 0.8, 1.0, 1.0]))
    values = rng.poisson(5, (n_cells, n_genes)) * (rng.random((n_cells, n_genes)) < density)
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int32, np.int64]))
    values = values.astype(np.float64)
    spoil = draw(st.sampled_from([None] * 4 + list(SPECIAL)))
    if spoil is not None and values.size:
        values[rng.integers(n_cells), rng.integers(n_genes)] = SPECIAL[spoil]
        if np.issubdtype(dtype, np.integer):
            dtype = np.float64  # NaN and fractions need a float
    if draw(st.integers(0, 3)) == 0 and n_cells:
        values[rng.integers(n_cells)] = 0  # an empty cell
    values = values.astype(dtype)
    layout = draw(st.sampled_from(["dense", "csr", "csc"]))
    return values if layout == "dense" else getattr(sp, f"{layout}_matrix")(values)


@st.composite
def gene_names(draw, genes: list[str]) -> list[str]:
    """``genes`` shuffled, plus a gene the model does not know; sometimes one dropped, sometimes one duplicated."""
    names = [*draw(st.permutations(genes)), "extra"]
    change = draw(st.sampled_from([None, None, "drop", "duplicate"]))
    if change == "drop":
        names.pop(draw(st.integers(0, len(names) - 1)))
    elif change == "duplicate":
        names.append(draw(st.sampled_from(names)))
    return names


@st.composite
def anndatas(draw, genes: list[str] | None = None, **shape):
    """An AnnData of :func:`matrices` (``shape``: their size limits).

    Its genes are a model's ``genes`` (see :func:`gene_names`), or random names, possibly duplicated.
    """
    if genes is not None:
        names = draw(gene_names(genes))
        shape = {**shape, "min_genes": len(names), "max_genes": len(names)}
    X = draw(matrices(**shape))
    n_cells, n_genes = X.shape
    if genes is None:
        pool = [f"g{i}" for i in range(max(n_genes, 1))]
        unique = draw(st.booleans())
        names = draw(st.lists(st.sampled_from(pool), min_size=n_genes, max_size=n_genes, unique=unique))
    adata = ad.AnnData(X=X)
    adata.obs_names = [f"c{i}" for i in range(n_cells)]
    adata.var_names = names
    return adata


def _copy(adata: ad.AnnData) -> ad.AnnData:
    return adata.copy()


def _assert_unchanged(before: ad.AnnData, after: ad.AnnData) -> None:
    a, b = before.X, after.X
    a, b = (x.toarray() if sp.issparse(x) else np.asarray(x) for x in (a, b))
    np.testing.assert_array_equal(a, b)
    assert type(before.X) is type(after.X) and before.X.dtype == after.X.dtype
    assert list(before.var_names) == list(after.var_names)
    pd.testing.assert_frame_equal(before.obs, after.obs)


def _call(function, *args, **kwargs):
    """``function(...)``, or ``None`` when it raised a documented error with a message.

    Which of the two happened is recorded as a Hypothesis event (``pytest --hypothesis-show-statistics``).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = function(*args, **kwargs)
    except DOCUMENTED as error:
        assert str(error), f"{type(error).__name__} without a message"
        event(f"refused with a {type(error).__name__}")
        return None
    event("returned")
    return result


@FAST
@given(matrices())
def test_check_raw_counts(X):
    before = X.copy()
    _call(ct.pp.check_raw_counts, X, "adata.X")
    np.testing.assert_array_equal(*(x.toarray() if sp.issparse(x) else x for x in (X, before)))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anndatas(min_cells=2, max_cells=40, min_genes=10, max_genes=30))
def test_prepare(adata):
    before = _copy(adata)
    result = _call(ct.pp.prepare, adata, min_genes=None, min_cells=None, n_top_genes=4, n_pcs=2, umap=False, copy=True)
    _assert_unchanged(before, adata)
    if result is not None:
        assert np.isfinite(result.X.toarray() if sp.issparse(result.X) else result.X).all()


@FAST
@given(anndatas(), anndatas())
def test_align_genes(query, reference):
    query_before, reference_before = _copy(query), _copy(reference)
    result = _call(ct.tl.align_genes, query, reference, min_gene_overlap=0.0)
    _assert_unchanged(query_before, query)
    _assert_unchanged(reference_before, reference)
    if result is not None:
        aligned, overlap = result
        assert list(aligned.var_names) == list(reference.var_names) and 0 <= overlap.fraction <= 1


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)
#: Mostly values in [0, 1] (probabilities, thresholds), sometimes anything.
unit_or_not = st.one_of(st.floats(0, 1), st.floats(0, 1), finite_or_not)


@FAST
@given(
    st.lists(unit_or_not, max_size=10),
    st.one_of(st.none(), st.lists(unit_or_not, max_size=10)),
    unit_or_not,
    unit_or_not,
)
def test_unknown_calls(confidence, novelty, unknown_threshold, novelty_threshold):
    if novelty is not None:
        novelty = (novelty + [0.0] * len(confidence))[: len(confidence)]
    result = _call(
        ct.tl.unknown_calls,
        np.asarray(confidence),
        None if novelty is None else np.asarray(novelty),
        unknown_threshold=unknown_threshold,
        novelty_threshold=novelty_threshold,
    )
    if result is not None:
        assert result.dtype == bool and result.shape == (len(confidence),)


@FAST
@given(st.integers(1, 5), st.integers(0, 6), st.data())
def test_change_class_prior(n_classes, n_cells, data):
    rows = st.lists(unit_or_not, min_size=n_classes, max_size=n_classes)
    probabilities = np.asarray(data.draw(st.lists(rows, min_size=n_cells, max_size=n_cells)), dtype=float)
    probabilities = probabilities.reshape(n_cells, n_classes)
    trained, new = (np.asarray(data.draw(rows)) for _ in range(2))
    before = probabilities.copy()
    result = _call(ct.tl.change_class_prior, probabilities, trained, new)
    np.testing.assert_array_equal(probabilities, before)
    if result is not None:
        assert np.isfinite(result).all() and np.allclose(result.sum(1), 1)


label_columns = st.sampled_from(["strings", "categorical", "ints", "floats", "nan", "bools"])


def _labels(kind: str, n_cells: int) -> object:
    codes = np.arange(n_cells) % 3
    return {
        "strings": np.array(["A", "B", "C"])[codes],
        "categorical": pd.Categorical(np.array(["A", "B", "C"])[codes]),
        "ints": codes,
        "floats": codes.astype(float),
        "nan": np.where(codes == 0, None, "A").astype(object),
        "bools": codes == 0,
    }[kind]


@FAST
@given(anndatas(), label_columns, st.sampled_from(["CountVAE", "SemiSupervisedCountVAE", "CellTypeTransformer"]))
def test_setup_anndata(adata, kind, model):
    cls = {"CountVAE": ct.CountVAE, "SemiSupervisedCountVAE": SemiSupervisedCountVAE}.get(model, ct.CellTypeTransformer)
    adata.obs["cell_type"] = _labels(kind, adata.n_obs)
    before = _copy(adata)
    done = _call(lambda: cls.setup_anndata(adata, labels_key="cell_type") or True)
    if done is None:  # a failed setup leaves the AnnData as it was
        _assert_unchanged(before, adata)
        assert not adata.uns
    else:
        np.testing.assert_array_equal(*(x.toarray() if sp.issparse(x) else x for x in (adata.X, before.X)))


GENES = [f"g{i}" for i in range(8)]


def _reference(n_cells: int = 40) -> ad.AnnData:
    rng = np.random.default_rng(0)
    adata = ad.AnnData(X=rng.poisson(4, (n_cells, len(GENES))).astype(np.float32) + 1)
    adata.obs_names = [f"r{i}" for i in range(n_cells)]
    adata.var_names = GENES
    adata.obs["cell_type"] = np.where(np.arange(n_cells) % 2, "A", "B")
    return adata


@pytest.fixture(scope="module")
def trained_models() -> dict:
    quiet = {"max_epochs": 1, "enable_progress_bar": False}
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = _reference()
        ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type")
        models["transformer"] = ct.CellTypeTransformer(adata, n_genes=6, n_tokens=4, d_model=8, n_heads=2)
        models["transformer"].train(**quiet)
        adata = _reference()
        SemiSupervisedCountVAE.setup_anndata(adata, labels_key="cell_type")
        models["vae"] = SemiSupervisedCountVAE(adata, n_hidden=8, n_latent=2, classifier_n_hidden=4)
        models["vae"].train(**quiet)
    return models


@FAST
@given(query=anndatas(genes=GENES), which=st.sampled_from(["transformer", "vae"]))
def test_predict(trained_models, query, which):
    model = trained_models[which]
    query.obs["cell_type"] = "Unknown"
    before = _copy(query)
    probabilities = _call(model.predict, query, soft=True)
    _assert_unchanged(before, query)
    if probabilities is not None:
        values = probabilities.to_numpy()
        assert values.shape == (query.n_obs, 2) and np.isfinite(values).all()
        assert np.allclose(values.sum(1), 1, atol=1e-5)
