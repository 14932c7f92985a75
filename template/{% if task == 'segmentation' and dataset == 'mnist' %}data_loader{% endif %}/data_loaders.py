"""The data loaders config.json's ``data_loader.type`` may name."""

from base import BaseDataLoader
from data_loader.canvas import HEIGHT, WIDTH, DigitCanvasDataset
from data_loader.images import eval_transform
from data_loader.mnist import IMAGE_ARGS, load_mnist

__all__ = ["DigitCanvasDataLoader"]


class DigitCanvasDataLoader(BaseDataLoader):
    """Canvases of two MNIST digits and their per-pixel classes (0: background, d + 1: digit d)."""

    class_names = ["background", *map(str, range(10))]

    def __init__(
        self,
        data_dir: str,
        batch_size: int,
        shuffle: bool = True,
        validation_split: float | int = 0.0,
        num_workers: int = 0,
        training: bool = True,
        download: bool = True,
        layout_seed: int = 0,
        image_size: list[int] = [HEIGHT, WIDTH],  # noqa: B006 (read only)
        channels: int = 1,
        mean: list[float] = IMAGE_ARGS["mean"],
        std: list[float] = IMAGE_ARGS["std"],
    ):
        image_args = dict(image_size=image_size, channels=channels, mean=mean, std=std)
        options = dict(num_workers=num_workers, collate_fn=eval_transform(image_args))
        digits = load_mnist(data_dir, train=training, download=download)
        dataset = DigitCanvasDataset(*digits, layout_seed=layout_seed)
        super().__init__(dataset, batch_size, shuffle, validation_split, training, **options)
