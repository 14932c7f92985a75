"""Models for MNIST digits (and other small grey images): model/model.py offers them."""

import torch
import torch.nn.functional as F
from torch import nn

from base import BaseModel
from model.blocks import digit_features


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
    """A BatchNorm CNN (18k parameters, logits): 99% on MNIST in a CPU epoch; channels-last."""

    def __init__(self, num_classes: int = 10, width: int = 12, in_channels: int = 1):
        super().__init__()
        self.features = digit_features(width, in_channels)
        self.classifier = nn.Linear(4 * width * 3 * 3, num_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x).flatten(1))
