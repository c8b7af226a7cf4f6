"""transfer_labels end to end: what it writes, what it leaves alone, its errors, and its "Unknown" on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import celltyper as ct
from celltyper.tl._classifiers import LINEAR_C

FAST = {"max_epochs": 15, "query_max_epochs": 5, "n_top_genes": None, "model_kwargs": {"n_hidden": 32}}
QUIET = {"progress_bar": False}


@pytest.fixture(scope="module")
def split():
    adata = ct.datasets.simulate(n_cells=480, n_genes=300, n_types=3, n_batches=3, seed=2)
    reference = adata[adata.obs["batch"] != "batch_2"].copy()
    query = adata[adata.obs["batch"] == "batch_2"].copy()
    return reference, query


def test_annotates_the_query_and_leaves_its_data_alone(split, tmp_path):
    reference, query = split[0].copy(), split[1].copy()
    query = query[:, 30:].copy()  # the query lacks 10 % of the reference's genes
    truth = query.obs["cell_type"].astype(str).to_numpy()
    counts, var_names, reference_obs = query.layers["counts"].copy(), query.var_names.copy(), list(reference.obs)

    result = ct.tl.transfer_labels(
        reference, query, "cell_type", layer="counts", batch_key="batch", majority_voting=True, **FAST, **QUIET
    )

    assert result.gene_overlap == pytest.approx(0.9)
    assert len(result.genes.missing) == 30
    assert not set(result.used_genes) & set(result.genes.missing)  # only genes the query has
    prediction = query.obs["celltyper_prediction"]
    assert set(prediction.cat.categories) == {"type_0", "type_1", "type_2", "Unknown"}
    assert (prediction != "Unknown").all()  # the defaults keep known types known
    assert (prediction.astype(str).to_numpy() == truth).mean() > 0.9  # chance: 1/3
    confidence, novelty = query.obs["celltyper_confidence"].to_numpy(), query.obs["celltyper_novelty"].to_numpy()
    assert ((confidence >= 1 / 3) & (confidence <= 1)).all()
    assert ((novelty >= 0) & (novelty <= 1)).all() and np.array_equal(novelty, result.novelty)
    assert query.obsm["X_celltyper"].shape == (query.n_obs, 20)
    voted = query.obs["celltyper_majority_voting"]
    assert set(voted.cat.categories) == set(voted)  # no category without cells
    assert {"celltyper_cluster", "celltyper_cluster_agreement"} <= set(query.obs)
    assert result.calibration.n_cells > 0 and np.isfinite(result.calibration.ece_after)
    assert query.uns["celltyper"]["gene_overlap"] == pytest.approx(0.9)
    # The user's data are as they were.
    assert (query.layers["counts"] != counts).nnz == 0
    assert query.var_names.equals(var_names) and list(reference.obs) == reference_obs

    # A second query with the fitted annotator: nothing fitted again, its own key.
    other = split[1].copy()
    annotation = result.annotator.annotate(other, key_added="ct2", query_max_epochs=2, progress_bar=False)
    assert "ct2_prediction" in other.obs and annotation.genes.fraction == 1.0
    assert annotation.n_genes_used == len(result.used_genes)
    assert (other.obs["ct2_prediction"] != "Unknown").mean() > 0.9


def test_query_cells_without_counts_are_unknown_with_confidence_zero(split):
    reference, query = split[0].copy(), split[1].copy()
    query.layers["counts"] = sp.csr_matrix(query.layers["counts"])
    query.layers["counts"][:3] = 0
    query.layers["counts"].eliminate_zeros()

    with pytest.warns(UserWarning, match="3 query cells have no counts"):
        ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", **FAST, **QUIET)

    assert (query.obs["celltyper_prediction"][:3] == "Unknown").all()
    np.testing.assert_array_equal(query.obs["celltyper_confidence"][:3], 0.0)
    assert np.isnan(query.obsm["X_celltyper"][:3]).all() and np.isfinite(query.obsm["X_celltyper"][3:]).all()


@pytest.mark.parametrize("classifier", ["linear", "transformer"])
def test_reference_cells_without_counts_are_left_out_with_a_warning(split, classifier):
    reference, query = split[0].copy(), split[1].copy()
    counts = sp.lil_matrix(reference.layers["counts"])
    counts[::10] = 0
    reference.layers["counts"] = counts.tocsr()
    fast = {**FAST, "classifier_kwargs": {"train_kwargs": {"max_epochs": 2}}} if classifier == "transformer" else FAST

    with pytest.warns(UserWarning, match="34 reference cells have no counts"):
        result = ct.tl.transfer_labels(
            reference, query, "cell_type", layer="counts", classifier=classifier, **fast, **QUIET
        )

    assert result.reference_model.adata.n_obs == reference.n_obs - 34
    assert query.obs["celltyper_prediction"].notna().all()


def test_refuses_a_query_that_shares_too_few_genes(split):
    reference, query = split[0].copy(), split[1].copy()
    query.var_names = [f"other_{g}" if i >= 60 else g for i, g in enumerate(query.var_names)]
    with pytest.raises(ValueError, match=r"The query has only 60 of the 300 reference genes \(20.0%\); at least 25%"):
        ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", **FAST, **QUIET)
    assert "celltyper_prediction" not in query.obs


def _with_float_counts(reference, query):
    query.layers["counts"] = query.layers["counts"] * 0.5
    return reference, query


def _with_nan(reference, query):
    counts = query.layers["counts"].toarray() if sp.issparse(query.layers["counts"]) else query.layers["counts"].copy()
    counts[0, 0] = np.nan
    query.layers["counts"] = counts
    return reference, query


def _with_a_one_cell_type(reference, query):
    labels = reference.obs["cell_type"].astype(str).to_numpy()
    labels[0] = "platelet"
    reference.obs["cell_type"] = labels
    return reference, query


@pytest.mark.parametrize(
    ("kwargs", "change", "error", "match"),
    [
        ({"labels_key": "celltype"}, None, KeyError, "labels_key 'celltype'"),
        ({"layer": "raw"}, None, KeyError, "layer 'raw'"),
        ({"batch_key": "donor"}, None, KeyError, "batch_key 'donor'"),
        ({"unknown_threshold": 1.5}, None, ValueError, "unknown_threshold"),
        ({"novelty_threshold": 0.0}, None, ValueError, "novelty_threshold"),
        ({"classifier": "ensemble"}, None, ValueError, "classifier must be one of"),
        ({"class_prior": "query"}, None, ValueError, "class_prior must be 'balanced' or 'reference'"),
        ({"n_threads": 0}, None, ValueError, "n_threads"),
        ({"n_threads": "many"}, None, ValueError, "n_threads"),
        ({}, _with_float_counts, ValueError, r"non-integer values?\. transfer_labels reads raw counts"),
        ({}, _with_nan, ValueError, "1 NaN or infinite"),
        ({}, _with_a_one_cell_type, ValueError, r"Cell types \['platelet'\] have a single reference cell"),
    ],
)
def test_bad_input_is_a_clear_error_before_any_training(split, kwargs, change, error, match, monkeypatch):
    reference, query = split[0].copy(), split[1].copy()
    if change is not None:
        reference, query = change(reference, query)
    trained = []
    monkeypatch.setattr(ct.tl.LinearClassifier, "fit", lambda *a: trained.append(1))
    arguments = {"labels_key": "cell_type", "layer": "counts", **QUIET, **kwargs}
    with pytest.raises(error, match=match):
        ct.tl.transfer_labels(reference, query, **arguments)
    assert not trained


def test_balanced_class_prior_is_bayes_rule_on_the_vae_probabilities(split):
    """classifier="vae" with the default prior: the VAE's probabilities divided by the training frequencies."""
    reference, query = split[0].copy(), split[1].copy()
    rare = np.flatnonzero(reference.obs["cell_type"].astype(str).to_numpy() == "type_0")[20:]
    reference = reference[~reference.obs_names.isin(reference.obs_names[rare])].copy()  # type_0: 20 cells
    fast = {**FAST, **QUIET, "classifier": "vae", "max_gene_shift": None}

    result = ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", **fast)

    assert query.uns["celltyper"]["class_prior"] == "balanced"
    classes = list(result.probabilities.columns)
    vae = result.classifier.model
    assert result.reference_model is vae  # the VAE classifier's model is the latent model too
    labels = vae.adata.obs["_celltyper_true_labels"].astype(str)
    frequencies = labels.value_counts(normalize=True)[classes].to_numpy()
    assert frequencies.min() < 0.1  # the reference is imbalanced
    raw = result.query_model.predict(result.query_model.adata, soft=True)[classes].to_numpy()
    expected = result.calibration.transform(ct.tl.change_class_prior(raw, frequencies, np.full(len(classes), 1 / 3)))
    np.testing.assert_allclose(result.probabilities.to_numpy(), expected, rtol=1e-5, atol=1e-7)
    rare_type = classes.index("type_0")
    assert (result.probabilities.to_numpy().argmax(1) == rare_type).sum() > (raw.argmax(1) == rare_type).sum()


