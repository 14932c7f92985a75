"""Figures of a segmentation model's results: input, true mask and predicted mask of a few canvases.

test.py saves them as PNG files beside test_metrics.json; the trainer sends them to the experiment
logger during validation every ``trainer.figure_period`` epochs.
"""

import matplotlib
import torch
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

NUM_CLASSES = 11
SHOWN = 6  # canvases shown: the first ones evaluated
# background black, digit d (class d + 1) in the d-th colour of matplotlib's tab10
COLORS = ListedColormap(["black", *matplotlib.colormaps["tab10"].colors])
NORM = BoundaryNorm([c - 0.5 for c in range(NUM_CLASSES + 1)], NUM_CLASSES)


class Figures:
    """Keeps the first ``SHOWN`` samples evaluated (copied to the CPU once), then draws them."""

    def __init__(self) -> None:
        self.images = torch.empty(0, 1, 0, 0)
        self.masks = self.predicted = torch.empty(0, 0, 0, dtype=torch.int64)

    def update(self, data: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        if len(self.images) < SHOWN:
            self.images = data[:SHOWN].cpu()
            self.masks = target[:SHOWN].cpu()
            self.predicted = output[:SHOWN].argmax(1).cpu()

    def draw(self) -> dict[str, Figure]:
        return {"segmentation": segmentation_figure(self.images, self.masks, self.predicted)}


def segmentation_figure(
    images: torch.Tensor, masks: torch.Tensor, predicted: torch.Tensor
) -> Figure:
    """One row per sample: the input, the true mask and the predicted mask (colour = class)."""
    rows = max(1, len(images))
    figure = Figure(figsize=(9.0, 1.15 * rows + 0.9), layout="constrained")
    grid = figure.subplots(rows, 3, squeeze=False)
    for column, title in enumerate(("input", "true mask", "predicted mask")):
        grid[0, column].set_title(title)
    shown = None
    for row in range(len(images)):
        grid[row, 0].imshow(images[row, 0].numpy(), cmap="gray")
        grid[row, 1].imshow(masks[row].numpy(), cmap=COLORS, norm=NORM, interpolation="nearest")
        shown = grid[row, 2].imshow(
            predicted[row].numpy(), cmap=COLORS, norm=NORM, interpolation="nearest"
        )
    for axes in grid.flat:
        axes.set_axis_off()
    if shown is not None:
        legend = figure.colorbar(shown, ax=grid, location="bottom", shrink=0.6, aspect=40)
        legend.set_ticks(range(NUM_CLASSES), labels=["bg", *map(str, range(10))])
    return figure
