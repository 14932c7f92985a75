"""Models that label every pixel of a digit canvas."""

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from base import BaseModel
from model import pretrained
from model.blocks import conv_bn_relu

__all__ = ["UNet", "TorchvisionModel"]


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        *conv_bn_relu(in_channels, out_channels), *conv_bn_relu(out_channels, out_channels)
    )


class UNet(BaseModel):
    """A small U-Net (three levels) giving per-pixel class logits (B, num_classes, H, W). Quick
    on a CPU: it works at half resolution (``pixel_unshuffle`` folds 2 x 2 pixels into channels),
    and a per-pixel head sees each input pixel beside its features, so stroke edges stay exact.
    H and W must be even, ``width`` a multiple of 4; channels-last, as oneDNN and cuDNN like."""

    def __init__(self, num_classes: int = 11, width: int = 16, in_channels: int = 1):
        super().__init__()
        sizes = [4 * in_channels, width, 2 * width, 4 * width]  # at 1/2, 1/4 and 1/8 size
        self.encoder = nn.ModuleList(double_conv(*pair) for pair in pairwise(sizes))
        self.decoder = nn.ModuleList(  # back to 1/4, then 1/2 size
            nn.Sequential(*conv_bn_relu(sizes[i] + sizes[i + 1], sizes[i])) for i in (2, 1)
        )
        self.head = nn.Sequential(
            nn.Conv2d(in_channels + width // 4, 2 * width, kernel_size=1),
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


class TorchvisionModel(pretrained.TorchvisionModel):
    """FCN or DeepLabV3 of torchvision.models.segmentation: its classifier's last convolution makes
    one map per class, at 1/8 size, resized to the image's."""

    library = "torchvision.models.segmentation"
    options = {"weights_backbone": None, "aux_loss": True}  # no ImageNet backbone to download

    @staticmethod
    def split(network: nn.Module, num_classes: int) -> tuple[nn.Module, nn.Module]:
        network.classifier[-1] = nn.Conv2d(network.classifier[-1].in_channels, num_classes, 1)
        return network.backbone, network.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.head(self.backbone(x)["out"]), x.shape[-2:], mode="bilinear")
