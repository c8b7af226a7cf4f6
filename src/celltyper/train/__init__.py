"""Training plans and callbacks shared by celltyper's models."""

from ._trainingplans import TrainingPlan, TrainModeMixin

__all__ = ["TrainModeMixin", "TrainingPlan"]
