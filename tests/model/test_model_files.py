"""Model files: safetensors + JSON, never unpickled; damaged files are clear errors; saves are atomic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scvi.model.base import BaseModelClass

import celltyper as ct
from celltyper.model import SemiSupervisedCountVAE, convert_legacy_model
from celltyper.model import _model_files as model_files
from celltyper.model._json_codec import decode, encode

QUIET = {"enable_progress_bar": False, "accelerator": "cpu"}


class Payload:
    """Unpickling this creates ``marker``: what a hostile model file would do, harmlessly."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture(scope="module")
def data():
    return ct.datasets.simulate(n_cells=300, n_genes=200, n_types=3, n_batches=2, seed=1)


def _countvae(adata):
    ct.CountVAE.setup_anndata(adata, layer="counts", batch_key="batch")
    return ct.CountVAE(adata, n_hidden=16, n_latent=4, dispersion="gene-batch")


def _semisupervised(adata):
    SemiSupervisedCountVAE.setup_anndata(adata, labels_key="cell_type", layer="counts", batch_key="batch")
    return SemiSupervisedCountVAE(adata, n_hidden=16, n_latent=4)


def _transformer(adata):
    ct.CellTypeTransformer.setup_anndata(adata, labels_key="cell_type", layer="counts")
    return ct.CellTypeTransformer(adata, n_genes=100, n_tokens=8, d_model=16, n_layers=1)


def _output(model, adata):
    """What each model computes: the latent of a CountVAE, the class probabilities of the classifiers."""
    if type(model) is ct.CountVAE:
        return model.get_latent_representation(adata)
    return model.predict(adata, soft=True).to_numpy()


@pytest.fixture(scope="module")
def models(data):
    trained = {}
    for build in (_countvae, _semisupervised, _transformer):
        model = build(data.copy())
        model.train(max_epochs=3, **QUIET)
        trained[type(model)] = model
    return trained


@pytest.mark.parametrize("cls", [ct.CountVAE, SemiSupervisedCountVAE, ct.CellTypeTransformer])
def test_save_load_round_trips_exactly(models, data, cls, tmp_path):
    model = models[cls]
    model.save(tmp_path / "model", save_anndata=True)
    assert sorted(os.listdir(tmp_path / "model")) == ["adata.h5ad", "model.json", "model.safetensors"]
    loaded = cls.load(tmp_path / "model", accelerator="cpu")
    np.testing.assert_array_equal(_output(loaded, data), _output(model, data))
    assert loaded.is_trained_ and loaded.init_params_ == model.init_params_
    for key, frame in model.history.items():
        pd.testing.assert_frame_equal(loaded.history[key], frame)
    np.testing.assert_array_equal(loaded.train_indices_, model.train_indices_)
    # and onto data passed in, as a new AnnData
    again = cls.load(str(tmp_path / "model"), adata=data.copy(), accelerator="cpu")
    np.testing.assert_array_equal(_output(again, data), _output(model, data))


def test_load_query_data_from_a_saved_folder(models, data, tmp_path):
    reference = models[ct.CountVAE]
    reference.save(tmp_path / "reference")
    query = data[data.obs["batch"] == "batch_1"].copy()
    query.obs["batch"] = "new_batch"
    for folder in (tmp_path / "reference", str(tmp_path / "reference")):
        mapped = ct.CountVAE.load_query_data(query.copy(), folder)
        from_instance = ct.CountVAE.load_query_data(query.copy(), reference)
        for name, tensor in from_instance.module.state_dict().items():
            n_reference = reference.module.state_dict()[name].shape
            if tensor.shape == n_reference:  # the reference's weights, and only the new batch's columns fresh
                torch.testing.assert_close(mapped.module.state_dict()[name], tensor, rtol=0, atol=0)
        mapped.train(max_epochs=1, plan_kwargs={"weight_decay": 0.0}, **QUIET)
        assert mapped.get_latent_representation().shape == (query.n_obs, 4)
    with pytest.raises(ValueError, match="holds a CountVAE, not a SemiSupervisedCountVAE"):
        SemiSupervisedCountVAE.load_query_data(query.copy(), tmp_path / "reference")
    # scvi-tools' other readers of a saved folder, on the safe files
    registry = ct.CountVAE.load_registry(tmp_path / "reference")
    assert (
        registry["setup_args"] == reference.registry_["setup_args"] == {**registry["setup_args"], "batch_key": "batch"}
    )
    shuffled = query[:, np.random.default_rng(0).permutation(query.n_vars)[:-5]].copy()
    prepared = ct.CountVAE.prepare_query_anndata(shuffled, str(tmp_path / "reference"), inplace=False)
    pd.testing.assert_index_equal(prepared.var_names, reference.adata.var_names)


