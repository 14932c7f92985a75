import torch
from torch import nn


def conv_bn_relu(
    in_channels, out_channels, kernel_size=3, padding=1, pool=False, stride=1
) -> list[nn.Module]:
    """Convolution, BatchNorm, ReLU; ``pool``: 2x2 max pooling first, so both work on 4x less."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
    pooling = [nn.MaxPool2d(2)] if pool else []
    return [conv, *pooling, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def digit_features(width: int, in_channels: int = 1) -> nn.Sequential:
    """Three convolution stages: a 28 x 28 digit (or larger image) to 4 * ``width`` maps 3 x 3."""
    return nn.Sequential(
        # 28 -> 12 in a stride-2 stem: the 24 x 24 convolution and pooling it replaces (until 0.2)
        # took half of a CPU training step, for no more accuracy
        *conv_bn_relu(in_channels, width, kernel_size=5, padding=0, stride=2),
        *conv_bn_relu(width, 2 * width, pool=True),  # 6
        *conv_bn_relu(2 * width, 4 * width, pool=True),  # 3
        PoolTo(3),
    )


class PoolTo(nn.AdaptiveMaxPool2d):
    """Maps of ``output_size`` pass as they are: an idle adaptive pool triples a CPU step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.shape[-2:] == (self.output_size,) * 2 else super().forward(x)
