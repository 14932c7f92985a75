"""A regressor's figures (test.py's PNGs; the logger's every ``trainer.figure_period`` epochs):
predicted against true angle for every sample."""

import torch
from matplotlib.figure import Figure


class Figures:
    """Every prediction and target (on the model's device until drawn), axes by target name."""

    def __init__(self, class_names: list[str] = ["angle"]) -> None:  # noqa: B006
        self.names = class_names
        self.outputs: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []

    def update(self, data: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        self.outputs.append(output.detach())
        self.targets.append(target)

    def draw(self) -> dict[str, Figure]:
        outputs = torch.cat(self.outputs).float().cpu()
        targets = torch.cat(self.targets).float().cpu()
        scatter = scatter_figure(outputs.flatten(), targets.flatten(), ", ".join(self.names))
        return {"predicted_vs_true": scatter}


def scatter_figure(predicted: torch.Tensor, targets: torch.Tensor, name: str = "angle") -> Figure:
    """Each sample as a dot; a perfect model puts them all on the diagonal."""
    figure = Figure(figsize=(5.6, 5.6), layout="constrained")
    axes = figure.subplots()
    axes.scatter(targets.numpy(), predicted.numpy(), s=3, alpha=0.3, linewidths=0)
    low = float(min(targets.min(), predicted.min()))
    high = float(max(targets.max(), predicted.max()))
    axes.plot([low, high], [low, high], color="black", linewidth=1, label="predicted = true")
    mae = (predicted - targets).abs().mean()
    axes.set(
        xlabel=f"true {name}" + (" (degrees)" if name == "angle" else ""),
        ylabel=f"predicted {name}",
        title=f"{len(targets)} samples, mean absolute error {mae:.2f}"
        + (" degrees" if name == "angle" else ""),
        aspect="equal",
    )
    axes.legend(loc="upper left")
    return figure