def test_a_pickle_payload_is_never_run(models, data, tmp_path):
    """A folder whose model.pt would create a file when unpickled: every entry point refuses it, nothing runs."""
    folder, marker = tmp_path / "hostile", tmp_path / "payload_ran"
    folder.mkdir()
    torch.save({"model_state_dict": {}, "var_names": Payload(marker), "attr_dict": {}}, folder / "model.pt")
    for load in (
        lambda: ct.CountVAE.load(folder, adata=data.copy()),
        lambda: SemiSupervisedCountVAE.load(str(folder), adata=data.copy()),
        lambda: ct.CellTypeTransformer.load(folder),
        lambda: ct.CountVAE.load_query_data(data.copy(), str(folder)),
        lambda: ct.CountVAE.prepare_query_anndata(data.copy(), folder),
        lambda: SemiSupervisedCountVAE.load_registry(folder),
        lambda: ct.CellTypeTransformer.view_setup_args(str(folder)),
    ):
        with pytest.raises(ValueError, match=r"model\.pt is a model file in the old format.*convert_legacy_model"):
            load()
    with pytest.raises(NotImplementedError, match="convert_legacy_model"):
        ct.CountVAE.convert_legacy_save(str(folder), str(tmp_path / "converted"))
    with pytest.raises(NotImplementedError, match="prepare_query_anndata"):
        ct.CountVAE.prepare_query_mudata(None, str(folder))
    with pytest.raises(ValueError, match="trust=True"):
        convert_legacy_model(folder)
    with pytest.raises(ValueError, match=r"not converted: .*open is not among the types"):
        convert_legacy_model(folder, trust=True)
    assert not marker.exists()
    assert sorted(os.listdir(folder)) == ["model.pt"]  # nothing written, nothing renamed

    # beside a real model, the pickle is ignored
    models[ct.CountVAE].save(tmp_path / "model")
    torch.save(Payload(marker), tmp_path / "model" / "model.pt")
    ct.CountVAE.load(tmp_path / "model", adata=data.copy())
    assert not marker.exists()
    # the payload is live: an unrestricted torch.load (what scvi-tools does) runs it
    torch.load(folder / "model.pt", weights_only=False)
    assert marker.exists()


def test_legacy_folder_converts_once_and_predicts_the_same(models, data, tmp_path):
    model = models[SemiSupervisedCountVAE]
    BaseModelClass.save(model, str(tmp_path / "legacy"), save_anndata=True)  # scvi-tools' pickled model.pt
    with pytest.raises(ValueError, match="convert_legacy_model"):
        SemiSupervisedCountVAE.load(tmp_path / "legacy")
    assert convert_legacy_model(tmp_path / "legacy", trust=True) == tmp_path / "legacy"
    converted = ["adata.h5ad", "model.json", "model.pt.legacy", "model.safetensors"]
    assert sorted(os.listdir(tmp_path / "legacy")) == converted
    loaded = SemiSupervisedCountVAE.load(tmp_path / "legacy", accelerator="cpu")
    np.testing.assert_array_equal(_output(loaded, data), _output(model, data))
    pd.testing.assert_frame_equal(loaded.history["train_loss"], model.history["train_loss"])


