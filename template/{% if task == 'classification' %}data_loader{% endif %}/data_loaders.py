"""The data loaders config.json's ``data_loader.type`` may name."""

from data_loader.mnist import MnistDataset, MnistSplitLoader

__all__ = ["MnistDataLoader"]


class MnistDataLoader(MnistSplitLoader):
    """MNIST digits and their classes."""

    def __init__(
        self,
        data_dir: str,
        batch_size: int,
        shuffle: bool = True,
        validation_split: float | int = 0.0,
        num_workers: int = 0,
        training: bool = True,
        download: bool = True,
    ):
        loader_args = batch_size, shuffle, validation_split, num_workers
        super().__init__(MnistDataset, data_dir, training, download, *loader_args)
