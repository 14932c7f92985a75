"""``arch.type``'s models: PhotoNet for photos, MnistNet (model/digits.py), the pretrained."""

import itertools

import torch
from torch import nn

from base import BaseModel
from model.blocks import conv_bn_relu
from model.digits import MnistNet
from model.pretrained import TimmModel, TorchvisionModel

__all__ = ["MnistNet", "PhotoNet", "TimmModel", "TorchvisionModel"]


class PhotoNet(BaseModel):
    """The default model of folder projects, a small ResNet of torchvision's blocks: a 3x3 stem,
    four stages that each halve the size, then global average pooling, so any image size works
    (64 x 64: 4 x 4 maps before pooling). Channels-last, as MnistNet."""

    def __init__(self, num_classes: int = 10, width: int = 32, in_channels: int = 3):
        super().__init__()
        from torchvision.models.resnet import BasicBlock  # torchvision.models: not for MNIST

        sizes = [width, width, 2 * width, 4 * width, 8 * width]
        stages = [
            BasicBlock(n, m, 2, nn.Sequential(nn.Conv2d(n, m, 1, 2, bias=False), nn.BatchNorm2d(m)))
            for n, m in itertools.pairwise(sizes)
        ]  # each stage: stride 2, its shortcut a strided 1x1 convolution
        self.features = nn.Sequential(*conv_bn_relu(in_channels, width), *stages)
        self.classifier = nn.Linear(sizes[-1], num_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x).mean((2, 3)))
