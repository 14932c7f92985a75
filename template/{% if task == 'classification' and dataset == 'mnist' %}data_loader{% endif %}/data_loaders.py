"""The data loaders config.json's ``data_loader.type`` may name."""

from base import BaseDataLoader
from data_loader.images import eval_transform
from data_loader.mnist import IMAGE_ARGS, MnistDataset, load_mnist

__all__ = ["MnistDataLoader"]


class MnistDataLoader(BaseDataLoader):
    """MNIST digits and their classes; the image arguments describe MNIST (for predict.py)."""

    class_names = [str(digit) for digit in range(10)]

    def __init__(
        self,
        data_dir: str,
        batch_size: int,
        shuffle: bool = True,
        validation_split: float | int = 0.0,
        num_workers: int = 0,
        training: bool = True,
        download: bool = True,
        image_size: list[int] = IMAGE_ARGS["image_size"],
        channels: int = 1,
        mean: list[float] = IMAGE_ARGS["mean"],
        std: list[float] = IMAGE_ARGS["std"],
        sampler: str | None = None,
    ):
        image_args = dict(image_size=image_size, channels=channels, mean=mean, std=std)
        options = dict(num_workers=num_workers, collate_fn=eval_transform(image_args))
        dataset = MnistDataset(*load_mnist(data_dir, train=training, download=download))
        loader_args = batch_size, shuffle, validation_split, training, dataset.labels, sampler
        super().__init__(dataset, *loader_args, **options)
