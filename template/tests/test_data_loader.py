"""BaseDataLoader: the validation split and the batch order."""

import pytest
import torch
from torch.utils.data import TensorDataset

from base import BaseDataLoader
from utils.util import InputError


def make_loader(n: int = 100, split: float | int = 0.0, shuffle: bool = True) -> BaseDataLoader:
    dataset = TensorDataset(torch.arange(n))
    return BaseDataLoader(
        dataset, batch_size=8, shuffle=shuffle, validation_split=split, num_workers=0
    )


def seen(loader) -> list[int]:
    return [int(i) for (batch,) in loader for i in batch]


@pytest.mark.parametrize(("split", "n_valid"), [(0.2, 20), (15, 15), (0.0, 0), (0, 0)])
def test_split_by_ratio_or_count_covers_every_sample_once(split, n_valid):
    loader = make_loader(split=split)
    valid = loader.split_validation()
    valid_samples = seen(valid) if valid is not None else []
    assert len(valid_samples) == n_valid
    assert sorted(seen(loader) + valid_samples) == list(range(100))
    assert (valid is None) == (n_valid == 0)


def test_split_is_deterministic_whatever_the_seed():
    torch.manual_seed(1)
    first = seen(make_loader(split=0.1).split_validation())
    torch.manual_seed(2)
    assert seen(make_loader(split=0.1).split_validation()) == first


def test_each_epoch_is_reshuffled_and_repeatable():
    torch.manual_seed(0)
    loader = make_loader()
    epoch1, epoch2 = seen(loader), seen(loader)
    assert sorted(epoch1) == sorted(epoch2) == list(range(100))
    assert epoch1 != epoch2
    torch.manual_seed(0)
    again = make_loader()
    assert [seen(again), seen(again)] == [epoch1, epoch2]


def test_no_shuffle_keeps_order():
    assert seen(make_loader(shuffle=False)) == list(range(100))


@pytest.mark.parametrize("split", [1.0, 100, 101, -1])
def test_split_that_leaves_no_training_sample_names_the_key(split):
    with pytest.raises(InputError, match="data_loader.args.validation_split"):
        make_loader(split=split)