def test_linear_classifier_is_balanced_logistic_regression_calibrated_without_the_held_out_cells(split):
    """classifier="linear": scikit-learn's balanced logistic regression on log1p(CP10k) (of the genes both share) of
    every labelled cell, with the temperature fitted on the held-out cells' probabilities under a twin trained without
    them."""
    reference, query = split[0].copy(), split[1].copy()
    truth = query.obs["cell_type"].astype(str).to_numpy()

    result = ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", latent=False, **FAST, **QUIET)

    assert result.reference_model is None and "X_celltyper" not in query.obsm
    assert isinstance(result.classifier, ct.tl.LinearClassifier) and query.uns["celltyper"]["classifier"] == "linear"
    held_out = np.zeros(reference.n_obs, dtype=bool)
    held_out[reference.obs_names.get_indexer(result.calibration_cells)] = True
    assert 0 < held_out.sum() < 0.2 * reference.n_obs
    # Counts per 10,000 of all the genes both share (here all), then the genes the classifier reads.
    used = reference.var_names.get_indexer(result.used_genes)
    x = np.log1p(sc.pp.normalize_total(reference, target_sum=1e4, layer="counts", inplace=False)["X"][:, used])
    y = reference.obs["cell_type"].astype(str).to_numpy()

    def fit(cells):
        return LogisticRegression(C=LINEAR_C, class_weight="balanced", max_iter=1000).fit(x[cells], y[cells])

    final, twin = fit(np.ones(len(y), dtype=bool)), fit(~held_out)
    np.testing.assert_allclose(result.classifier.model.coef_, final.coef_, rtol=1e-2, atol=1e-3)  # lbfgs tolerance
    classes = list(result.probabilities.columns)
    order = pd.Index(final.classes_).get_indexer(classes)
    calibration = ct.tl.fit_temperature(twin.predict_proba(x[held_out])[:, order], y[held_out], classes)
    in_sample = ct.tl.fit_temperature(final.predict_proba(x[held_out])[:, order], y[held_out], classes)
    assert result.calibration.ece_before == pytest.approx(calibration.ece_before, rel=1e-2)
    assert abs(calibration.ece_before - in_sample.ece_before) > 0.01  # so the held-out cells' predictor is told apart
    query_x = np.log1p(sc.pp.normalize_total(query, target_sum=1e4, layer="counts", inplace=False)["X"][:, used])
    np.testing.assert_allclose(
        result.probabilities.to_numpy(), result.calibration.transform(final.predict_proba(query_x)[:, order]), atol=1e-3
    )
    assert (result.probabilities.idxmax(axis=1).to_numpy() == truth).mean() > 0.9  # chance: 1/3


