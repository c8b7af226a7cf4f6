"""CellTypeTransformer on the bundled Zheng data: no collapse under imbalance, markers, API, bad input."""

from __future__ import annotations

import dataclasses
import inspect
import json

import numpy as np
import pytest
import scvi
import torch
from sklearn.metrics import f1_score

import celltyper as ct
from celltyper.model import _linear_head as linear_head
from celltyper.model._json_codec import encode
from celltyper.model._linear_head import per_type_sample
from celltyper.module import TransformerConfig
from celltyper.train._classifier import balanced_weights, stratified_split

FAST = {"max_epochs": 12, "early_stopping_patience": 6, "enable_progress_bar": False}
SMALL = {"n_genes": 1000, "n_tokens": 32, "d_model": 32, "n_layers": 1}


@pytest.fixture(scope="module")
def zheng():
    """Bundled Zheng sorted PBMC: 2140 cells × 8859 genes, raw counts in layers["counts"]."""
    return ct.datasets.zheng_sorted()


@pytest.fixture(scope="module")
def trained(zheng):
    """A model trained on ≤ 80 cells per type of Zheng; returns (model, held-out cells)."""
    rng = np.random.default_rng(0)
    train = np.concatenate(
        [
            rng.permutation(np.flatnonzero(zheng.obs["cell_type"] == t))[:80]
            for t in zheng.obs["cell_type"].cat.categories
        ]
    )
    ref = zheng[np.sort(train)].copy()
    query = zheng[np.setdiff1d(np.arange(zheng.n_obs), train)].copy()
    scvi.settings.seed = 0
    ct.CellTypeTransformer.setup_anndata(ref, labels_key="cell_type", layer="counts")
    model = ct.CellTypeTransformer(ref, **SMALL)
    model.train(**FAST)
    return model, query


def test_imbalanced_training_does_not_collapse(zheng):
    """nk ≥ 85 % of the training cells, three types with ≤ 40 cells: macro-F1 far above the majority vote."""
    rng = np.random.default_rng(1)
    sizes = {"nk": 600, "bcells": 40, "monocytes": 30, "cytotoxict": 35}
    train, test = [], []
    for cell_type, n in sizes.items():
        cells = rng.permutation(np.flatnonzero(zheng.obs["cell_type"] == cell_type))
        train.append(cells[:n])
        test.append(cells[n : n + 80])
    ref = zheng[np.sort(np.concatenate(train))].copy()
    query = zheng[np.sort(np.concatenate(test))].copy()
    assert (ref.obs["cell_type"] == "nk").mean() >= 0.85
    scvi.settings.seed = 0
    ct.CellTypeTransformer.setup_anndata(ref, labels_key="cell_type", layer="counts")
    model = ct.CellTypeTransformer(ref, **SMALL)
    model.train(**FAST)
    truth = query.obs["cell_type"].astype(str).to_numpy()
    labels = list(sizes)
    macro_f1 = f1_score(truth, model.predict(query), labels=labels, average="macro")
    majority_f1 = f1_score(truth, np.full(len(truth), "nk"), labels=labels, average="macro")
    assert majority_f1 < 0.2
    assert macro_f1 > 0.75, macro_f1


@pytest.mark.parametrize(
    ("label", "markers"), [("bcells", {"CD79A", "CD79B", "MS4A1"}), ("monocytes", {"LYZ", "CD14", "S100A8", "FCN1"})]
)
def test_feature_importance_ranks_known_markers(trained, label, markers):
    model, query = trained
    importance = model.get_feature_importance(label, query)
    assert importance.index.is_unique and len(importance) == model.module.n_genes
    assert np.all(np.diff(importance.to_numpy()) <= 0)
    assert markers & set(importance.index[:50]), importance.index[:50].tolist()


def test_predict_soft_annotate_and_history(trained):
    model, query = trained
    counts_before = query.layers["counts"].copy()
    labels = model.predict(query)
    probabilities = model.predict(query, soft=True)
    assert labels.shape == (query.n_obs,) and set(labels) <= set(model.cell_types)
    assert list(probabilities.index) == list(query.obs_names)
    assert list(probabilities.columns) == list(model.cell_types)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(probabilities.columns[probabilities.to_numpy().argmax(1)], labels)
    truth = query.obs["cell_type"].astype(str).to_numpy()
    assert (labels == truth).mean() > 0.7
    model.annotate(query)
    np.testing.assert_array_equal(query.obs["celltyper_prediction"].astype(str), labels)
    assert query.obs["celltyper_confidence"].between(0, 1).all()
    model.annotate(query, key_added="mine")
    np.testing.assert_array_equal(query.obs["mine_prediction"].astype(str), labels)
    np.testing.assert_allclose(query.obs["mine_confidence"], probabilities.max(1), rtol=1e-6)
    assert (query.layers["counts"] != counts_before).nnz == 0
    assert {"train_loss", "validation_loss", "validation_macro_f1"} <= set(model.history)


