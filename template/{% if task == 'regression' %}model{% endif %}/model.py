"""Models that predict the rotation angle of an MNIST digit."""

import torch
from torch import nn

from base import BaseModel
from model import pretrained
from model.blocks import digit_features

__all__ = ["AngleNet", "TimmModel", "TorchvisionModel"]


class OneTarget:
    """A pretrained model's outputs, (B,) for one target as AngleNet's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = super().forward(x)
        return output.squeeze(1) if output.shape[1] == 1 else output


class AngleNet(BaseModel):
    """A small BatchNorm CNN whose ``num_outputs`` outputs (MNIST: the angle in degrees) are scaled
    by ``output_scale``, so that the network works with values of order one; channels-last, as
    oneDNN and cuDNN like."""

    def __init__(
        self,
        width: int = 16,
        output_scale: float = 45.0,
        in_channels: int = 1,
        num_outputs: int = 1,
    ):
        super().__init__()
        self.output_scale = output_scale
        self.features = digit_features(width, in_channels)
        self.regressor = nn.Sequential(
            nn.Linear(4 * width * 3 * 3, 64), nn.ReLU(inplace=True), nn.Linear(64, num_outputs)
        )
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        output = self.regressor(self.features(x).flatten(1)) * self.output_scale
        return output.squeeze(1) if output.shape[1] == 1 else output  # one target: (B,)


class TorchvisionModel(OneTarget, pretrained.TorchvisionModel):
    """torchvision's classifier ``name`` with one output per target (see model/pretrained.py)."""


class TimmModel(OneTarget, pretrained.TimmModel):
    """timm's model ``name`` with one output per target (see model/pretrained.py)."""
