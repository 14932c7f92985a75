"""Metrics for config.json's ``metrics``: torchmetrics sums, so exact over a whole epoch."""

from torchmetrics import Metric, regression

__all__ = ["mae", "rmse", "r2"]


def mae() -> Metric:
    """Mean absolute error, in degrees."""
    return regression.MeanAbsoluteError()


def rmse() -> Metric:
    """Root of the mean squared error, in degrees."""
    return regression.MeanSquaredError(squared=False)


def r2() -> Metric:
    """Coefficient of determination: 1 - squared error / variance of the targets."""
    return regression.R2Score()


def per_class(class_names: list[str]) -> dict[str, Metric]:
    """What test.py adds to test_metrics.json: nothing here (a classifier's scores per class)."""
    return {}
