"""The data loader of MNIST digits (MNIST projects)."""

import pytest
import torch

from data_loader.data_loaders import MnistDataLoader


def test_data_loader_gives_normalised_batches(data_dir):
    loader = MnistDataLoader(str(data_dir), batch_size=64, validation_split=0.25)
    images, labels = next(iter(loader))
    assert images.shape == (64, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    held_out = loader.split_validation().batch_sampler.indices
    assert len(loader.batch_sampler.indices) == 480 and len(held_out) == 160
    test_loader = MnistDataLoader(str(data_dir), batch_size=1000, shuffle=False, training=False)
    ((test_images, _),) = list(test_loader)
    assert len(test_images) == 160
    assert test_images.min() == pytest.approx((0 - 0.1307) / 0.3081)
