"""Docstring fragments shared by the models' ``setup_anndata`` and ``train`` methods, filled in by docrep.

As scvi-tools' ``scvi.utils.setup_anndata_dsp``: a method decorated with ``@setup_anndata_dsp.dedent`` writes
``%(param_layer)s`` in its docstring where the fragment belongs, so each parameter is described once;
``@train_dsp.dedent`` does the same for the ``train`` parameters every model shares (devices, checkpoints). The
texts are celltyper's own (what the models check and how they use each argument), not scvi-tools'.
"""

from __future__ import annotations

from docrep import DocstringProcessor

param_adata = """\
adata
    AnnData of cells × genes; nothing in its values changes."""

param_layer = """\
layer
    Layer holding the expression to model (``None``: ``adata.X``): raw counts for the count likelihoods
    (``"nb"``, ``"zinb"``, ``"poisson"``); counts or log-normalized values for ``"gaussian"``."""

param_batch_key = """\
batch_key
    Column of ``adata.obs`` with the batch of each cell; the decoder is conditioned on it."""

param_cell_type_key = """\
labels_key
    Column of ``adata.obs`` with the cell type of each cell; cells whose value is ``unlabeled_category`` are
    unlabelled (a classifier does not learn from them)."""

param_unlabeled_category = """\
unlabeled_category
    The value of ``labels_key`` that marks unlabelled cells."""

param_covariate_keys = """\
categorical_covariate_keys, continuous_covariate_keys
    Further columns of ``adata.obs`` the decoder is conditioned on."""

param_register_kwargs = """\
**kwargs
    Passed to :meth:`scvi.data.AnnDataManager.register_fields`."""

notes_bookkeeping = """\
Like every scvi-tools model, this writes bookkeeping columns (``_scvi_batch``, ``_scvi_labels``) to ``adata.obs``
and ids to ``adata.uns``; ``adata.X`` and the layers are left as they are."""

#: Fills the fragments above into a docstring: decorate with ``@setup_anndata_dsp.dedent``.
setup_anndata_dsp = DocstringProcessor(
    param_adata=param_adata,
    param_layer=param_layer,
    param_batch_key=param_batch_key,
    param_cell_type_key=param_cell_type_key,
    param_unlabeled_category=param_unlabeled_category,
    param_covariate_keys=param_covariate_keys,
    param_register_kwargs=param_register_kwargs,
    notes_bookkeeping=notes_bookkeeping,
)

param_accelerator_devices = """\
accelerator, devices
    Lightning's device selection, e.g. ``accelerator="gpu", devices=2, strategy="ddp"``."""

param_checkpoints = """\
checkpoint_dir, checkpoint_every
    Save a checkpoint every ``checkpoint_every`` epochs into the folder ``checkpoint_dir`` (replaced atomically at
    each save; safetensors + JSON, never a pickle). Pass both or neither.
resume_from
    A ``checkpoint_dir`` of an interrupted run: build the model as for that run (same data, settings and
    ``scvi.settings.seed``) and call ``train`` with the same arguments plus ``resume_from``; the weights, optimizer,
    epoch counter, history and random generators are restored and training goes on to ``max_epochs``."""

#: Fills the fragments above into a ``train`` docstring: decorate with ``@train_dsp.dedent``.
train_dsp = DocstringProcessor(param_accelerator_devices=param_accelerator_devices, param_checkpoints=param_checkpoints)
