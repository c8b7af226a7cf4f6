"""transfer_labels end to end on simulated data: what it writes, what it leaves alone, and its errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

import celltyper as ct
from celltyper.tl._transfer import LINEAR_C

FAST = {"max_epochs": 15, "query_max_epochs": 5, "n_top_genes": None, "model_kwargs": {"n_hidden": 32}}


@pytest.fixture(scope="module")
def split():
    adata = ct.datasets.simulate(n_cells=480, n_genes=300, n_types=3, n_batches=3, seed=2)
    reference = adata[adata.obs["batch"] != "batch_2"].copy()
    query = adata[adata.obs["batch"] == "batch_2"].copy()
    return reference, query


def test_annotates_the_query_and_leaves_its_data_alone(split):
    reference, query = split[0].copy(), split[1].copy()
    query = query[:, 30:].copy()  # the query lacks 10 % of the reference's genes
    truth = query.obs["cell_type"].astype(str).to_numpy()
    counts, var_names, reference_obs = query.layers["counts"].copy(), query.var_names.copy(), list(reference.obs)

    result = ct.tl.transfer_labels(
        reference, query, "cell_type", layer="counts", batch_key="batch", majority_voting=True, **FAST
    )

    assert result.gene_overlap == pytest.approx(0.9)
    assert len(result.genes.missing) == 30
    prediction = query.obs["celltyper_prediction"]
    assert set(prediction.cat.categories) == {"type_0", "type_1", "type_2", "Unknown"}
    confidence = query.obs["celltyper_confidence"].to_numpy()
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert (prediction.astype(str).to_numpy()[confidence < 0.5] == "Unknown").all()
    novelty = query.obs["celltyper_novelty"].to_numpy()
    assert ((novelty >= 0) & (novelty <= 1)).all() and np.array_equal(novelty, result.novelty)
    assert (prediction.astype(str).to_numpy()[novelty > 0.9] == "Unknown").all()
    top = result.probabilities.idxmax(axis=1).to_numpy()  # the cell type before the Unknown calls
    assert (top == truth).mean() > 0.6  # chance: 1/3
    assert query.obsm["X_celltyper"].shape == (query.n_obs, 20)
    assert {"celltyper_majority_voting", "celltyper_cluster", "celltyper_cluster_agreement"} <= set(query.obs)
    assert result.calibration.n_cells > 0 and np.isfinite(result.calibration.ece_after)
    assert query.uns["celltyper"]["gene_overlap"] == pytest.approx(0.9)
    # The user's data are as they were.
    assert (
        (query.layers["counts"] != counts).nnz == 0
        if sp.issparse(counts)
        else np.array_equal(query.layers["counts"], counts)
    )
    assert query.var_names.equals(var_names) and list(reference.obs) == reference_obs

    # A second query with the already-trained reference model: no reference training, its own key.
    other = split[1].copy()
    again = ct.tl.transfer_labels(
        reference,
        other,
        "cell_type",
        layer="counts",
        reference_model=result.reference_model,
        key_added="ct2",
        query_max_epochs=2,
    )
    assert again.reference_model is result.reference_model
    assert "ct2_prediction" in other.obs and again.gene_overlap == 1.0


def test_refuses_a_query_with_too_few_of_the_reference_genes(split):
    reference, query = split[0].copy(), split[1].copy()
    query.var_names = [f"other_{g}" if i >= 100 else g for i, g in enumerate(query.var_names)]
    with pytest.raises(ValueError, match=r"Only 100 of the reference's 300 genes \(33.3%\)"):
        ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", **FAST)
    assert "celltyper_prediction" not in query.obs


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"labels_key": "celltype"}, KeyError, "labels_key 'celltype'"),
        ({"layer": "raw"}, KeyError, "layer 'raw'"),
        ({"batch_key": "donor"}, KeyError, "batch_key 'donor'"),
        ({"unknown_threshold": 1.5}, ValueError, "unknown_threshold"),
        ({"novelty_threshold": 0.0}, ValueError, "novelty_threshold"),
        ({"classifier": "forest"}, ValueError, "classifier"),
        ({"class_prior": "query"}, ValueError, "class_prior must be 'balanced' or 'reference'"),
    ],
)
def test_bad_input_is_a_clear_error(split, kwargs, error, match):
    reference, query = split
    arguments = {"labels_key": "cell_type", "layer": "counts", **kwargs}
    with pytest.raises(error, match=match):
        ct.tl.transfer_labels(reference, query, **arguments)


def test_balanced_class_prior_is_bayes_rule_on_the_vae_probabilities(split):
    """The default gives every type equal prior odds: the VAE's probabilities divided by the training frequencies."""
    reference, query = split[0].copy(), split[1].copy()
    rare = np.flatnonzero(reference.obs["cell_type"].astype(str).to_numpy() == "type_0")[20:]
    reference = reference[~reference.obs_names.isin(reference.obs_names[rare])].copy()  # type_0: 20 cells
    fast = {**FAST, "classifier": "vae", "unknown_threshold": 0.0, "novelty_threshold": 1.0}

    result = ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", **fast)

    assert query.uns["celltyper"]["class_prior"] == "balanced"
    classes = list(result.probabilities.columns)
    labels = result.reference_model.adata.obs["_celltyper_labels"].astype(str)
    frequencies = labels[labels != "Unknown"].value_counts(normalize=True)[classes].to_numpy()
    assert frequencies.min() < 0.1  # the reference is imbalanced
    raw = result.query_model.predict(result.query_model.adata, soft=True)[classes].to_numpy()
    expected = result.calibration.transform(ct.tl.change_class_prior(raw, frequencies, np.full(len(classes), 1 / 3)))
    np.testing.assert_allclose(result.probabilities.to_numpy(), expected, rtol=1e-5, atol=1e-7)
    rare_type = classes.index("type_0")
    assert (result.probabilities.to_numpy().argmax(1) == rare_type).sum() > (raw.argmax(1) == rare_type).sum()


