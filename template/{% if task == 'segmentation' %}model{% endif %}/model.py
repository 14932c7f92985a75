"""Models that label every pixel of a digit canvas."""

import torch
import torch.nn.functional as F
from torch import nn

from base import BaseModel
from model.blocks import conv_bn_relu

__all__ = ["UNet"]


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        *conv_bn_relu(in_channels, out_channels), *conv_bn_relu(out_channels, out_channels)
    )


class UNet(BaseModel):
    """A small U-Net: three encoder levels, a decoder that upsamples and concatenates the encoder's
    features of the same size, and per-pixel class logits (B, num_classes, H, W).

    To be quick on a CPU it works at half resolution and below: ``pixel_unshuffle`` folds each
    2 x 2 block of pixels into 4 channels first, and ``pixel_shuffle`` unfolds the decoder's
    output. A per-pixel head then sees each input pixel next to its features, so the edges of the
    strokes stay exact. H and W must be even; ``width`` a multiple of 4. Weights and activations
    are channels-last, the memory layout that oneDNN (CPU) and cuDNN (GPU with AMP) convolve
    fastest.
    """

    def __init__(self, num_classes: int = 11, width: int = 16):
        super().__init__()
        self.encoder = nn.ModuleList(
            [
                double_conv(4, width),  # 1/2 size
                double_conv(width, 2 * width),  # 1/4
                double_conv(2 * width, 4 * width),  # 1/8
            ]
        )
        self.decoder = nn.ModuleList(
            [
                nn.Sequential(*conv_bn_relu(6 * width, 2 * width)),  # 1/4
                nn.Sequential(*conv_bn_relu(3 * width, width)),  # 1/2
            ]
        )
        self.head = nn.Sequential(
            nn.Conv2d(1 + width // 4, 2 * width, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * width, num_classes, kernel_size=1),
        )
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        features = self.encoder[0](F.pixel_unshuffle(x, 2))
        skips = [features]
        for level in self.encoder[1:]:
            features = level(F.max_pool2d(features, 2))
            skips.append(features)
        for level, skip in zip(self.decoder, reversed(skips[:-1]), strict=True):
            features = F.interpolate(features, size=skip.shape[-2:])
            features = level(torch.cat([skip, features], 1))
        return self.head(torch.cat([x, F.pixel_shuffle(features, 2)], 1))
