"""scvi-tools training plans with the module put back into train mode when training starts."""

from __future__ import annotations

from scvi import REGISTRY_KEYS
from scvi.train import TrainingPlan as ScviTrainingPlan


class TrainModeMixin(ScviTrainingPlan):
    """Put the module into train mode when every fit starts, and skip one-cell minibatches.

    Put it first among the bases of a subclass of scvi-tools' :class:`~scvi.train.TrainingPlan`.

    scvi-tools 1.4.2 ends training, ``load`` and ``load_query_data`` with ``module.eval()``, and Lightning 2.6 no
    longer switches modules back, so a second ``train()``, training after ``load()`` or query training would run
    with dropout off and BatchNorm frozen on its running statistics. It happens in ``on_fit_start``, before
    Lightning looks for modules left in eval mode (its "Found N module(s) in eval mode" warning) and before the
    sanity check, which restores the modes it found.
    """

    def on_fit_start(self) -> None:
        self.module.train()
        super().on_fit_start()

    def training_step(self, batch, batch_idx):
        """Skip a minibatch of one cell, which BatchNorm cannot normalise in train mode; train on the others.

        The last minibatch of an epoch holds one cell whenever the training cells (or, semi-supervised, the labelled
        ones) are one more than a multiple of the batch size: without this, training would stop with a BatchNorm
        error on such a data set.
        """
        parts = batch if isinstance(batch, list | tuple) else [batch]
        if min(part[REGISTRY_KEYS.X_KEY].shape[0] for part in parts) < 2:
            return None
        return super().training_step(batch, batch_idx)


class TrainingPlan(TrainModeMixin, ScviTrainingPlan):
    """:class:`scvi.train.TrainingPlan` (KL warmup, optimizer, LR schedule) that trains in train mode."""
