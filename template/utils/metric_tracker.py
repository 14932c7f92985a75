"""Loss and metrics of one epoch, exact over all of its batches."""

import torch
from torchmetrics import Metric, MetricCollection


class WeightedMean(Metric):
    """Mean of per-batch values weighted by batch size, with no host sync per batch
    (torchmetrics' MeanMetric either checks every value for NaN, which syncs, or drops weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: int) -> None:
        self.total += value.detach().double() * weight
        self.count += weight

    def compute(self) -> torch.Tensor:
        return self.total / self.count


class MetricTracker:
    """Sums what each batch contributes and turns it into epoch values once, at the end.

    The loss is weighted by batch size and every metric keeps counts (torchmetrics states), so a
    short last batch counts exactly as much as its samples; nothing is read back per batch.
    """

    def __init__(self, metrics: dict[str, Metric], prefix: str = ""):
        self.prefix = prefix
        self.names = ["loss", *metrics]  # MetricCollection sorts its keys; results keep this order
        self.loss = WeightedMean()
        # no compute groups: torchmetrics merges metrics whose states agree after the first batch,
        # and accuracy and top-3 accuracy agree there when a batch holds one class (class-sorted
        # image folders): the merged top_k_acc then reported accuracy
        clones = {name: metric.clone() for name, metric in metrics.items()}
        self.metrics = MetricCollection(clones, compute_groups=False)

    def to(self, device: torch.device) -> "MetricTracker":
        self.loss.to(device)
        self.metrics.to(device)
        return self

    def reset(self) -> None:
        self.loss.reset()
        self.metrics.reset()

    def update(self, loss: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        self.loss.update(loss, len(target))
        self.metrics.update(output.detach(), target)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """The sums so far, to finish an interrupted epoch after a resume."""
        return {name: dict(metric.metric_state) for name, metric in self._all().items()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        metrics = self._all()
        for name, values in state.items():
            for key, value in values.items():
                # a copy each: metrics that shared a state (a torchmetrics compute group) were saved
                # as one tensor, and updating it once per metric would count every batch twice
                setattr(metrics[name], key, value.to(metrics[name].device, copy=True))

    def _all(self) -> dict[str, Metric]:
        return {"loss": self.loss, **dict(self.metrics.items(keep_base=True, copy_state=False))}

    def result(self) -> dict[str, float]:
        values = {"loss": self.loss.compute(), **self.metrics.compute()}
        return {self.prefix + name: values[name].item() for name in self.names}