def test_conversion_refuses_a_model_of_another_package(tmp_path):
    content = {
        "model_state_dict": {},
        "var_names": np.array(["a", "b"]),
        "attr_dict": {"registry_": {"model_name": "SCVI"}},
    }
    torch.save(content, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="holds a SCVI, not a celltyper model"):
        convert_legacy_model(tmp_path, trust=True)
    assert os.listdir(tmp_path) == ["model.pt"]


def _saved(models, tmp_path) -> Path:
    models[ct.CountVAE].save(tmp_path / "model")
    return tmp_path / "model"


def _rewrite_json(folder: Path, change) -> None:
    manifest = json.loads((folder / "model.json").read_text())
    change(manifest)
    (folder / "model.json").write_text(json.dumps(manifest))


def _fix_checksum(manifest: dict, folder: Path) -> None:
    import hashlib

    manifest["weights_sha256"] = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncated weights", r"model\.safetensors does not match the checksum"),
        ("changed weights", r"model\.safetensors does not match the checksum"),
        ("garbage weights, checksum updated", r"model\.safetensors is not a readable safetensors file"),
        ("weights of another shape, checksum updated", r"model\.safetensors does not fit the CountVAE"),
        ("missing weights", r"model\.safetensors is missing"),
        ("truncated json", r"model\.json is not valid JSON"),
        ("unknown type tag", r"model\.json is not a celltyper model description: .*unknown type tag 'pickle'"),
        ("attribute name", r"model\.json is not a celltyper model description: 'attributes' must map public names"),
        ("newer format", r"model\.json .*upgrade celltyper"),
    ],
)
def test_damaged_or_tampered_files_are_clear_errors(models, data, tmp_path, damage, message):
    folder = _saved(models, tmp_path)
    weights = folder / "model.safetensors"
    if damage == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif damage == "changed weights":
        content = bytearray(weights.read_bytes())
        content[-5] ^= 0xFF
        weights.write_bytes(bytes(content))
    elif damage == "garbage weights, checksum updated":
        weights.write_bytes(b"not a safetensors file at all")
        _rewrite_json(folder, lambda manifest: _fix_checksum(manifest, folder))
    elif damage == "weights of another shape, checksum updated":
        import safetensors.torch

        tensors = safetensors.torch.load(weights.read_bytes())
        tensors["px_r"] = torch.zeros(3)
        weights.write_bytes(safetensors.torch.save(tensors))
        _rewrite_json(folder, lambda manifest: _fix_checksum(manifest, folder))
    elif damage == "missing weights":
        weights.unlink()
    elif damage == "truncated json":
        text = (folder / "model.json").read_text()
        (folder / "model.json").write_text(text[: len(text) // 2])
    elif damage == "unknown type tag":
        _rewrite_json(folder, lambda manifest: manifest["attributes"].update(history_={"__type__": "pickle"}))
    elif damage == "attribute name":
        _rewrite_json(folder, lambda manifest: manifest["attributes"].update(__class__=None))
    elif damage == "newer format":
        _rewrite_json(folder, lambda manifest: manifest.update(format_version=2))
    with pytest.raises(ValueError, match=message):
        ct.CountVAE.load(folder, adata=data.copy())


def test_an_interrupted_save_leaves_no_half_written_model(models, data, tmp_path, monkeypatch):
    model = models[ct.CountVAE]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", interrupted)  # model.json is written last
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "new", save_anndata=True)
    assert os.listdir(tmp_path) == []  # neither the folder nor a temporary one
    monkeypatch.undo()

    model.save(tmp_path / "old")
    before = {name: (tmp_path / "old" / name).read_bytes() for name in os.listdir(tmp_path / "old")}
    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "old", overwrite=True, save_anndata=True)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["old"]
    assert {name: (tmp_path / "old" / name).read_bytes() for name in os.listdir(tmp_path / "old")} == before
    ct.CountVAE.load(tmp_path / "old", adata=data.copy())


