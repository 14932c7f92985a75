"""The data loader of rotated MNIST digits (MNIST projects)."""

import torch

from data_loader.data_loaders import RotatedMnistDataLoader
from data_loader.rotated import rotate


def test_data_loader_gives_rotated_normalised_digits_and_degrees(data_dir):
    loader = RotatedMnistDataLoader(str(data_dir), batch_size=64, validation_split=0.25)
    held_out = loader.split_validation().batch_sampler.indices
    assert len(loader.batch_sampler.indices) == 480 and len(held_out) == 160
    test_loader = RotatedMnistDataLoader(str(data_dir), batch_size=200, training=False)
    ((images, angles),) = list(test_loader)
    assert images.shape == (160, 1, 28, 28) and images.dtype == torch.float32
    assert angles.shape == (160,) and angles.dtype == torch.float32
    dataset = test_loader.dataset
    raw = dataset.images[:3].unsqueeze(1).float() / 255.0
    expected = (rotate(raw, dataset.angles[:3]) - 0.1307) / 0.3081
    first, first_angles = test_loader.collate_fn(dataset.__getitems__(torch.arange(3)))
    assert torch.allclose(first, expected, atol=1e-5)  # rotated on 0..255: rounding differs
    assert torch.equal(first_angles, dataset.angles[:3])
