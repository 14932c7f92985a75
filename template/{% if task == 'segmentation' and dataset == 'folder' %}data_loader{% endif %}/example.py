"""MNIST canvases as image folders (``python -m data_loader mnist DIR``): a working layout."""

from pathlib import Path

import torch
from torchvision.io import write_png

from data_loader.canvas import DigitCanvasDataset
from data_loader.mnist import load_mnist


def write_split(mnist_dir: Path, folder: Path, train: bool) -> int:
    """``folder/images/NNNNN.png``, ``folder/masks/NNNNN.png`` (0: background, d + 1: digit d)."""
    dataset = DigitCanvasDataset(*load_mnist(mnist_dir, train))
    canvases, masks = dataset.__getitems__(torch.arange(len(dataset)))
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i, (canvas, mask) in enumerate(zip(canvases, masks.to(torch.uint8), strict=True)):
        write_png(canvas, str(folder / "images" / f"{i:05d}.png"))
        write_png(mask.unsqueeze(0), str(folder / "masks" / f"{i:05d}.png"))
    return len(dataset)
