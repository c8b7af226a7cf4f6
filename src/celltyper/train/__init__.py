"""Training plans and callbacks shared by celltyper's models."""

from ._classifier import BalancedDataSplitter, ClassifierTrainingPlan, RestoreBestWeights
from ._trainingplans import TrainingPlan, TrainModeMixin

__all__ = ["BalancedDataSplitter", "ClassifierTrainingPlan", "RestoreBestWeights", "TrainModeMixin", "TrainingPlan"]
