"""Loss and metrics of one epoch, exact over all of its batches."""

import torch
from torchmetrics import MeanMetric, Metric


class MetricTracker:
    """Sums each batch's part (the loss once per sample) and computes epoch values at the end."""

    def __init__(self, metrics: dict[str, Metric], device: torch.device | str = "cpu", prefix=""):
        self.prefix, self.names = prefix, list(metrics)
        # MeanMetric checks every value for NaN (a host sync) unless told not to
        metrics = {"loss": MeanMetric(nan_strategy="disable"), **metrics}
        self.metrics = {name: metric.clone().to(device) for name, metric in metrics.items()}

    def reset(self) -> None:
        for metric in self.metrics.values():
            metric.reset()

    def update(self, loss: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        self.metrics["loss"].update(loss.detach().expand(len(target)))
        for name in self.names:
            self.metrics[name].update(output.detach(), target)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """The sums so far, to finish an interrupted epoch after a resume."""
        return {name: dict(metric.metric_state) for name, metric in self.metrics.items()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, values in state.items():
            for key, value in values.items():
                setattr(self.metrics[name], key, value.to(self.metrics[name].device))

    def result(self) -> dict:  # a number per metric; model.metric.per_class: one per class
        values = {self.prefix + name: m.compute() for name, m in self.metrics.items()}
        return {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in values.items()}
