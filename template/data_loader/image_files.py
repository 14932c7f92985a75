"""The image files predict.py is given, decoded and preprocessed in DataLoader workers."""

import glob
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from data_loader.images import eval_transform, read_image
from utils.util import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


def find_images(inputs: list[str]) -> list[Path]:
    """Files as given, image files in folders (searched recursively) and glob matches, each once,
    in the order given."""
    found: list[Path] = []
    for item in inputs:
        paths = sorted(glob.glob(item, recursive=True)) if glob.has_magic(item) else [item]
        for path in map(Path, paths):
            if path.is_dir():
                found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            elif path.exists() or glob.has_magic(item):
                found.append(path)
            else:
                raise InputError(f"{item}: no such file or folder")
    if not found:
        raise InputError(
            f"no image matched {' '.join(inputs)}; give image files, folders or glob patterns"
        )
    return list(dict.fromkeys(found))


def output_names(files: list[Path]) -> list[str]:
    """Each file's path below the folder that holds all of them: its name in the outputs."""
    folders = [path.resolve().parent for path in files]
    root = Path(os.path.commonpath(folders))
    return [str(path.resolve().relative_to(root)) for path in files]


class ImageFiles(Dataset):
    """``(index, image, None)`` with the test-time preprocessing, or ``(index, None, error)``."""

    def __init__(self, files: list[Path], loader_args: dict[str, Any]):
        self.files, self.channels = files, loader_args["channels"]
        self.transform = eval_transform(loader_args)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            return index, self.transform(read_image(self.files[index], self.channels)), None
        except InputError as err:  # without its last clause, the fix for training data
            return index, None, str(err).rsplit("; ", 1)[0]


def collate(batch: list[tuple]) -> tuple[list[int], torch.Tensor | None, list[str]]:
    """The indices and stacked images of the readable files, and the errors of the others."""
    good = [(index, image) for index, image, error in batch if error is None]
    images = torch.stack([image for _, image in good]) if good else None
    return [index for index, _ in good], images, [error for *_, error in batch if error]


def image_loader(files: list[Path], loader_args: dict[str, Any], workers: int) -> DataLoader:
    dataset = ImageFiles(files, loader_args)
    batch_size = loader_args["batch_size"]
    return DataLoader(dataset, batch_size, num_workers=workers, collate_fn=collate)