def test_both_heads_classify_and_the_prediction_mixes_them(trained):
    """The fitted linear head and the trained transformer head each separate held-out cells on their own."""
    model, query = trained
    module = model.module.eval()
    truth = query.obs["cell_type"].astype(str).to_numpy()
    read_rows, _ = model._query_reader(query)
    x = torch.as_tensor(read_rows(slice(0, 500)).toarray())
    with torch.inference_mode():
        e = module.normalize(x)
        transformer, linear = module.heads(e, e > 0)
        mixed = module.classify(x)
    for logits in (transformer, linear):
        assert (np.asarray(model.cell_types)[logits.argmax(1).numpy()] == truth[:500]).mean() > 0.6
    w = module.linear_weight
    expected = (1 - w) * torch.log_softmax(transformer, 1) + w * torch.log_softmax(linear, 1)
    torch.testing.assert_close(mixed, expected)


def test_training_ends_with_the_weights_of_the_lowest_validation_loss(trained):
    """The default monitor: the restored transformer head has the lowest validation loss of any epoch."""
    model, _ = trained
    cells = np.sort(model.validation_indices)
    read_rows, _ = model._query_reader(model.adata)
    x = torch.as_tensor(read_rows(cells).toarray())
    y = torch.as_tensor(model.adata_manager.get_from_registry("labels").ravel()[cells]).long()
    module = model.module.eval()
    with torch.inference_mode():
        e = module.normalize(x)
        loss = torch.nn.functional.cross_entropy(module.heads(e, e > 0)[0], y, label_smoothing=module.label_smoothing)
    history = model.history["validation_loss"].to_numpy().ravel()
    assert loss.item() == pytest.approx(history.min(), rel=1e-5)
    with pytest.raises(ValueError, match="monitor must be one of"):
        model.train(monitor="validation_accuracy")


def test_two_cell_types(zheng):
    """A binary reference (scikit-learn's one-logit logistic regression) predicts both types."""
    cells = np.concatenate([np.flatnonzero(zheng.obs["cell_type"] == t)[:150] for t in ("bcells", "monocytes")])
    ref = zheng[cells[::2]].copy()
    query = zheng[cells[1::2]].copy()
    ct.CellTypeTransformer.setup_anndata(ref, labels_key="cell_type", layer="counts")
    model = ct.CellTypeTransformer(ref, **SMALL)
    model.train(max_epochs=2, enable_progress_bar=False)
    assert (model.predict(query) == query.obs["cell_type"].astype(str).to_numpy()).mean() > 0.9


def test_linear_head_is_fitted_on_at_most_a_capped_number_of_cells_per_type(zheng, monkeypatch):
    """On an atlas the fitted head holds a bounded sample of each type in memory, not every training cell."""
    labels = np.array([0] * 50 + [1] * 7 + [2] * 30)
    sample = per_type_sample(np.arange(87), labels, max_per_type=10, seed=0)
    assert np.bincount(labels[sample]).tolist() == [10, 7, 10]
    assert (np.diff(sample) > 0).all()

    monkeypatch.setattr(linear_head, "LINEAR_HEAD_CELLS_PER_TYPE", 20)
    fitted_on = []
    fit = ct.CellTypeTransformer._fit_linear_head
    monkeypatch.setattr(
        ct.CellTypeTransformer, "_fit_linear_head", lambda self, cells: fitted_on.append(cells) or fit(self, cells)
    )
    ref = zheng[::4].copy()
    ct.CellTypeTransformer.setup_anndata(ref, labels_key="cell_type", layer="counts")
    model = ct.CellTypeTransformer(ref, **SMALL)
    model.train(max_epochs=1, enable_progress_bar=False)
    counts = ref.obs["cell_type"].iloc[fitted_on[0]].value_counts()
    assert counts.max() == 20 and len(counts) == ref.obs["cell_type"].nunique()


def test_save_load_round_trip(trained, tmp_path):
    model, query = trained
    model.save(tmp_path / "model", save_anndata=True)
    loaded = ct.CellTypeTransformer.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict(query, soft=True), model.predict(query, soft=True), atol=1e-6)
    assert loaded.config == model.config == TransformerConfig(**SMALL)


def test_signature_lists_every_hyperparameter_with_its_default():
    parameters = inspect.signature(ct.CellTypeTransformer).parameters
    defaults = {name: p.default for name, p in parameters.items() if name not in ("adata", "registry")}
    assert defaults == dataclasses.asdict(TransformerConfig())


