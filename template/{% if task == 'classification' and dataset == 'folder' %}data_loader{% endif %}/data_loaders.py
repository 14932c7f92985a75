"""The data loaders config.json's ``data_loader.type`` may name."""

from pathlib import Path

import torch

from data_loader.folder import FolderDataLoader, FolderDataset, image_files
from utils.util import InputError

__all__ = ["ImageFolderDataLoader"]


class ImageFolderDataLoader(FolderDataLoader):
    """``DATA_DIR/{train,val,test}/CLASS_NAME/*.png|jpg``: the classes are the sorted folder
    names of train/ (class i: the i-th name); the arguments are config.json's."""

    def __init__(
        self,
        data_dir: str,
        batch_size: int,
        shuffle: bool = True,
        validation_split: float | int = 0.0,
        num_workers: int = 2,
        training: bool = True,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        prefetch_factor: int = 2,
        image_size: list[int] = [28, 28],  # noqa: B006 (never changed)
        channels: int = 1,
        mean: list[float] = [0.1307],  # noqa: B006
        std: list[float] = [0.3081],  # noqa: B006
        augment: list[dict] = [],  # noqa: B006
        cache: bool = False,
        skip_bad_files: bool = False,
        sampler: str | None = None,
    ):
        args = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(args, training)

    def samples(self, folder: Path) -> tuple[list[Path], list[int]]:
        train = folder.with_name("train")
        self.class_names = sorted(p.name for p in train.iterdir() if p.is_dir())
        if not self.class_names:
            raise InputError(f"{train}: no class folders; put each class's images in train/NAME/")
        unknown = sorted({p.name for p in folder.iterdir() if p.is_dir()} - set(self.class_names))
        if unknown:
            fix = "add its training images there or remove the folder"
            raise InputError(
                f"{folder / unknown[0]}: class {unknown[0]!r} is not in {train}; {fix}"
            )
        files, targets = [], []
        for label, name in enumerate(self.class_names):
            if (folder / name).is_dir():
                found = image_files(folder / name, f"the images of class {name!r}")
                files += found
                targets += [label] * len(found)
        return files, targets

    def labels(self, dataset: FolderDataset) -> torch.Tensor:
        return torch.tensor(dataset.targets)  # those of the files kept (skip_bad_files)
