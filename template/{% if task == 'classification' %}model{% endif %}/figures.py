"""A classifier's figures (test.py's PNGs; the logger's every ``trainer.figure_period`` epochs)."""

import torch
from matplotlib.figure import Figure

MAX_SHOWN = 32  # misclassified digits shown


class Figures:
    """Confusion counts (on the model's device) and the first misclassified images, named."""

    def __init__(self, class_names: list[str] = list("0123456789")) -> None:  # noqa: B006
        self.names = class_names
        self.confusion = torch.zeros(len(class_names) ** 2, dtype=torch.int64)
        self.wrong: list[tuple[torch.Tensor, ...]] = []  # images, targets, predictions

    def update(self, data: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        predicted = output.argmax(1)
        pairs = target * len(self.names) + predicted
        self.confusion = self.confusion.to(pairs.device)
        self.confusion += torch.bincount(pairs, minlength=len(self.names) ** 2)
        if (shown := sum(len(images) for images, *_ in self.wrong)) < MAX_SHOWN:
            wrong = (predicted != target).nonzero().squeeze(1)[: MAX_SHOWN - shown]
            self.wrong.append((data[wrong].cpu(), target[wrong].cpu(), predicted[wrong].cpu()))

    def draw(self) -> dict[str, Figure]:
        return {"confusion_matrix": self.confusion_matrix(), "misclassified": self.misclassified()}

    def confusion_matrix(self) -> Figure:
        """(true, predicted) counts, log scale; rows labelled with recall R, columns precision P."""
        names, confusion = self.names, self.confusion.cpu().view(len(self.names), -1)
        recall, precision = (confusion.diagonal() / confusion.sum(d).clamp(min=1) for d in (1, 0))
        axes = Figure(figsize=(6.4, 5.6), layout="constrained").subplots()
        shade = confusion.double().log1p()
        axes.imshow(shade.numpy(), cmap="Blues")
        for true, predicted in confusion.nonzero().tolist():
            color = "white" if shade[true, predicted] > shade.max() / 2 else "black"
            count = int(confusion[true, predicted])
            axes.text(predicted, true, count, ha="center", va="center", fontsize=7, color=color)
        axes.set_xticks(range(len(names)), scored(names, "P", precision), rotation=90)
        axes.set_yticks(range(len(names)), scored(names, "R", recall))
        title = f"Confusion matrix: {confusion.trace()} of {confusion.sum()} right"
        axes.set(xlabel="predicted (P: precision)", ylabel="true class (R: recall)", title=title)
        return axes.figure

    def misclassified(self) -> Figure:
        """The images tiled into one picture with text labels: eight times faster than subplots."""
        images, targets, guesses = map(torch.cat, zip(*self.wrong, strict=True))
        columns, gap, label = 8, 4, 8  # digits per row; pixels between digits and above each
        height, width = images.shape[-2:]
        rows, cell_height, cell_width = -(-len(images) // columns) or 1, height + label, width + gap
        tiles = torch.full((rows * cell_height, columns * cell_width), float("nan"))  # NaN: blank
        axes = Figure(figsize=(1.2 * columns, 1.35 * rows + 0.4), layout="constrained").subplots()
        axes.set_axis_off()
        for i, image in enumerate(images):
            top, left = (i // columns) * cell_height + label, (i % columns) * cell_width
            tiles[top : top + height, left : left + width] = image.mean(0)  # RGB: grey
            text = f"{self.names[targets[i]]} -> {self.names[guesses[i]]}"
            axes.text(left + width / 2, top - 1, text, ha="center", va="bottom")
        axes.imshow(tiles.numpy(), cmap="gray")
        shown = f"First {len(images)} misclassified digits (true -> predicted)"
        axes.set_title(shown if len(images) else "No digit misclassified")
        return axes.figure


def scored(names: list[str], score: str, values: torch.Tensor) -> list[str]:
    return [f"{n}  {score}={v:.2f}" for n, v in zip(names, values.tolist(), strict=True)]
