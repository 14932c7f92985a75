"""Rotated MNIST digits as an image folder (``python -m data_loader mnist DIR``)."""

import csv
from pathlib import Path

import torch
from torchvision.io import write_png

from data_loader.mnist import load_mnist
from data_loader.rotated import RotatedMnistDataset


def write_split(mnist_dir: Path, folder: Path, train: bool) -> int:
    """``folder/images/NNNNN.png`` and ``folder/labels.csv`` with their angles in degrees."""
    dataset = RotatedMnistDataset(*load_mnist(mnist_dir, train))
    images, angles = dataset.__getitems__(torch.arange(len(dataset)))
    (folder / "images").mkdir(parents=True)
    with (folder / "labels.csv").open("w", newline="") as file:
        table = csv.writer(file)
        table.writerow(["file", "angle"])
        for i, (image, angle) in enumerate(
            zip(images.mul(255).round().byte(), angles, strict=True)
        ):
            write_png(image, str(folder / "images" / f"{i:05d}.png"))
            table.writerow([f"images/{i:05d}.png", f"{angle:.4f}"])
    return len(dataset)