def test_genes_a_platform_shifts_in_every_type_are_left_out_and_cell_types_are_kept():
    """A gene the query's platform does not detect is shifted in every type: it is left out. A type's marker whose
    share of cells changes only because the type is rarer in the query is kept."""
    adata = ct.datasets.simulate(n_cells=600, n_genes=300, n_types=3, n_batches=1, seed=3)
    reference, query = adata[::2].copy(), adata[1::2].copy()
    counts = query.layers["counts"].toarray()
    counts[:, :20] = 0  # 20 genes the other platform misses
    query.layers["counts"] = sp.csr_matrix(counts)
    rare = query.obs["cell_type"].astype(str).to_numpy() == "type_1"
    query = query[~rare | (np.cumsum(rare) <= 5)].copy()  # type_1 nearly absent from the query

    result = ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", latent=False, **FAST, **QUIET)

    excluded = set(result.excluded_genes)
    detection = np.asarray((reference.layers["counts"][:, :20] > 0).mean(0)).ravel()
    assert set(reference.var_names[:20][detection > 0.2]) <= excluded  # every well-detected gene among the 20
    markers = set(reference.var_names[(reference.var["program"] == "type_1").to_numpy()])
    assert markers and not markers & excluded


def _zheng_halves(seed: int = 0):
    adata = ct.datasets.zheng_sorted()
    reference, query = train_test_split(
        np.arange(adata.n_obs), test_size=0.5, stratify=adata.obs["cell_type"], random_state=seed
    )
    return adata[np.sort(reference)].copy(), adata[np.sort(query)].copy()


def test_known_types_stay_known_on_a_real_query_from_a_simulated_other_platform():
    """Bundled Kang: control → stimulated cells counted by another platform (shift_technology). At the defaults no
    cell is Unknown; at the novelty threshold that finds a missing type (next test), no known type is flagged."""
    adata = ct.datasets.kang_ifnb()
    reference = adata[adata.obs["condition"] == "control"].copy()
    stimulated = adata[adata.obs["condition"] == "stimulated"].copy()
    query = ct.datasets.shift_technology(stimulated, layer="counts", seed=0)

    ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", latent=False, **QUIET)

    truth = query.obs["cell_type"].astype(str).to_numpy()
    prediction = query.obs["celltyper_prediction"].astype(str).to_numpy()
    assert (prediction == "Unknown").mean() == 0
    assert (prediction == truth).mean() > 0.75
    flagged = pd.Series(query.obs["celltyper_novelty"].to_numpy() > NOVEL_THRESHOLD).groupby(truth).mean()
    assert flagged.max() == 0, flagged.to_dict()


#: The novelty threshold the left-out-type test uses (the default is 1: never).
NOVEL_THRESHOLD = 0.8


def test_a_type_missing_from_the_reference_is_called_unknown_at_a_novelty_threshold():
    reference, query = _zheng_halves()
    reference = reference[reference.obs["cell_type"] != "monocytes"].copy()

    ct.tl.transfer_labels(
        reference, query, "cell_type", layer="counts", latent=False, novelty_threshold=NOVEL_THRESHOLD, **QUIET
    )

    truth = query.obs["cell_type"].astype(str).to_numpy()
    unknown = query.obs["celltyper_prediction"].astype(str).to_numpy() == "Unknown"
    assert unknown[truth == "monocytes"].mean() > 0.6
    sizes = pd.Series(truth).value_counts()
    known = pd.Series(unknown).groupby(truth).mean().drop("monocytes")
    assert known[sizes[known.index] >= 20].max() <= 0.05, known.to_dict()
