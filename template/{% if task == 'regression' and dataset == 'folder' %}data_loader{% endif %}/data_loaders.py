"""The data loaders config.json's ``data_loader.type`` may name."""

import csv
from pathlib import Path

import torch

from data_loader.folder import FolderDataLoader
from utils.util import InputError

__all__ = ["CsvFolderDataLoader"]


class CsvFolderDataLoader(FolderDataLoader):
    """``DATA_DIR/{train,val,test}/labels.csv``: a ``file`` column (a path relative to the CSV)
    and the numeric ``targets`` columns; one target gives targets of shape (B,), more (B, T)."""

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
        targets: list[str] = ["angle"],  # noqa: B006
        cache: bool = False,
        skip_bad_files: bool = False,
    ):
        args = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(args, training)
        self.class_names = targets

    def samples(self, folder: Path) -> tuple[list[Path], torch.Tensor]:
        path, names = folder / "labels.csv", self.args["targets"]
        if not path.is_file():
            raise InputError(f"{path}: file not found; write a file column and {', '.join(names)}")
        with path.open(newline="") as lines:
            rows = list(csv.DictReader(lines))
        missing = sorted({"file", *names} - set(rows[0] if rows else {}))
        if missing:
            raise InputError(f"{path}: no column {missing[0]!r} (or no rows); add it")
        files, values = [], []
        for line, row in enumerate(rows, start=2):
            files.append(folder / row["file"])
            if not files[-1].is_file():
                raise InputError(f"{path}, line {line}: {files[-1]} not found; fix the file column")
            for name in names:
                try:
                    values.append(float(row[name]))
                except ValueError:
                    bad = f"{name} is {row[name]!r}, not a number"
                    raise InputError(f"{path}, line {line}: {bad}; fix the value") from None
        targets = torch.tensor(values).view(len(files), len(names))
        return files, targets.squeeze(1) if len(names) == 1 else targets
