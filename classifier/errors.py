"""The classifier's own errors, with messages a housing officer or operator can act on."""


class ClassifierError(Exception):
    """Base class for every error the classifier raises."""


class ModelNotTrainedError(ClassifierError):
    """There is no model file yet."""

    def __init__(self, path) -> None:
        super().__init__(f"No triage model at {path}. Build it with: triage train")


class TrainingDataError(ClassifierError):
    """The labelled examples cannot be used as they are."""


class HeldOutDataError(TrainingDataError):
    """Someone asked to train on the held-out test split."""
