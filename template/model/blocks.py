"""Convolution blocks that the task models are built of."""

from torch import nn


def conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1, pool: bool = False
) -> list[nn.Module]:
    """Convolution, BatchNorm, ReLU; ``pool``: 2x2 max pooling first, so both work on 4x less."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False),
        *([nn.MaxPool2d(2)] if pool else []),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def digit_features(width: int) -> nn.Sequential:
    """Three convolution stages that turn a 28 x 28 digit into 4 * ``width`` maps of 3 x 3."""
    return nn.Sequential(
        *conv_bn_relu(1, width, kernel_size=5, padding=0, pool=True),  # 28 -> 24 -> 12
        *conv_bn_relu(width, 2 * width, pool=True),  # 6
        *conv_bn_relu(2 * width, 4 * width, pool=True),  # 3
    )
