"""Annotator: the same results as transfer_labels, a saved folder that reproduces them exactly, and its checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import celltyper as ct

FAST = {"max_epochs": 10, "query_max_epochs": 3, "n_top_genes": None, "model_kwargs": {"n_hidden": 32}}
QUIET = {"progress_bar": False}
COLUMNS = ["celltyper_prediction", "celltyper_confidence", "celltyper_novelty"]


@pytest.fixture(scope="module")
def split():
    adata = ct.datasets.simulate(n_cells=480, n_genes=300, n_types=4, n_batches=3, seed=5)
    reference = adata[adata.obs["batch"] != "batch_2"].copy()
    query = adata[adata.obs["batch"] == "batch_2"].copy()
    return reference, query


@pytest.fixture(scope="module")
def annotator(split):
    return ct.Annotator.from_reference(split[0], "cell_type", layer="counts", latent=False, n_top_genes=200, **QUIET)


def test_transfer_labels_is_fit_then_annotate(split):
    reference, query = split[0], split[1].copy()
    result = ct.tl.transfer_labels(reference, query, "cell_type", layer="counts", batch_key="batch", **FAST, **QUIET)

    again = split[1].copy()
    annotator = ct.Annotator.from_reference(
        reference, "cell_type", layer="counts", batch_key="batch", query=again, **FAST, **QUIET
    )
    annotator.annotate(again, layer="counts", batch_key="batch", **QUIET)

    pd.testing.assert_frame_equal(query.obs[COLUMNS], again.obs[COLUMNS])
    np.testing.assert_allclose(query.obsm["X_celltyper"], again.obsm["X_celltyper"], atol=1e-5)
    assert result.annotator.genes.equals(annotator.genes)


def test_a_saved_annotator_reproduces_its_predictions_exactly(split, tmp_path):
    reference, query = split
    annotator = ct.Annotator.from_reference(
        reference,
        "cell_type",
        layer="counts",
        batch_key="batch",
        name="simulated",
        description="four types",
        **FAST,
        **QUIET,
    )
    annotator.add_evaluation("batch 2", {"accuracy": 0.5})
    first = query.copy()
    annotator.annotate(first, majority_voting=True, **QUIET)
    annotator.save(tmp_path / "annotator")

    loaded = ct.Annotator.load(tmp_path / "annotator")
    second = query.copy()
    loaded.annotate(second, majority_voting=True, **QUIET)

    pd.testing.assert_frame_equal(first.obs, second.obs)
    np.testing.assert_allclose(first.obsm["X_celltyper"], second.obsm["X_celltyper"], atol=1e-5)
    assert loaded.card == annotator.card and loaded.cell_types == annotator.cell_types
    card = (tmp_path / "annotator" / "model_card.md").read_text()
    assert "# simulated" in card and "batch 2" in card and "type_0" in card
    loaded.save(tmp_path / "copy")  # its latent model is a folder now: copied as it is
    assert ct.Annotator.load(tmp_path / "copy").card == annotator.card


def test_the_model_card_describes_the_reference(annotator, split):
    card = annotator.card
    counts = split[0].obs["cell_type"].value_counts()
    assert card["reference"]["cell_types"] == {t: int(counts[t]) for t in annotator.cell_types}
    assert card["genes"]["n_used"] == 200 and card["genes"]["n_reference"] == 300
    held_out = card["held_out"]
    assert held_out["n_cells"] == pytest.approx(0.1 * split[0].n_obs, abs=4)
    assert 0.5 < held_out["accuracy"] <= 1 and set(held_out["f1_per_type"]) == set(annotator.cell_types)
    assert card["versions"]["celltyper"] == ct.__version__ and card["latent_model"] is None


def test_a_query_lacking_genes_reads_zeros_there_and_too_few_is_an_error(annotator, split):
    query = split[1][:, 40:].copy()  # lacks some of the annotator's genes
    with pytest.warns(UserWarning, match="lacks .* of the 200 genes"):
        annotation = _annotate_lacking(annotator, split[1])
    assert annotation.n_genes_used_found < annotation.n_genes_used
    assert (query.n_vars, annotator.settings["layer"]) == (260, "counts")
    with pytest.raises(ValueError, match="genes the annotator reads"):
        annotator.annotate(split[1][:, :50].copy(), **QUIET)


def _annotate_lacking(annotator, query):
    present = query.var_names.isin(annotator.genes)
    keep = np.flatnonzero(~present | (np.cumsum(present) > 60))  # drop 60 of its 200 genes
    return annotator.annotate(query[:, keep].copy(), **QUIET)


def test_counts_are_read_from_the_reference_layer_or_x(annotator, split):
    in_x = split[1].copy()
    in_x.X = in_x.layers.pop("counts")
    in_layer = split[1].copy()
    annotator.annotate(in_x, **QUIET)
    annotator.annotate(in_layer, **QUIET)
    pd.testing.assert_frame_equal(in_x.obs[COLUMNS], in_layer.obs[COLUMNS])


def test_damaged_or_foreign_folders_are_refused(annotator, tmp_path):
    folder = tmp_path / "annotator"
    annotator.save(folder)
    with pytest.raises(ValueError, match="already exists"):
        annotator.save(folder)
    annotator.save(folder, overwrite=True)

    tensors = folder / "annotator.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:-8])
    with pytest.raises(ValueError, match="checksum"):
        ct.Annotator.load(folder)

    annotator.save(folder, overwrite=True)
    manifest = json.loads((folder / "annotator.json").read_text())
    manifest["format_version"] = 99
    (folder / "annotator.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="upgrade celltyper"):
        ct.Annotator.load(folder)
    with pytest.raises(FileNotFoundError, match="no saved annotator"):
        ct.Annotator.load(tmp_path)


def test_only_the_linear_classifier_is_saved(split, tmp_path):
    annotator = ct.Annotator.from_reference(
        split[0],
        "cell_type",
        layer="counts",
        classifier="transformer",
        latent=False,
        n_top_genes=100,
        classifier_kwargs={"train_kwargs": {"max_epochs": 1}},
        **QUIET,
    )
    with pytest.raises(ValueError, match="supports the linear classifier"):
        annotator.save(tmp_path / "annotator")


def test_streaming_an_h5ad_gives_the_in_memory_numbers(annotator, split, tmp_path):
    query = split[1][:, ::-1].copy()  # genes in another order
    query.layers["counts"][:2] = 0  # two cells without counts
    path = tmp_path / "query.h5ad"
    query.write_h5ad(path)

    table = ct.tl.annotate_h5ad(annotator, path, chunk_size=70, annotated=tmp_path / "annotated.h5ad")

    in_memory = query.copy()
    annotator.annotate(in_memory, novelty_threshold=1.0, **QUIET)  # streaming computes no cluster novelty
    expected = in_memory.obs["celltyper_prediction"].astype(str).to_numpy()
    np.testing.assert_array_equal(table["celltyper_prediction"].astype(str).to_numpy(), expected)
    np.testing.assert_allclose(table["celltyper_confidence"], in_memory.obs["celltyper_confidence"], atol=1e-5)
    assert (table["celltyper_prediction"].iloc[:2] == "Unknown").all()


def test_one_call_annotate_takes_an_annotator_a_folder_or_a_name(annotator, split, tmp_path):
    annotator.save(tmp_path / "saved")
    by_object, by_folder = split[1].copy(), split[1].copy()
    ct.tl.annotate(by_object, annotator, **QUIET)
    ct.tl.annotate(by_folder, tmp_path / "saved", **QUIET)
    pd.testing.assert_frame_equal(by_object.obs[COLUMNS], by_folder.obs[COLUMNS])
    with pytest.raises(FileNotFoundError, match="neither a folder holding a saved annotator nor a built-in model"):
        ct.tl.annotate(split[1].copy(), "no_such_model", **QUIET)
