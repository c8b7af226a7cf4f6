from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from sklearn.metrics import f1_score

import celltyper as ct


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def predicted(kang_small):
    """Kang cells with a made-up prediction: right for 80 % of the cells, "Unknown" for the rest."""
    rng = np.random.default_rng(0)
    truth = kang_small.obs["cell_type"].astype(str).to_numpy()
    kang_small.obs["celltyper_prediction"] = np.where(rng.random(kang_small.n_obs) < 0.8, truth, "Unknown")
    kang_small.obs["celltyper_confidence"] = rng.random(kang_small.n_obs)
    return kang_small


def test_qc_violin_before_and_after(kang_small, tmp_path):
    kang_small.var_names = ["MT-" + name if i < 5 else name for i, name in enumerate(kang_small.var_names)]
    ct.pp.prepare(kang_small, min_genes=150, n_top_genes=200, umap=False)
    fig = ct.pl.qc_violin(kang_small, save=tmp_path / "qc.png")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["genes per cell", "counts per cell", "% mitochondrial"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["before filtering", "after filtering"]
    assert (tmp_path / "qc.png").stat().st_size > 1000


def test_qc_violin_leaves_out_the_mitochondrial_panel_without_mitochondrial_genes(kang_small):
    ct.pp.prepare(kang_small, min_genes=150, max_pct_mt=None, n_top_genes=200, umap=False)  # Kang has no MT- genes
    fig = ct.pl.qc_violin(kang_small)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["genes per cell", "counts per cell"]
    with pytest.raises(ValueError, match="nothing to show"):
        ct.pl.qc_violin(kang_small, keys=["pct_counts_mt"])


def test_umap_panels_and_errors(predicted, tmp_path):
    with pytest.raises(KeyError, match="X_umap"):
        ct.pl.umap(predicted, "cell_type")
    predicted.obsm["X_umap"] = np.random.default_rng(0).normal(size=(predicted.n_obs, 2))
    with pytest.raises(KeyError, match="celltype"):
        ct.pl.umap(predicted, ["celltype"])
    fig = ct.pl.umap(predicted, ["cell_type", "condition"], save=tmp_path / "u")
    titles = {ax.get_title() for ax in fig.axes}
    assert {"cell_type", "condition"} <= titles
    assert (tmp_path / "u.png").exists()
    ct.pl.umap(predicted, ["cell_type", "celltyper_prediction"])  # same type, same colour; Unknown grey
    label_colors = dict(zip(predicted.obs["cell_type"].cat.categories, predicted.uns["cell_type_colors"], strict=True))
    prediction = predicted.obs["celltyper_prediction"].cat.categories
    for category, color in zip(prediction, predicted.uns["celltyper_prediction_colors"], strict=True):
        assert color == label_colors.get(category, "lightgray")
    default = ct.pl.umap(predicted)
    assert {"celltyper_prediction", "celltyper_confidence"} <= {ax.get_title() for ax in default.axes}


def test_confusion_matrix_values(predicted):
    fig = ct.pl.confusion_matrix(predicted, "cell_type")
    values = np.asarray(fig.axes[0].images[0].get_array())
    classes = sorted(predicted.obs["cell_type"].astype(str).unique())
    assert values.shape == (len(classes), len(classes) + 1)  # + the "Unknown" column
    np.testing.assert_allclose(values.sum(1), 1.0)
    truth = predicted.obs["cell_type"].astype(str)
    b_correct = ((truth == "B") & (predicted.obs["celltyper_prediction"] == "B")).sum() / (truth == "B").sum()
    assert values[classes.index("B"), classes.index("B")] == pytest.approx(b_correct)
    with pytest.raises(KeyError, match="labels"):
        ct.pl.confusion_matrix(predicted, "labels")


def test_f1_bars_match_sklearn(predicted):
    fig = ct.pl.f1_bars(predicted, "cell_type")
    ax = fig.axes[0]
    widths = sorted(bar.get_width() for bar in ax.patches)
    truth, pred = predicted.obs["cell_type"].astype(str), predicted.obs["celltyper_prediction"].astype(str)
    expected = f1_score(truth, pred, labels=sorted(truth.unique()), average=None)
    np.testing.assert_allclose(widths, sorted(expected))
    assert f"{expected.mean():.3f}" in ax.get_title()


def test_training_curves_pairs_train_and_validation():
    epochs = pd.Index(range(5), name="epoch")
    history = {
        "train_loss_step": pd.DataFrame({"train_loss_step": np.arange(50.0)}),
        "train_loss_epoch": pd.DataFrame({"train_loss_epoch": np.linspace(5, 1, 5)}, index=epochs),
        "validation_loss": pd.DataFrame({"validation_loss": np.linspace(6, 2, 5)}, index=epochs),
        "elbo_train": pd.DataFrame({"elbo_train": np.linspace(9, 3, 5)}, index=epochs),
        "elbo_validation": pd.DataFrame({"elbo_validation": np.linspace(9, 4, 5)}, index=epochs),
        "kl_global_train": pd.DataFrame({"kl_global_train": np.zeros(5)}, index=epochs),
        "kl_global_validation": pd.DataFrame({"kl_global_validation": np.zeros(5)}, index=epochs),
    }
    fig = ct.pl.training_curves(history)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {"loss", "elbo"}  # kl global is 0 at every epoch: left out
    assert "kl global" in {ax.get_title() for ax in ct.pl.training_curves(history, keys=["kl_global"]).axes}
    assert len(panels["loss"].lines) == 2
    np.testing.assert_allclose(panels["elbo"].lines[1].get_ydata(), np.linspace(9, 4, 5))
    with pytest.raises(KeyError, match="accuracy"):
        ct.pl.training_curves(history, keys=["accuracy"])
    with pytest.raises(ValueError, match="No training history"):
        ct.pl.training_curves({})
    with pytest.raises(ValueError, match="nothing to show"):
        ct.pl.training_curves({"kl_global_train": history["kl_global_train"]})


def test_training_curves_of_a_real_model(kang_small):
    ct.CountVAE.setup_anndata(kang_small, layer="counts")
    model = ct.CountVAE(kang_small, n_hidden=32, n_latent=4)
    model.train(max_epochs=2, enable_progress_bar=False)
    fig = ct.pl.training_curves(model)
    titles = {ax.get_title() for ax in fig.axes if ax.get_visible()}
    assert {"elbo", "loss"} <= titles


def test_feature_importance_bars():
    importance = pd.Series([0.1, 3.0, 2.0, -1.0], index=["a", "b", "c", "d"], name="B")
    fig = ct.pl.feature_importance(importance, n_top=3)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "c", "b"]  # largest on top
    assert ax.get_title() == "B"
    with pytest.raises(ValueError, match="Series"):
        ct.pl.feature_importance(pd.Series(dtype=float))
