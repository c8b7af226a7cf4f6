"""Training plans and callbacks shared by celltyper's models, and the evaluation of a trained classifier."""

from ._backed import BackedDataLoader, BackedDataSplitter
from ._classifier import BalancedDataSplitter, ClassifierTrainingPlan, RestoreBestWeights
from ._evaluation import ClassifierEvaluation, evaluate_classifier, evaluate_predictions, last_epoch_values
from ._trainingplans import TrainingPlan, TrainModeMixin

__all__ = [
    "BackedDataLoader",
    "BackedDataSplitter",
    "BalancedDataSplitter",
    "ClassifierEvaluation",
    "ClassifierTrainingPlan",
    "RestoreBestWeights",
    "TrainModeMixin",
    "TrainingPlan",
    "evaluate_classifier",
    "evaluate_predictions",
    "last_epoch_values",
]
