"""The default model of folder projects: photos of any size and number of channels."""

from itertools import pairwise

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

from base import BaseModel
from model.blocks import conv_bn_relu


def downsampling_block(in_channels: int, out_channels: int) -> BasicBlock:
    """torchvision's ResNet block at stride 2, its shortcut a strided 1x1 convolution."""
    shortcut = nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False),
        nn.BatchNorm2d(out_channels),
    )
    return BasicBlock(in_channels, out_channels, stride=2, downsample=shortcut)


class PhotoNet(BaseModel):
    """A small ResNet: a 3x3 stem, four residual stages that each halve the size, then global
    average pooling, so any image size works (64 x 64: 4 x 4 maps before pooling). Channels-last,
    the layout oneDNN and cuDNN (AMP) convolve fastest."""

    def __init__(self, num_classes: int = 10, width: int = 32, in_channels: int = 3):
        super().__init__()
        sizes = [width, width, 2 * width, 4 * width, 8 * width]
        self.features = nn.Sequential(
            *conv_bn_relu(in_channels, width),
            *(downsampling_block(*pair) for pair in pairwise(sizes)),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(sizes[-1], num_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x).flatten(1))
