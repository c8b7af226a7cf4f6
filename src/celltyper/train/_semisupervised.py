"""scvi-tools' semi-supervised training plan, put back into train mode when training starts."""

from __future__ import annotations

from scvi.train import SemiSupervisedTrainingPlan as ScviSemiSupervisedTrainingPlan

from ._trainingplans import TrainModeMixin


class SemiSupervisedTrainingPlan(TrainModeMixin, ScviSemiSupervisedTrainingPlan):
    """:class:`scvi.train.SemiSupervisedTrainingPlan` (ELBO + α · cross-entropy), in train mode."""
