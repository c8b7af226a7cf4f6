"""scvi-tools training plans with the module put back into train mode when training starts."""

from __future__ import annotations

from scvi.train import TrainingPlan as ScviTrainingPlan


class TrainModeMixin:
    """Put the module into train mode at the start of every fit.

    scvi-tools 1.4.2 ends training, ``load`` and ``load_query_data`` with ``module.eval()``, and Lightning 2.6 no
    longer switches modules back, so a second ``train()``, training after ``load()`` or query training would run
    with dropout off and BatchNorm frozen on its running statistics.
    """

    def on_train_start(self) -> None:
        self.module.train()
        super().on_train_start()


class TrainingPlan(TrainModeMixin, ScviTrainingPlan):
    """:class:`scvi.train.TrainingPlan` (KL warmup, optimizer, LR schedule) that trains in train mode."""
