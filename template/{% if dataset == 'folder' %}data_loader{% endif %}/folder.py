"""Image files in folders, for every task: decoded with torchvision, checked once before training,
resized to ``image_size``, optionally kept in memory, augmented per config.json, batched by
DataLoader workers. Each task's data_loaders.py lists its files and targets."""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from base import BaseDataLoader
from base.base_data_loader import seeded
from data_loader.images import SUFFIXES, eval_transform, read_image
from utils.util import InputError

WHERE = "data_loader.args.data_dir to the folder that holds train/ and test/"


def image_files(folder: Path, what: str) -> list[Path]:
    """The image files below ``folder``, sorted; none is an error."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no image files (.png, .jpg, ...); put {what} there")
    return files


def augmentation(steps: list[dict[str, Any]]) -> v2.Compose | None:
    """config.json's ``augment``, a list of ``{"type": a transforms.v2 class, "args": {...}}``."""
    return v2.Compose([getattr(v2, s["type"])(**s["args"]) for s in steps]) if steps else None


class FolderDataset(Dataset):
    """Sample i: ``files[i]`` decoded and resized (uint8), and ``targets[i]`` (a mask file is a
    ``tv_tensors.Mask``, which geometric augmentation moves along). Every file is decoded once
    here, so a bad one stops the run before anything is written (``skip_bad_files``: left out
    with one warning); ``cache`` keeps the decoded images in memory."""

    def __init__(self, files: list[Path], targets: Sequence, args: dict[str, Any], training: bool):
        self.files, self.targets, self.args = files, targets, args
        self.resize, self.cached = eval_transform(args).transforms[0], None
        self.augment = augmentation(args["augment"]) if training else None
        kept, images, labels, bad = [], [], [], []
        # its own generator: checking the files draws nothing from the seeded global one
        scan = dict(num_workers=args["num_workers"], collate_fn=self.check, generator=seeded(0))
        for batch in DataLoader(range(len(files)), 64, **scan):
            kept += batch[0]
            unreadable = [message for message in batch[3] if ": not a readable image" in message]
            if len(unreadable) < len(batch[3]):  # another error (e.g. a mask): always an error
                raise InputError(next(m for m in batch[3] if m not in unreadable))
            bad += unreadable
            if args["cache"] and batch[0]:
                images.append(batch[1])
                labels.append(batch[2])
        if bad and not args["skip_bad_files"]:
            raise InputError(bad[0])
        if bad:
            left_out = f"left out {len(bad)} unreadable image files; the first: {bad[0]}"
            logging.getLogger("data").warning(f"skip_bad_files: {left_out}")
        self.files, self.targets = [files[i] for i in kept], [targets[i] for i in kept]
        if args["cache"]:
            self.cached = torch.cat(images), torch.cat(labels)

    def check(self, indices: list[int]) -> tuple[list[int], Any, Any, list[str]]:
        """The files read, their images and targets stacked (cheap to pass between processes), and
        the errors of the others."""
        kept, samples, errors = [], [], []
        for i in indices:
            try:
                samples.append(self.load(i))
                kept.append(i)
            except InputError as err:  # passed on as text: a worker's exception is not one line
                errors.append(str(err))
        if not samples:
            return kept, None, None, errors
        images, targets = zip(*samples, strict=True)
        return kept, torch.stack(images), torch.stack(list(map(torch.as_tensor, targets))), errors

    def load(self, i: int) -> tuple[torch.Tensor, Any]:
        image = tv_tensors.Image(read_image(self.files[i], self.args["channels"]))
        target = self.target(i, image)
        if list(image.shape[-2:]) == self.args["image_size"]:  # Resize would still cost 40 us
            return image, target
        return self.resize(image, target)

    def target(self, i: int, image: torch.Tensor) -> Any:
        return self.targets[i]

    def as_target(self, target: torch.Tensor) -> Any:
        """A cached target as ``load`` returns it (a tv_tensor where augmentation needs one)."""
        return target

    def __len__(self) -> int:
        return len(self.files)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, Any]]:
        if self.cached is not None:
            images, targets = self.cached
            samples = [(tv_tensors.Image(images[i]), self.as_target(targets[i])) for i in indices]
        else:
            samples = [self.load(i) for i in indices]
        if not self.augment:
            return samples
        # the random draws follow from the samples of the batch alone: a resumed run, and any
        # number of worker processes, see the same augmented images
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(hash(tuple(int(i) for i in indices)) % 2**63)
            return [self.augmented(*sample) for sample in samples]

    def augmented(self, image: torch.Tensor, target: Any) -> tuple[torch.Tensor, Any]:
        """A mask moves with its image; another target is left out (v2 is 2x slower with it)."""
        if isinstance(target, tv_tensors.Mask):
            return self.augment(image, target)
        return self.augment(image), target


class Collate:
    """Stacks a batch of uint8 samples and normalises the images in one operation."""

    def __init__(self, args: dict[str, Any]):
        self.normalise = v2.Compose(eval_transform(args).transforms[1:])  # to float, normalised

    def __call__(self, samples: list[tuple[torch.Tensor, Any]]) -> tuple[torch.Tensor, Any]:
        images, targets = zip(*samples, strict=True)
        return self.normalise(torch.stack(images).as_subclass(torch.Tensor)), self.target(targets)

    def target(self, targets: Sequence) -> torch.Tensor:
        return torch.stack([torch.as_tensor(t) for t in targets])


class FolderDataLoader(BaseDataLoader):
    """The ``train`` (or ``training=False``: ``test``) folder of ``data_dir`` as batches; validation
    from ``val/`` when it exists, else ``validation_split`` of train. ``samples(folder)`` of each
    task gives the files and targets of a folder."""

    class_names: list[str]
    dataset_class, collate_class = FolderDataset, Collate

    def __init__(self, args: dict[str, Any], training: bool):
        self.args, split = args, Path(args["data_dir"]) / ("train" if training else "test")
        if not split.is_dir():
            fix = "python -m data_loader mnist DIR writes an example"
            raise InputError(f"{split}: folder not found; set {WHERE} ({fix})")
        dataset = self.dataset_class(*self.samples(split), args, training)
        val = split.with_name("val")
        self.val_folder = val if training and val.is_dir() else None
        options = dict(num_workers=args["num_workers"], collate_fn=self.collate_class(args))
        options["pin_memory"] = args["pin_memory"] and torch.cuda.is_available()
        if args["num_workers"]:  # DataLoader refuses these without worker processes
            options.update(persistent_workers=args["persistent_workers"])
            options.update(prefetch_factor=args["prefetch_factor"])
        split_off = 0 if self.val_folder else args["validation_split"]
        loader_args = args["batch_size"], args["shuffle"], split_off, training, self.labels(dataset)
        super().__init__(dataset, *loader_args, args.get("sampler"), **options)

    def samples(self, folder: Path) -> tuple[list[Path], Sequence]:
        raise NotImplementedError

    def labels(self, dataset: FolderDataset) -> torch.Tensor | None:
        """The class of each sample, for a classifier's class weights and balanced sampler."""
        return None

    def split_validation(self) -> DataLoader | None:
        if self.val_folder is None:
            return super().split_validation()
        dataset = self.dataset_class(*self.samples(self.val_folder), self.args, training=False)
        batch_size = self.batch_sampler.batch_size
        return BaseDataLoader(dataset, batch_size, False, 0, training=False, **self.options)
