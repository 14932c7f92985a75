"""``metrics``: torchmetrics counts, exact over an epoch; precision, recall, f1 average classes."""

from functools import partial

from torchmetrics import Metric, classification

__all__ = ["accuracy", "top_k_acc", "precision", "recall", "f1"]
NUM_CLASSES = 10


def _counted(metric: type, **options) -> partial:
    """A torchmetrics class for ``num_classes`` classes, unchecked (checks sync with the GPU)."""
    return partial(metric, num_classes=NUM_CLASSES, validate_args=False, **options)


accuracy = _counted(classification.MulticlassAccuracy, average="micro")


def top_k_acc(num_classes: int = NUM_CLASSES) -> Metric:  # among the top 3 (of 2 classes: both)
    return accuracy(num_classes=num_classes, top_k=min(3, num_classes))  # more fails on a batch


precision = _counted(classification.MulticlassPrecision, average="macro")
recall = _counted(classification.MulticlassRecall, average="macro")
f1 = _counted(classification.MulticlassF1Score, average="macro")


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
