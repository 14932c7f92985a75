"""The data loaders config.json's ``data_loader.type`` may name."""

from pathlib import Path
from typing import Any

import torch
from torchvision import tv_tensors

from data_loader.folder import Collate, FolderDataLoader, FolderDataset, image_files
from data_loader.images import read_image
from utils.util import InputError

__all__ = ["MaskFolderDataLoader"]


class MaskDataset(FolderDataset):
    """Images and their masks (uint8 class ids), both checked when first read."""

    def target(self, i: int, image: torch.Tensor) -> Any:
        path, ignore = self.targets[i], self.args["ignore_value"]
        classes = len(self.args["class_names"])
        mask = read_image(path, 1)[0]
        if mask.shape != image.shape[-2:]:
            sizes = f"mask of {tuple(mask.shape)} pixels but its image {self.files[i]} has"
            fix = "make the mask the size of its image"
            raise InputError(f"{path}: {sizes} {tuple(image.shape[-2:])}; {fix}")
        wrong = mask[(mask >= classes) & (mask != ignore)].unique()
        if len(wrong):
            known = f"classes (0..{classes - 1}, data_loader.args.class_names) nor ignore_value"
            fix = f"{ignore}; fix the mask, or add class names"
            raise InputError(f"{path}: values {wrong.tolist()[:5]} are neither {known} {fix}")
        return tv_tensors.Mask(mask)

    def as_target(self, target: torch.Tensor) -> Any:
        return tv_tensors.Mask(target)


class MaskCollate(Collate):
    """Masks as int64 class ids; ignore_value becomes -100, which no loss or metric counts."""

    def __init__(self, args: dict[str, Any]):
        super().__init__(args)
        self.ignore_value = args["ignore_value"]

    def target(self, targets: Any) -> torch.Tensor:
        masks = torch.stack(targets).as_subclass(torch.Tensor).long()
        return masks.masked_fill_(masks == self.ignore_value, -100)


class MaskFolderDataLoader(FolderDataLoader):
    """``DATA_DIR/{train,val,test}/images/NAME.png|jpg`` with ``masks/NAME.png``: one channel of
    class ids (i: ``class_names[i]``), ``ignore_value`` where nothing is counted."""

    dataset_class, collate_class = MaskDataset, MaskCollate

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
        class_names: list[str] = ["background", *"0123456789"],  # noqa: B006
        ignore_value: int = 255,
        cache: bool = False,
        skip_bad_files: bool = False,
    ):
        args = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(args, training)
        self.class_names = class_names

    def samples(self, folder: Path) -> tuple[list[Path], list[Path]]:
        images = image_files(folder / "images", "the images (and their masks in masks/)")
        masks = [
            folder / "masks" / p.relative_to(folder / "images").with_suffix(".png") for p in images
        ]
        missing = [m for m in masks if not m.is_file()]
        if missing:
            raise InputError(f"{missing[0]}: mask not found; every image needs masks/NAME.png")
        return images, masks
