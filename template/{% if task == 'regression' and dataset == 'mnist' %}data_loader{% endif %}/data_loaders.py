"""The data loaders config.json's ``data_loader.type`` may name."""

from base import BaseDataLoader
from data_loader.images import eval_transform
from data_loader.mnist import IMAGE_ARGS, load_mnist
from data_loader.rotated import RotatedMnistDataset

__all__ = ["RotatedMnistDataLoader"]


class RotatedMnistDataLoader(BaseDataLoader):
    """Rotated MNIST digits and their angles."""

    class_names = ["angle"]

    def __init__(
        self,
        data_dir: str,
        batch_size: int,
        shuffle: bool = True,
        validation_split: float | int = 0.0,
        num_workers: int = 0,
        training: bool = True,
        download: bool = True,
        max_angle: float = 45.0,
        angle_seed: int = 0,
        image_size: list[int] = IMAGE_ARGS["image_size"],
        channels: int = 1,
        mean: list[float] = IMAGE_ARGS["mean"],
        std: list[float] = IMAGE_ARGS["std"],
    ):
        image_args = dict(image_size=image_size, channels=channels, mean=mean, std=std)
        options = dict(num_workers=num_workers, collate_fn=eval_transform(image_args))
        digits = load_mnist(data_dir, train=training, download=download)
        dataset = RotatedMnistDataset(*digits, max_angle=max_angle, angle_seed=angle_seed)
        super().__init__(dataset, batch_size, shuffle, validation_split, training, **options)
