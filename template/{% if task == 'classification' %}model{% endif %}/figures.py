"""Figures of a classifier's results: a confusion matrix and the digits it got wrong.

test.py saves them as PNG files beside test_metrics.json; the trainer sends them to the experiment
logger during validation every ``trainer.figure_period`` epochs.
"""

import torch
from matplotlib.figure import Figure

NUM_CLASSES = 10
MAX_SHOWN = 32  # misclassified digits shown


class Figures:
    """Collects what the figures need, batch by batch, while a model is evaluated.

    The confusion counts stay on the model's device; only the first ``MAX_SHOWN`` misclassified
    digits are copied to the CPU.
    """

    def __init__(self) -> None:
        self.confusion = torch.zeros(NUM_CLASSES * NUM_CLASSES, dtype=torch.int64)
        self.images, self.targets, self.predicted = [], [], []
        self.n_wrong = 0

    def update(self, data: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        predicted = output.argmax(1)
        pairs = target * NUM_CLASSES + predicted
        self.confusion = self.confusion.to(pairs.device)
        self.confusion += torch.bincount(pairs, minlength=NUM_CLASSES * NUM_CLASSES)
        if self.n_wrong < MAX_SHOWN:
            wrong = (predicted != target).nonzero().squeeze(1)[: MAX_SHOWN - self.n_wrong]
            self.images.append(data[wrong].cpu())
            self.targets.append(target[wrong].cpu())
            self.predicted.append(predicted[wrong].cpu())
            self.n_wrong += len(wrong)

    def draw(self) -> dict[str, Figure]:
        confusion = self.confusion.cpu().view(NUM_CLASSES, NUM_CLASSES)
        wrong = [torch.cat(parts) for parts in (self.images, self.targets, self.predicted)]
        return {
            "confusion_matrix": confusion_matrix_figure(confusion),
            "misclassified": misclassified_figure(*wrong),
        }


def confusion_matrix_figure(confusion: torch.Tensor) -> Figure:
    """Counts of (true, predicted) classes, shaded on a log scale; right answers on the diagonal."""
    figure = Figure(figsize=(6.4, 5.6), layout="constrained")
    axes = figure.subplots()
    shade = confusion.double().log1p()
    axes.imshow(shade.numpy(), cmap="Blues")
    for true, predicted in confusion.nonzero().tolist():
        color = "white" if shade[true, predicted] > shade.max() / 2 else "black"
        count = str(int(confusion[true, predicted]))
        axes.text(predicted, true, count, ha="center", va="center", fontsize=7, color=color)
    axes.set(
        xticks=range(NUM_CLASSES),
        yticks=range(NUM_CLASSES),
        xlabel="predicted class",
        ylabel="true class",
        title=f"Confusion matrix: {int(confusion.trace())} of {int(confusion.sum())} right",
    )
    return figure


def misclassified_figure(
    images: torch.Tensor, targets: torch.Tensor, predicted: torch.Tensor
) -> Figure:
    """Misclassified images tiled into one picture, each labelled with its true and predicted class.

    One image with text labels draws about eight times faster than a grid of 32 subplots.
    """
    columns, gap, label = 8, 4, 8  # digits per row; pixels between digits and above each
    rows = max(1, -(-len(images) // columns))
    height, width = images.shape[-2:]
    cell_height, cell_width = height + label, width + gap
    tiles = torch.full((rows * cell_height, columns * cell_width), float("nan"))  # NaN: blank
    figure = Figure(figsize=(1.2 * columns, 1.35 * rows + 0.4), layout="constrained")
    axes = figure.subplots()
    axes.set_axis_off()
    pairs = zip(targets.tolist(), predicted.tolist(), strict=True)
    for i, (image, (true, guess)) in enumerate(zip(images, pairs, strict=True)):
        top, left = (i // columns) * cell_height + label, (i % columns) * cell_width
        tiles[top : top + height, left : left + width] = image[0]
        axes.text(left + width / 2, top - 1, f"{true} -> {guess}", ha="center", va="bottom")
    axes.imshow(tiles.numpy(), cmap="gray")
    if len(images):
        axes.set_title(f"First {len(images)} misclassified digits (true -> predicted)")
    else:
        axes.set_title("No digit misclassified")
    return figure
