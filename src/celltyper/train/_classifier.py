"""Training pieces of a cell-type classifier: a class-stratified, class-balanced DataSplitter and its TrainingPlan."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from typing import cast

import lightning.pytorch as pl
import numpy as np
import torch
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.dataloaders import DataSplitter
from scvi.train import TrainingPlan as ScviTrainingPlan
from torch.utils.data import BatchSampler, DataLoader, WeightedRandomSampler

from ._backed import BackedDataset, anndata_loader, is_backed
from ._trainingplans import TrainModeMixin


def stratified_split(
    labels: np.ndarray, n_classes: int, validation_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split labelled cells (code < ``n_classes``) per class into train / validation; unlabeled cells go to test.

    Every class with at least 2 cells keeps at least one cell in each of train and validation, so the validation
    macro-F1 sees every class. Returns ``[train, validation, unlabeled]`` index arrays.
    """
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for code in range(n_classes):
        cells = rng.permutation(np.flatnonzero(labels == code))
        n_val = 0 if len(cells) < 2 else min(len(cells) - 1, max(1, round(validation_size * len(cells))))
        validation.append(cells[:n_val])
        train.append(cells[n_val:])
    return np.concatenate(train), np.concatenate(validation), np.flatnonzero(labels >= n_classes)


def balanced_weights(labels: np.ndarray, batches: np.ndarray, class_balance: float) -> np.ndarray:
    """Sampling weight per cell: each class gets mass ∝ ``n_class ** (1 - class_balance)``, split evenly over batches.

    ``class_balance=1`` samples every class equally often (rare classes are repeated), ``0`` samples cells uniformly.
    """
    weights = np.zeros(len(labels))
    for code in np.unique(labels):
        in_class = labels == code
        class_mass = in_class.sum() ** (1.0 - class_balance)
        class_batches = np.unique(batches[in_class])
        for batch in class_batches:
            cells = in_class & (batches == batch)
            weights[cells] = class_mass / len(class_batches) / cells.sum()
    return weights / weights.sum()


