"""MNIST as image folders (``python -m data_loader mnist DIR``): a working layout to look at."""

from pathlib import Path

from torchvision.io import write_png

from data_loader.mnist import load_mnist


def write_split(mnist_dir: Path, folder: Path, train: bool) -> int:
    """``folder/DIGIT/NNNNN.png`` for each digit of the train or test split."""
    images, labels = load_mnist(mnist_dir, train)
    for digit in range(10):
        (folder / str(digit)).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images, labels.tolist(), strict=True)):
        write_png(image.unsqueeze(0), str(folder / str(label) / f"{i:05d}.png"))
    return len(labels)