def test_hyperparameters_are_saved_as_named_arguments(trained):
    """Every field of the config, in the layout of folders saved before TransformerConfig (they load alike)."""
    model, _ = trained
    expected = {**dataclasses.asdict(TransformerConfig()), **SMALL}
    assert model.init_params_ == {"non_kwargs": expected, "kwargs": {}}
    assert json.loads(json.dumps(model.init_params_)) == model.init_params_


def test_a_folder_that_saved_class_names_loads(trained, tmp_path):
    """Folders saved before ``cell_types`` hold a ``class_names_`` attribute: load skips it, a new save drops it."""
    model, query = trained
    model.save(tmp_path / "old", save_anndata=True)
    manifest_path = tmp_path / "old" / "model.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["attributes"]["class_names_"] = encode(np.asarray(model.cell_types, dtype=object), "class_names_")
    manifest_path.write_text(json.dumps(manifest))
    loaded = ct.CellTypeTransformer.load(tmp_path / "old")
    assert loaded.cell_types == model.cell_types and not hasattr(loaded, "class_names_")
    np.testing.assert_allclose(loaded.predict(query, soft=True), model.predict(query, soft=True), atol=1e-6)
    loaded.save(tmp_path / "new")
    assert "class_names_" not in json.loads((tmp_path / "new" / "model.json").read_text())["attributes"]


def test_query_with_missing_genes(trained):
    model, query = trained
    model_genes = model.adata.var_names[model.module.gene_index.numpy()]
    rng = np.random.default_rng(0)

    def without(fraction: float):
        dropped = rng.choice(model_genes, int(fraction * len(model_genes)), replace=False)
        return query[:, ~query.var_names.isin(dropped)][:, ::-1].copy()  # also in another gene order

    kept = without(0.3)
    with pytest.warns(UserWarning, match="missing ones are read as zero"):
        labels = model.predict(kept)
    assert (labels == kept.obs["cell_type"].astype(str).to_numpy()).mean() > 0.5
    with pytest.raises(ValueError, match="at least 25%"):
        model.predict(without(0.8))


def test_nonfinite_query_is_refused(trained):
    model, query = trained
    bad = query[:50].copy()
    bad.layers["counts"] = bad.layers["counts"].toarray()
    bad.layers["counts"][3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.predict(bad)


def test_bad_reference_input(zheng):
    small = zheng[:200].copy()
    with pytest.raises(KeyError, match="no column 'celltype'"):
        ct.CellTypeTransformer.setup_anndata(small, labels_key="celltype", layer="counts")

    one_type = zheng[zheng.obs["cell_type"] == "nk"][:100].copy()
    ct.CellTypeTransformer.setup_anndata(one_type, labels_key="cell_type", layer="counts")
    with pytest.raises(ValueError, match="single cell type"):
        ct.CellTypeTransformer(one_type)

    unlabelled = zheng[:100].copy()
    unlabelled.obs["cell_type"] = "Unknown"
    ct.CellTypeTransformer.setup_anndata(unlabelled, labels_key="cell_type", layer="counts")
    with pytest.raises(ValueError, match="No labelled cells"):
        ct.CellTypeTransformer(unlabelled)

    nonfinite = zheng[:100].copy()
    nonfinite.layers["counts"] = nonfinite.layers["counts"].toarray()
    nonfinite.layers["counts"][0, 0] = np.inf
    ct.CellTypeTransformer.setup_anndata(nonfinite, labels_key="cell_type", layer="counts")
    with pytest.raises(ValueError, match="NaN or infinite"):
        ct.CellTypeTransformer(nonfinite)

    mixed = zheng[::10].copy()
    ct.CellTypeTransformer.setup_anndata(mixed, labels_key="cell_type", layer="counts")
    with pytest.raises(ValueError, match="linear_weight must be between 0 and 1"):
        ct.CellTypeTransformer(mixed, linear_weight=1.5)
    with pytest.raises(TypeError, match=r"\['n_layer'\]; the valid ones are \[.*'n_layers'"):
        ct.CellTypeTransformer(mixed, n_layer=1)


def test_split_keeps_every_class_and_sampler_balances():
    labels = np.array([0] * 90 + [1] * 8 + [2] * 2 + [3] * 5)  # code 3 = unlabeled
    train, validation, unlabeled = stratified_split(labels, n_classes=3, validation_size=0.1, seed=0)
    assert set(labels[validation]) == {0, 1, 2} and set(labels[train]) == {0, 1, 2}
    assert set(unlabeled) == set(np.flatnonzero(labels == 3))
    assert not set(train) & set(validation)
    weights = balanced_weights(labels[train], np.zeros(len(train), dtype=int), class_balance=1.0)
    mass = [weights[labels[train] == c].sum() for c in range(3)]
    np.testing.assert_allclose(mass, 1 / 3)
    uniform = balanced_weights(labels[train], np.zeros(len(train), dtype=int), class_balance=0.0)
    np.testing.assert_allclose(uniform, 1 / len(train))
