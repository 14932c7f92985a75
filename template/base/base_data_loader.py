"""Base class of data loaders: batching, shuffling and the validation split."""

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.dataloader import default_collate

from utils.util import InputError
from utils.distributed import rank, world_size


def keep_batch(batch: Any) -> Any:
    """``collate_fn`` for datasets whose ``__getitems__`` already returns a whole batch."""
    return batch


class EpochBatchSampler(Sampler[torch.Tensor]):
    """This process's batches of ``indices``, reshuffled on every pass from ``seed``.

    The order of every pass follows from ``seed`` and its number, so a run is repeatable and its
    data position is two integers: the seed and how many batches were consumed in all. Under DDP
    each process takes every ``world_size``-th index of the pass; ``even`` cuts these shards to one
    length, so that training processes step together (evaluation keeps every sample once).
    """

    def __init__(
        self, indices: torch.Tensor, batch_size: int, shuffle: bool, seed: int, even: bool = True
    ):
        self.indices = indices
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank, self.world_size = rank(), world_size()
        shard = (
            len(indices) // self.world_size if even else len(indices[self.rank :: self.world_size])
        )
        self.shard_size = shard
        self.passes = 0  # passes started
        self.skip = 0  # batches of the next pass that were consumed before a resume

    def set_position(self, seed: int, batches_consumed: int) -> None:
        """Continue as a sampler with ``seed`` after ``batches_consumed`` batches would."""
        self.seed = seed
        self.passes, self.skip = divmod(batches_consumed, len(self))

    def __len__(self) -> int:
        return math.ceil(self.shard_size / self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = self.indices
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.passes)
            order = order[torch.randperm(len(order), generator=generator)]
        order = order[self.rank :: self.world_size][: self.shard_size]
        self.passes += 1
        skip, self.skip = self.skip, 0
        yield from order.split(self.batch_size)[skip:]


class BaseDataLoader(DataLoader):
    """A DataLoader that can hold out part of its dataset for validation.

    ``validation_split`` is a fraction in [0, 1), a number of samples or a fold ``[i, K]`` (the
    i-th of K disjoint parts, for tune.py --folds); the split is the same on
    every run (it does not depend on the config's seed), and ``split_validation()`` returns a
    loader over the held-out samples, or None when nothing is held out. ``batch_size`` is per
    process under DDP. With ``training=False`` (evaluation data) every process keeps all of its
    shard, so that metrics count each sample exactly once.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        shuffle: bool,
        validation_split: float | int | list[int],
        num_workers: int,
        collate_fn: Callable[[Any], Any] = default_collate,
        split_seed: int = 0,
        training: bool = True,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(
                f"data_loader.args.batch_size: must be an integer >= 1, got {batch_size!r}"
            )
        train_idx, self.valid_idx = split_indices(len(dataset), validation_split, split_seed)
        self.n_samples = len(train_idx)
        # the shuffling seed comes from torch's global generator, which the config's seed sets
        seed = int(torch.randint(0, 2**62, (1,)).item())
        super().__init__(
            dataset,
            batch_sampler=EpochBatchSampler(train_idx, batch_size, shuffle, seed, even=training),
            num_workers=num_workers,
            collate_fn=collate_fn,
            pin_memory=torch.cuda.is_available(),
            # its own generator: starting an epoch then draws nothing from the global one
            generator=torch.Generator().manual_seed(seed),
        )

    def split_validation(self) -> DataLoader | None:
        """A loader over the held-out samples, in a fixed order; None if there are none."""
        if self.valid_idx is None:
            return None
        batch_size = self.batch_sampler.batch_size
        sampler = EpochBatchSampler(self.valid_idx, batch_size, shuffle=False, seed=0, even=False)
        return DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            pin_memory=self.pin_memory,
            generator=torch.Generator().manual_seed(0),
        )


def split_indices(
    n_samples: int, split: float | int | list[int], seed: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Training and validation indices for a fraction or count of held-out samples."""
    if isinstance(split, list):  # fold [i, K]: validate on the i-th of K disjoint parts
        parts = torch.randperm(n_samples, generator=torch.Generator().manual_seed(seed))
        parts = parts.tensor_split(split[1])
        return torch.cat(parts[: split[0]] + parts[split[0] + 1 :]), parts[split[0]]
    key = "data_loader.args.validation_split"
    if isinstance(split, bool) or not isinstance(split, (int, float)):
        raise InputError(f"{key}: must be a fraction like 0.1 or a sample count, got {split!r}")
    if isinstance(split, float) and not 0.0 <= split < 1.0:
        raise InputError(f"{key}: a fraction must be in [0, 1), got {split}")
    if isinstance(split, int) and not 0 <= split < n_samples:
        raise InputError(f"{key}: a sample count must be in [0, {n_samples}), got {split}")
    n_valid = int(n_samples * split) if isinstance(split, float) else split
    if n_valid == 0:
        return torch.arange(n_samples), None
    order = torch.randperm(n_samples, generator=torch.Generator().manual_seed(seed))
    return order[n_valid:], order[:n_valid]
