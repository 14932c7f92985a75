"""A classifier's figures (test.py's PNGs; the logger's every ``trainer.figure_period`` epochs)."""

import torch
from matplotlib.figure import Figure

MAX_SHOWN = 32  # misclassified digits shown


class Figures:
    """Confusion counts (kept on the model's device) and the first misclassified images, labelled
    with the data loader's ``class_names`` (default: 0..9)."""

    def __init__(self, class_names: list[str] = list("0123456789")) -> None:  # noqa: B006
        self.names = class_names
        self.confusion = torch.zeros(len(class_names) ** 2, dtype=torch.int64)
        self.wrong: list[tuple[torch.Tensor, ...]] = []
        self.n_wrong = 0

    def update(self, data: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        predicted = output.argmax(1)
        pairs = target * len(self.names) + predicted
        self.confusion = self.confusion.to(pairs.device)
        self.confusion += torch.bincount(pairs, minlength=len(self.names) ** 2)
        if self.n_wrong < MAX_SHOWN:
            wrong = (predicted != target).nonzero().squeeze(1)[: MAX_SHOWN - self.n_wrong]
            self.wrong.append((data[wrong].cpu(), target[wrong].cpu(), predicted[wrong].cpu()))
            self.n_wrong += len(wrong)

    def draw(self) -> dict[str, Figure]:
        confusion = self.confusion.cpu().view(len(self.names), len(self.names))
        wrong = map(torch.cat, zip(*self.wrong, strict=True))
        return {
            "confusion_matrix": confusion_matrix_figure(confusion, self.names),
            "misclassified": misclassified_figure(*wrong, self.names),
        }


def confusion_matrix_figure(confusion: torch.Tensor, names: list[str]) -> Figure:
    """Counts of (true, predicted) classes, shaded on a log scale; right answers on the diagonal."""
    figure = Figure(figsize=(6.4, 5.6), layout="constrained")
    axes = figure.subplots()
    shade = confusion.double().log1p()
    axes.imshow(shade.numpy(), cmap="Blues")
    for true, predicted in confusion.nonzero().tolist():
        color = "white" if shade[true, predicted] > shade.max() / 2 else "black"
        count = str(int(confusion[true, predicted]))
        axes.text(predicted, true, count, ha="center", va="center", fontsize=7, color=color)
    axes.set_xticks(range(len(names)), names, rotation=90 if max(map(len, names)) > 2 else 0)
    axes.set_yticks(range(len(names)), names)
    axes.set(xlabel="predicted class")
    right, total = int(confusion.trace()), int(confusion.sum())
    axes.set(ylabel="true class", title=f"Confusion matrix: {right} of {total} right")
    return figure


def misclassified_figure(
    images: torch.Tensor, targets: torch.Tensor, guesses: torch.Tensor, names: list[str]
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
        tiles[top : top + height, left : left + width] = image.mean(0)  # RGB: grey
        axes.text(
            left + width / 2, top - 1, f"{names[true]} -> {names[guess]}", ha="center", va="bottom"
        )
    axes.imshow(tiles.numpy(), cmap="gray")
    shown = f"First {len(images)} misclassified digits (true -> predicted)"
    axes.set_title(shown if len(images) else "No digit misclassified")
    return figure
