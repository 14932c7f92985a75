"""Models for image classification: MNIST digits, and photos of any size (PhotoNet)."""

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from base import BaseModel
from model.blocks import conv_bn_relu, digit_features

__all__ = ["MnistModel", "MnistNet", "PhotoNet"]


class MnistModel(BaseModel):
    """The LeNet-style model of the original pytorch-template; pair it with nll_loss."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.dropout(F.relu(self.fc1(x.flatten(1))), training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


class MnistNet(BaseModel):
    """A small BatchNorm CNN (29k parameters, logits for cross_entropy): over 99% test accuracy
    in one CPU epoch of MNIST. Channels-last: the layout oneDNN and cuDNN (AMP) convolve fastest."""

    def __init__(self, num_classes: int = 10, width: int = 16, in_channels: int = 1):
        super().__init__()
        self.features = digit_features(width, in_channels)
        self.classifier = nn.Linear(4 * width * 3 * 3, num_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x).flatten(1))


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
