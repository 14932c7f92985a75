"""Rotated MNIST digits with their rotation angle, in degrees, as the target."""

import math

import torch
import torch.nn.functional as F

from data_loader.mnist import MnistDataset


def rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image (B, 1, H, W) counter-clockwise by its angle, filling with zeros."""
    radians = degrees * (math.pi / 180.0)
    cos, sin = radians.cos(), radians.sin()
    zero = torch.zeros_like(cos)
    # affine_grid maps each output pixel to the input point it samples (x right, y down)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class RotatedMnistDataset(MnistDataset):
    """MNIST digit ``i`` rotated (batch by batch) by ``angles[i]``, uniform in [-max_angle,
    max_angle] degrees and fixed by ``angle_seed``: every run sees the same rotations."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        max_angle: float = 45.0,
        angle_seed: int = 0,
    ):
        super().__init__(images, labels)
        generator = torch.Generator().manual_seed(angle_seed)
        self.angles = (torch.rand(len(images), generator=generator) * 2 - 1) * max_angle

    def __getitems__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotated images (B, 1, 28, 28) as floats 0..1 and their angles (B,) in degrees."""
        angles = self.angles[indices]
        return rotate(self.images[indices].unsqueeze(1).float().div_(255), angles), angles
