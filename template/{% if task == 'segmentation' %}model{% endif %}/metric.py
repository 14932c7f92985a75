"""Metrics for config.json's ``metrics``: scores of a confusion matrix of pixels summed over the
epoch, so exact over a whole epoch."""

import torch
from torchmetrics import Metric

__all__ = ["pixel_accuracy", "mean_iou", "dice"]
NUM_CLASSES = 11  # background and the 10 digits


class ConfusionMatrixScore(Metric):
    """A score from the confusion matrix of all pixels seen (rows: target, columns: prediction)."""

    full_state_update = False

    def __init__(self, num_classes: int, score: str):
        super().__init__()
        self.num_classes, self.score = num_classes, score
        counts = torch.zeros(num_classes, num_classes, dtype=torch.int64)
        self.add_state("confusion", counts, dist_reduce_fx="sum")

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        """``output``: logits (B, C, H, W); ``target``: class indices (B, H, W), -100: ignored."""
        counted = target.flatten() >= 0
        pairs = target.flatten()[counted] * self.num_classes + output.argmax(1).flatten()[counted]
        counts = torch.bincount(pairs, minlength=self.num_classes**2)
        self.confusion += counts.view(self.num_classes, self.num_classes)

    def compute(self) -> torch.Tensor:
        confusion = self.confusion.double()
        hits = confusion.diagonal()
        if self.score == "pixel_accuracy":
            return hits.sum() / confusion.sum()
        missed, false_alarms = confusion.sum(1) - hits, confusion.sum(0) - hits
        if self.score == "mean_iou":
            per_class = hits / (hits + missed + false_alarms)
        else:  # dice
            per_class = 2 * hits / (2 * hits + missed + false_alarms)
        return per_class.nanmean()  # a class absent from both target and prediction is skipped


def pixel_accuracy(num_classes: int = NUM_CLASSES) -> Metric:
    """Share of pixels whose predicted class is the target."""
    return ConfusionMatrixScore(num_classes, "pixel_accuracy")


def mean_iou(num_classes: int = NUM_CLASSES) -> Metric:
    """Intersection over union of each class (background included), averaged over classes."""
    return ConfusionMatrixScore(num_classes, "mean_iou")


def dice(num_classes: int = NUM_CLASSES) -> Metric:
    """Dice score (F1 of the pixels) of each class, averaged over classes."""
    return ConfusionMatrixScore(num_classes, "dice")


def per_class(class_names: list[str]) -> dict[str, Metric]:
    """What test.py adds to test_metrics.json: nothing here (a classifier's scores per class)."""
    return {}
