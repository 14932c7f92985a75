"""Base class of data loaders: batching, per-pass shuffling, the validation split, DDP shards."""

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from utils.distributed import rank, world_size
from utils.util import InputError

Split = float | int | list[int]  # data_loader.args.validation_split


class BatchDataset(Dataset):
    """Builds a whole batch in ``__getitems__(indices)``, the fastest way to feed data in memory."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(part[0] for part in self.__getitems__(torch.tensor([index])))


class EpochBatchSampler(Sampler[torch.Tensor]):
    """This process's batches of ``indices`` (every ``world_size``-th; ``even``: cut to one length,
    so that DDP processes step together), pass ``p`` shuffled (or drawn) with seed ``seed + p``."""

    weights: torch.Tensor | None = None  # one per index: a pass is a draw with replacement

    def __init__(self, indices: torch.Tensor, batch_size: int, shuffle: bool, seed: int, even=True):
        self.indices, self.batch_size, self.shuffle, self.seed = indices, batch_size, shuffle, seed
        self.rank, self.world_size = rank(), world_size()
        mine = len(indices[self.rank :: self.world_size])
        self.shard_size = len(indices) // self.world_size if even else mine
        self.passes, self.skip = 0, 0  # passes started; batches of the next one already consumed

    def set_position(self, seed: int, batches_consumed: int) -> None:
        """Continue as a sampler with ``seed`` after ``batches_consumed`` batches would."""
        self.seed = seed
        self.passes, self.skip = divmod(batches_consumed, len(self))

    def __len__(self) -> int:
        return math.ceil(self.shard_size / self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        order, generator = self.indices, seeded(self.seed + self.passes)
        if self.weights is not None:  # one draw, the same in every process: each takes its part
            order = order[torch.multinomial(self.weights, len(order), True, generator=generator)]
        elif self.shuffle:
            order = order[torch.randperm(len(order), generator=generator)]
        order = order[self.rank :: self.world_size][: self.shard_size]
        self.passes += 1
        skip, self.skip = self.skip, 0
        yield from order.split(self.batch_size)[skip:]


class BaseDataLoader(DataLoader):
    """Holds out ``validation_split`` (a fraction, a count, or fold ``[i, K]``); ``training=False``:
    each sample counts once under DDP; ``labels`` (classes) weigh the loss and the ``sampler``."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        shuffle: bool,
        validation_split: Split,
        training: bool = True,
        labels: torch.Tensor | None = None,
        sampler: str | None = None,
        **options: Any,  # DataLoader's: num_workers, collate_fn, pin_memory...
    ):
        train_idx, self.valid_idx = split_indices(len(dataset), validation_split)
        self.train_labels = None if labels is None else labels[train_idx]  # the training split's
        # the shuffling seed comes from torch's global generator, which the config's seed sets
        seed = int(torch.randint(0, 2**62, (1,)).item())
        batches = EpochBatchSampler(train_idx, batch_size, shuffle, seed, even=training)
        if sampler == "balanced" and training:  # a sample's weight: 1 / its class's count
            batches.weights = 1 / self.train_labels.bincount()[self.train_labels]
        self.options = {"pin_memory": torch.cuda.is_available(), **options}
        # with its own generator, starting an epoch draws nothing from the global one
        super().__init__(dataset, batch_sampler=batches, generator=seeded(seed), **self.options)

    def split_validation(self) -> DataLoader | None:
        """A loader over the held-out samples, in a fixed order; None if there are none."""
        if self.valid_idx is None:
            return None
        sampler = EpochBatchSampler(self.valid_idx, self.batch_sampler.batch_size, False, 0, False)
        return DataLoader(self.dataset, batch_sampler=sampler, generator=seeded(0), **self.options)

    def loss_args(self, config: Any, device: torch.device) -> dict[str, torch.Tensor]:
        """The loss's ``weight`` by loss.class_weights (or none); "balanced": as scikit-learn's."""
        if (setting := config["loss"].get("class_weights")) is None:
            return {}
        names, labels = self.class_names, self.train_labels
        if labels is None or setting != "balanced" and len(setting) != len(names):
            raise InputError(f"loss.class_weights: 'balanced' or one weight per class of {names}")
        counts = labels.bincount(minlength=len(names)).clamp(min=1)  # a class never seen: 1
        weight = len(labels) / (len(names) * counts) if setting == "balanced" else setting
        return {"weight": torch.as_tensor(weight, dtype=torch.float32, device=device)}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def split_indices(n_samples: int, split: Split) -> tuple[torch.Tensor, torch.Tensor | None]:
    order = torch.randperm(n_samples, generator=seeded(0))
    if isinstance(split, list):  # the fold [i, K] (tune.py --folds)
        parts = order.tensor_split(split[1])
        return torch.cat(parts[: split[0]] + parts[split[0] + 1 :]), parts[split[0]]
    n_valid = int(n_samples * split) if isinstance(split, float) else split
    if not 0 <= n_valid < n_samples:
        hint = f"a fraction in [0, 1) or a count below the {n_samples} samples"
        raise InputError(f"data_loader.args.validation_split: must hold out {hint}, got {split}")
    return (order[n_valid:], order[:n_valid]) if n_valid else (torch.arange(n_samples), None)