def test_linear_classifier_is_balanced_logistic_regression_calibrated_without_the_held_out_cells(split):
    """classifier="linear": scikit-learn's balanced logistic regression on log1p(CP10k) of every labelled cell, with the
    temperature fitted on the held-out cells' probabilities under a twin trained without them."""
    reference, query = split[0].copy(), split[1].copy()
    truth = query.obs["cell_type"].astype(str).to_numpy()

    result = ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", classifier="linear", **FAST)

    assert result.transformer is None and query.uns["celltyper"]["classifier"] == "linear"
    held_out = (result.reference_model.adata.obs["_celltyper_labels"] == "Unknown").to_numpy()
    assert 0 < held_out.sum() < 0.2 * reference.n_obs
    genes = result.reference_model.adata.var_names  # without the shifted genes
    reference, query = reference[:, genes].copy(), query[:, genes].copy()
    x = np.log1p(sc.pp.normalize_total(reference, target_sum=1e4, layer="counts", inplace=False)["X"])
    y = reference.obs["cell_type"].astype(str).to_numpy()

    def fit(cells):
        return LogisticRegression(C=LINEAR_C, class_weight="balanced", max_iter=1000).fit(x[cells], y[cells])

    final, twin = fit(np.ones(len(y), dtype=bool)), fit(~held_out)
    np.testing.assert_allclose(result.linear.coef_, final.coef_, rtol=1e-3, atol=1e-4)
    classes = list(result.probabilities.columns)
    order = pd.Index(final.classes_).get_indexer(classes)  # the same for the twin: every type has training cells
    calibration = ct.tl.fit_temperature(twin.predict_proba(x[held_out])[:, order], y[held_out], classes)
    in_sample = ct.tl.fit_temperature(final.predict_proba(x[held_out])[:, order], y[held_out], classes)
    assert result.calibration.ece_before == pytest.approx(calibration.ece_before, rel=1e-2)
    assert abs(calibration.ece_before - in_sample.ece_before) > 0.02  # so the held-out cells' predictor is told apart
    query_x = np.log1p(sc.pp.normalize_total(query, target_sum=1e4, layer="counts", inplace=False)["X"])
    np.testing.assert_allclose(
        result.probabilities.to_numpy(), result.calibration.transform(final.predict_proba(query_x)[:, order]), atol=1e-3
    )
    assert (result.probabilities.idxmax(axis=1).to_numpy() == truth).mean() > 0.6  # chance: 1/3
