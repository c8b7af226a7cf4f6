"""Training plans and callbacks shared by celltyper's models."""

from ._backed import BackedDataLoader, BackedDataSplitter
from ._classifier import BalancedDataSplitter, ClassifierTrainingPlan, RestoreBestWeights
from ._trainingplans import TrainingPlan, TrainModeMixin

__all__ = [
    "BackedDataLoader",
    "BackedDataSplitter",
    "BalancedDataSplitter",
    "ClassifierTrainingPlan",
    "RestoreBestWeights",
    "TrainModeMixin",
    "TrainingPlan",
]