def test_overwrite_rules(models, tmp_path):
    model = models[ct.CountVAE]
    model.save(tmp_path / "model")
    with pytest.raises(ValueError, match="already exists: pass overwrite=True"):
        model.save(tmp_path / "model")
    model.save(tmp_path / "model", overwrite=True, save_anndata=True)
    assert "adata.h5ad" in os.listdir(tmp_path / "model")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"holds files that are not part of a saved model \(notes\.txt\)"):
        model.save(tmp_path / "results", overwrite=True)
    assert (tmp_path / "results" / "notes.txt").read_text() == "keep me"


def test_unsaveable_attributes_are_refused_before_writing(models, tmp_path):
    model = models[ct.CountVAE]
    model.callback_ = {"a set"}
    try:
        with pytest.raises(TypeError, match="Cannot save callback_ of type builtins.set"):
            model.save(tmp_path / "model")
    finally:
        del model.callback_
    assert not (tmp_path / "model").exists()


def test_json_codec_round_trips_the_types_a_model_holds():
    history = pd.DataFrame({"train_loss": np.array([1.5, np.nan], dtype=object)}, index=pd.Index([0, 1], name="epoch"))
    value = {
        "none": None,
        "flags": [True, False],
        "numbers": (1, 2.5, float("inf"), float("nan")),
        "text": "α",
        "int keys": {0: "a", (1, 2): "b"},
        "__type__": "a key that looks like a tag",
        "scalars": [np.int64(3), np.float32(0.1), np.bool_(True), np.str_("b")],
        "arrays": [np.arange(6).reshape(2, 3), np.array(["x", "y"], dtype=object), np.array(["u"]), np.zeros(0)],
        "index": pd.RangeIndex(3, name="cells"),
        "history": history,
    }
    text = json.dumps(encode(value), allow_nan=False)
    back = decode(json.loads(text))
    assert back.keys() == value.keys()
    assert back["numbers"][:3] == (1, 2.5, float("inf")) and np.isnan(back["numbers"][3])
    assert back["int keys"] == value["int keys"] and back["__type__"] == value["__type__"]
    for got, expected in zip(back["scalars"], value["scalars"], strict=True):
        assert type(got) is type(expected) and got == expected
    for got, expected in zip(back["arrays"], value["arrays"], strict=True):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    pd.testing.assert_index_equal(back["index"], value["index"], exact=False)
    pd.testing.assert_frame_equal(back["history"], history)


@pytest.mark.parametrize(
    "value", [{1, 2}, print, np.array([1 + 2j]), pd.DataFrame({"a": pd.Categorical(["x"])}), pd.Series([1.0])]
)
def test_json_codec_refuses_other_types(value):
    with pytest.raises(TypeError, match="Cannot save"):
        encode(value)


@pytest.mark.parametrize(
    "data",
    [
        {"__type__": "os.system", "value": "echo"},
        {"__type__": "ndarray", "dtype": "<M8[ns]", "shape": [1], "data": [0]},
        {"__type__": "ndarray", "dtype": "<f8", "shape": [3], "data": [0.0]},
        {"__type__": "float", "value": "1e999"},
        {"__type__": "tuple", "items": [], "extra": 1},
    ],
)
def test_json_codec_refuses_what_it_did_not_write(data):
    with pytest.raises(ValueError, match="value"):
        decode(data)


def test_cli_model_folder_check_lets_load_name_the_conversion(models, tmp_path):
    from celltyper.cli._io import require_dir

    assert require_dir(_saved(models, tmp_path), "model") == tmp_path / "model"
    (tmp_path / "legacy").mkdir()
    torch.save({}, tmp_path / "legacy" / model_files.LEGACY_FILE)
    assert require_dir(tmp_path / "legacy", "model") == tmp_path / "legacy"
    with pytest.raises(FileNotFoundError, match="not a saved model folder"):
        require_dir(tmp_path, "model")
