"""The data loader of MNIST canvases (MNIST projects)."""

import torch

from data_loader.data_loaders import DigitCanvasDataLoader


def test_canvases_are_deterministic_and_use_every_digit_once(data_dir):
    first = DigitCanvasDataLoader(str(data_dir), batch_size=50, shuffle=False, training=False)
    second = DigitCanvasDataLoader(str(data_dir), batch_size=50, shuffle=False, training=False)
    pairs = first.dataset.pairs
    assert len(pairs) == 80 and sorted(pairs.flatten().tolist()) == list(range(160))
    for (images_a, masks_a), (images_b, masks_b) in zip(first, second, strict=True):
        assert torch.equal(images_a, images_b) and torch.equal(masks_a, masks_b)
    images, masks = next(iter(first))
    assert images.shape == (50, 1, 28, 56) and masks.shape == (50, 28, 56)
    digit_classes = first.dataset.labels[pairs[:50]] + 1
    for mask, classes in zip(masks, digit_classes, strict=True):
        assert set(mask.unique().tolist()) <= {0, *classes.tolist()}


def test_train_and_validation_canvases_split(data_dir):
    loader = DigitCanvasDataLoader(str(data_dir), batch_size=32, validation_split=0.25)
    held_out = loader.split_validation().batch_sampler.indices
    assert len(loader.batch_sampler.indices) == 240 and len(held_out) == 80
