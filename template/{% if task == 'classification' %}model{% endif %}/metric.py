"""Metrics for config.json's ``metrics``: torchmetrics counts, so exact over a whole epoch.
accuracy and top_k_acc count every sample alike; precision, recall and f1 average the classes."""

from torchmetrics import Metric, classification

__all__ = ["accuracy", "top_k_acc", "precision", "recall", "f1"]
NUM_CLASSES = 10


def accuracy(num_classes: int = NUM_CLASSES) -> Metric:
    return classification.MulticlassAccuracy(num_classes, average="micro", validate_args=False)


def top_k_acc(num_classes: int = NUM_CLASSES, k: int = 3) -> Metric:
    """Share of samples whose target is among the ``k`` highest-scoring classes."""
    return classification.MulticlassAccuracy(
        num_classes, top_k=k, average="micro", validate_args=False
    )


def precision(num_classes: int = NUM_CLASSES) -> Metric:
    return classification.MulticlassPrecision(num_classes, average="macro", validate_args=False)


def recall(num_classes: int = NUM_CLASSES) -> Metric:
    return classification.MulticlassRecall(num_classes, average="macro", validate_args=False)


def f1(num_classes: int = NUM_CLASSES) -> Metric:
    return classification.MulticlassF1Score(num_classes, average="macro", validate_args=False)


def per_class(class_names: list[str]) -> dict[str, Metric]:
    """test.py's precision, recall and support of each class, summed like every metric."""
    return {"per_class": PerClass(class_names)}


class PerClass(classification.MulticlassStatScores):
    def __init__(self, class_names: list[str]):
        super().__init__(len(class_names), average=None, validate_args=False)
        self.names = class_names

    def compute(self) -> dict[str, dict[str, float]]:  # a class never predicted: precision 0
        tp, fp, _, fn, support = super().compute().T  # torchmetrics' order
        precision, recall = tp / (tp + fp).clamp(min=1), tp / (tp + fn).clamp(min=1)
        rows = zip(self.names, precision.tolist(), recall.tolist(), support.tolist(), strict=True)
        return {name: {"precision": p, "recall": r, "support": s} for name, p, r, s in rows}
