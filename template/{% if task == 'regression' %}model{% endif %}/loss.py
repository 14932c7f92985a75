"""Loss functions, named by ``loss.type`` in config.json; ``loss.args`` are passed to them.
Outputs and targets: angles in degrees, (B,)."""

import torch
import torch.nn.functional as F

__all__ = ["mse_loss", "smooth_l1_loss"]


def mse_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, in square degrees."""
    return F.mse_loss(output, target)


def smooth_l1_loss(output: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Squared below ``beta`` degrees, absolute above: large errors of ambiguous digits
    (a 0 or a 1 looks alike at many angles) do not dominate the gradient."""
    return F.smooth_l1_loss(output, target, beta=beta)
