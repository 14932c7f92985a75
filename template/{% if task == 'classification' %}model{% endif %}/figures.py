"""A classifier's figures (test.py's PNGs; the logger's every ``trainer.figure_period`` epochs)."""

import torch
from matplotlib.figure import Figure

NUM_CLASSES = 10
MAX_SHOWN = 32  # misclassified digits shown


class Figures:
    """Confusion counts (kept on the model's device) and the first misclassified digits."""

    def __init__(self) -> None:
        self.confusion = torch.zeros(NUM_CLASSES * NUM_CLASSES, dtype=torch.int64)
        self.wrong: list[tuple[torch.Tensor, ...]] = []
        self.n_wrong = 0

    def update(self, data: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        predicted = output.argmax(1)
        pairs = target * NUM_CLASSES + predicted
        self.confusion = self.confusion.to(pairs.device)
        self.confusion += torch.bincount(pairs, minlength=NUM_CLASSES * NUM_CLASSES)
        if self.n_wrong < MAX_SHOWN:
            wrong = (predicted != target).nonzero().squeeze(1)[: MAX_SHOWN - self.n_wrong]
            self.wrong.append((data[wrong].cpu(), target[wrong].cpu(), predicted[wrong].cpu()))
            self.n_wrong += len(wrong)

    def draw(self) -> dict[str, Figure]:
        confusion = self.confusion.cpu().view(NUM_CLASSES, NUM_CLASSES)
        return {
            "confusion_matrix": confusion_matrix_figure(confusion),
            "misclassified": misclassified_figure(*map(torch.cat, zip(*self.wrong, strict=True))),
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
    axes.set(xticks=range(NUM_CLASSES), yticks=range(NUM_CLASSES), xlabel="predicted class")
    right, total = int(confusion.trace()), int(confusion.sum())
    axes.set(ylabel="true class", title=f"Confusion matrix: {right} of {total} right")
    return figure


def misclassified_figure(
    images: torch.Tensor, targets: torch.Tensor, guesses: torch.Tensor
) -> Figure:
    """The images tiled into one picture with text labels: eight times faster than 32 subplots."""
    columns, gap, label = 8, 4, 8  # digits per row; pixels between digits and above each
    height, width = images.shape[-2:]
    rows, cell_height, cell_width = max(1, -(-len(images) // columns)), height + label, width + gap
    tiles = torch.full((rows * cell_height, columns * cell_width), float("nan"))  # NaN: blank
    figure = Figure(figsize=(1.2 * columns, 1.35 * rows + 0.4), layout="constrained")
    axes = figure.subplots()
    axes.set_axis_off()
    for i, (image, true, guess) in enumerate(
        zip(images, targets.tolist(), guesses.tolist(), strict=True)
    ):
        top, left = (i // columns) * cell_height + label, (i % columns) * cell_width
        tiles[top : top + height, left : left + width] = image[0]
        axes.text(left + width / 2, top - 1, f"{true} -> {guess}", ha="center", va="bottom")
    axes.imshow(tiles.numpy(), cmap="gray")
    shown = f"First {len(images)} misclassified digits (true -> predicted)"
    axes.set_title(shown if len(images) else "No digit misclassified")
    return figure
