"""What predict.py writes for a segmentation model: a mask of class ids and an overlay per file."""

from pathlib import Path
from typing import Any

import matplotlib
import torch
from torchvision.io import write_png
from torchvision.utils import draw_segmentation_masks

TASK = "segmentation"
# class 0 (background) left uncoloured, class c in the c-th colour of matplotlib's tab10 (cycled)
COLORS = [tuple(round(255 * v) for v in rgb) for rgb in matplotlib.colormaps["tab10"].colors]


class PredictionWriter:
    """``masks/NAME.png`` (uint8 class ids) and ``overlays/NAME.png`` (classes coloured on the
    input), both at the model's input size; no CSV (``header`` None)."""

    header = None

    def __init__(self, folder: Path, class_names: list[str] | None, preprocessing: dict[str, Any]):
        self.folder = folder
        self.mean = torch.tensor(preprocessing["mean"]).view(-1, 1, 1)
        self.std = torch.tensor(preprocessing["std"]).view(-1, 1, 1)

    def rows(self, names: list[str], inputs: torch.Tensor, outputs: torch.Tensor) -> list[list]:
        masks = outputs.argmax(1).to(torch.uint8).cpu()
        pixels = (inputs.cpu() * self.std + self.mean).mul(255).round().clamp(0, 255)
        pixels = pixels.to(torch.uint8).expand(-1, 3, -1, -1)
        classes = torch.arange(1, outputs.shape[1])[:, None, None]
        colors = [COLORS[(c - 1) % len(COLORS)] for c in classes.flatten().tolist()]
        for name, mask, image in zip(names, masks, pixels, strict=True):
            overlay = draw_segmentation_masks(image, mask == classes, 0.6, colors)
            for kind, picture in (("masks", mask[None]), ("overlays", overlay)):
                path = self.folder / kind / Path(name).with_suffix(".png")
                path.parent.mkdir(parents=True, exist_ok=True)
                write_png(picture, str(path))
        return []