class BalancedDataSplitter(DataSplitter):
    """scvi-tools :class:`~scvi.dataloaders.DataSplitter` that splits per class and samples classes evenly.

    The validation set keeps every class (see :func:`stratified_split`); unlabeled cells are not used. Each training
    epoch draws as many cells as the training set has, with replacement, by :func:`balanced_weights`, so a minority
    class is seen about as often as the majority class.

    Parameters
    ----------
    adata_manager
        Manager of an AnnData set up with a ``LabelsWithUnlabeledObsField``.
    validation_size
        Fraction of each class held out for validation (default 0.1).
    class_balance
        0 = uniform over cells … 1 = uniform over classes.
    seed
        Seed of the split and of the sampler.
    **kwargs
        ``batch_size`` and what scvi-tools' training mixin passes (``train_size``, ``shuffle_set_split``,
        ``distributed_sampler``, ``load_sparse_tensor``, …); ``batch_size``, ``load_sparse_tensor`` and (for the
        validation loader, under DDP) ``distributed_sampler`` are used.
    """

    data_loader_cls = staticmethod(anndata_loader)  # validation cells of a backed AnnData are read in blocks

    def __init__(
        self,
        adata_manager: AnnDataManager,
        validation_size: float | None = None,
        class_balance: float = 1.0,
        seed: int = 0,
        **kwargs,
    ):
        for unused in ("train_size", "shuffle_set_split"):  # distributed_sampler reaches the validation loader
            kwargs.pop(unused, None)
        labels = adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY).ravel()
        n_classes = adata_manager.get_state_registry(REGISTRY_KEYS.LABELS_KEY).categorical_mapping.shape[0] - 1
        indexing = list(stratified_split(labels, n_classes, 0.1 if validation_size is None else validation_size, seed))
        with warnings.catch_warnings():  # scvi warns about a small last batch; the balanced sampler has none
            warnings.filterwarnings("ignore", message="Last batch will have a small size")
            super().__init__(adata_manager, external_indexing=indexing, **kwargs)
        batches = adata_manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY).ravel()
        self.weights = balanced_weights(labels[indexing[0]], batches[indexing[0]], class_balance)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def train_dataloader(self) -> DataLoader:
        """Minibatches of ``batch_size`` cells drawn with :func:`balanced_weights`, one dataset call per batch."""
        if is_backed(self.adata_manager.adata):  # read the cells straight from the file (see _backed.py)
            dataset = BackedDataset(self.adata_manager, self.train_idx)
        else:
            dataset = self.adata_manager.create_torch_dataset(
                indices=self.train_idx, load_sparse_tensor=self.load_sparse_tensor
            )
        weights = cast(Sequence[float], self.weights)  # an array: torch reads it with torch.as_tensor
        cells = WeightedRandomSampler(weights, num_samples=len(self.train_idx), generator=self.generator)
        batch_size = self.data_loader_kwargs.get("batch_size", 128)
        # batch_size=None: the sampler already yields index lists, as in scvi's AnnDataLoader
        return DataLoader(dataset, sampler=BatchSampler(cells, batch_size, drop_last=False), batch_size=None)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The sampler's generator state, saved in training checkpoints so that a resumed run draws on from it."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Set the sampler's generator to the state of a training checkpoint."""
        self.generator.set_state(state_dict["generator"])


class ClassifierTrainingPlan(TrainModeMixin, ScviTrainingPlan):
    """Training plan of a classifier module: AdamW, linear warmup then cosine decay, validation macro-F1.

    Logs ``train_loss``, ``validation_loss``, ``validation_accuracy`` and ``validation_macro_f1`` (macro-F1 over
    the classes present in the validation set) to ``model.history``.

    Parameters
    ----------
    module
        A module whose ``loss`` returns ``logits`` and ``true_labels``.
    n_classes
        Number of classes.
    lr
        Peak learning rate.
    weight_decay
        AdamW weight decay.
    warmup_fraction
        Fraction of all optimizer steps spent warming the learning rate up from 0.
    **kwargs
        Passed to :class:`scvi.train.TrainingPlan`.
    """

    def __init__(
        self,
        module,
        n_classes: int,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.1,
        **kwargs,
    ):
        super().__init__(module, lr=lr, weight_decay=weight_decay, optimizer="AdamW", eps=1e-8, **kwargs)
        self.n_classes = n_classes
        self.warmup_fraction = warmup_fraction
        self._validation_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        """Cross entropy of one minibatch."""
        _, _, output = self.forward(batch)
        self.log("train_loss", output.loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(output.logits))
        return output.loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """Log the validation loss; keep predictions for the epoch's macro-F1."""
        _, _, output = self.forward(batch)
        self.log("validation_loss", output.loss, on_step=False, on_epoch=True, batch_size=len(output.logits))
        self._validation_outputs.append((output.logits.argmax(1).cpu(), output.true_labels.cpu()))

    def on_validation_epoch_end(self) -> None:
        """Log accuracy and macro-F1 over the whole validation set."""
        if not self._validation_outputs:
            return
        predicted, true = (torch.cat(t) for t in zip(*self._validation_outputs, strict=True))
        self._validation_outputs.clear()
        if self.trainer.world_size > 1:  # DDP: every process validated its share; score them all together
            predicted, true = (self.all_gather(t).reshape(-1) for t in (predicted, true))
        f1 = []
        for code in true.unique():
            tp = ((predicted == code) & (true == code)).sum().item()
            n_pred, n_true = (predicted == code).sum().item(), (true == code).sum().item()
            f1.append(2 * tp / (n_pred + n_true))
        self.log("validation_accuracy", (predicted == true).float().mean())
        self.log("validation_macro_f1", torch.tensor(float(np.mean(f1))), prog_bar=True)

    def configure_optimizers(self) -> dict:
        """AdamW with a per-step schedule: linear warmup over ``warmup_fraction`` of the steps, then cosine to 0."""
        optimizer = torch.optim.AdamW(self.module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = max(1, int(self.warmup_fraction * total))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class RestoreBestWeights(pl.Callback):
    """Keep the module's weights from the epoch with the best ``monitor`` value and put them back when training ends.

    Parameters
    ----------
    monitor
        A metric logged at validation time, e.g. ``"validation_macro_f1"``.
    mode
        ``"max"`` or ``"min"``.
    """

    def __init__(self, monitor: str = "validation_macro_f1", mode: str = "max"):
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.best = -math.inf
        self.state: dict | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Store a copy of the weights when the metric improves (ties go to the later, longer-trained epoch)."""
        value = trainer.callback_metrics.get(self.monitor)
        if value is None or trainer.sanity_checking:
            return
        if self.sign * float(value) >= self.best:
            self.best = self.sign * float(value)
            self.state = copy.deepcopy(cast(torch.nn.Module, pl_module.module).state_dict())

    def state_dict(self) -> dict:
        """The best value so far and its weights, saved in training checkpoints."""
        return {"best": self.best, "state": self.state}

    def load_state_dict(self, state_dict: dict) -> None:
        """The best value and weights of a training checkpoint."""
        self.best, self.state = state_dict["best"], state_dict["state"]

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Load the best weights back into the module."""
        if self.state is not None:
            cast(torch.nn.Module, pl_module.module).load_state_dict(self.state)
