"""A segmentation model's figures (test.py's PNGs; the logger's every ``trainer.figure_period``
epochs): input, true mask and predicted mask of a few canvases."""

import matplotlib
import torch
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

SHOWN = 6  # canvases shown: the first ones evaluated
# class 0 (background) black, class c in the c-th colour of matplotlib's tab20; ignored pixels white
COLORS = ListedColormap(["black", *matplotlib.colormaps["tab20"].colors]).with_extremes(
    under="white"
)


class Figures:
    """The first ``SHOWN`` samples evaluated (copied to the CPU once), legend by class name."""

    def __init__(self, class_names: list[str] = ["bg", *"0123456789"]) -> None:  # noqa: B006
        self.names = class_names
        self.images = torch.empty(0, 1, 0, 0)
        self.masks = self.predicted = torch.empty(0, 0, 0, dtype=torch.int64)

    def update(self, data: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        if len(self.images) < SHOWN:
            self.images = data[:SHOWN].cpu()
            self.masks = target[:SHOWN].cpu()
            self.predicted = output[:SHOWN].argmax(1).cpu()

    def draw(self) -> dict[str, Figure]:
        masks = self.images, self.masks, self.predicted
        return {"segmentation": segmentation_figure(*masks, self.names)}


def segmentation_figure(
    images: torch.Tensor, masks: torch.Tensor, predicted: torch.Tensor, names: list[str]
) -> Figure:
    """One row per sample: the input, the true mask and the predicted mask (colour = class)."""
    rows, norm = max(1, len(images)), BoundaryNorm([c - 0.5 for c in range(len(names) + 1)], 21)
    figure = Figure(figsize=(9.0, 1.15 * rows + 0.9), layout="constrained")
    grid = figure.subplots(rows, 3, squeeze=False)
    for column, title in enumerate(("input", "true mask", "predicted mask")):
        grid[0, column].set_title(title)
    shown = None
    for row in range(len(images)):
        grid[row, 0].imshow(images[row].mean(0).numpy(), cmap="gray")
        for column, mask in ((1, masks[row]), (2, predicted[row])):
            style = dict(cmap=COLORS, norm=norm, interpolation="nearest")
            shown = grid[row, column].imshow(mask.numpy(), **style)
    for axes in grid.flat:
        axes.set_axis_off()
    if shown is not None:
        legend = figure.colorbar(shown, ax=grid, location="bottom", shrink=0.6, aspect=40)
        legend.set_ticks(range(len(names)), labels=names)
    return figure
