"""Models that predict the rotation angle of an MNIST digit."""

import torch
from torch import nn

from base import BaseModel
from model.blocks import digit_features

__all__ = ["AngleNet"]


class AngleNet(BaseModel):
    """A small BatchNorm CNN whose output, the angle in degrees, is scaled by ``output_scale`` so
    that the network works with values of order one; channels-last, as oneDNN and cuDNN like."""

    def __init__(self, width: int = 16, output_scale: float = 45.0):
        super().__init__()
        self.output_scale = output_scale
        self.features = digit_features(width)
        self.regressor = nn.Sequential(
            nn.Linear(4 * width * 3 * 3, 64), nn.ReLU(inplace=True), nn.Linear(64, 1)
        )
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return self.regressor(self.features(x).flatten(1)).squeeze(1) * self.output_scale
