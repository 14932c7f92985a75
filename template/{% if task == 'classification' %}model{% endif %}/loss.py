"""Loss functions, named by ``loss.type`` in config.json; ``loss.args`` are passed to them."""

import torch
import torch.nn.functional as F

__all__ = ["nll_loss", "cross_entropy"]


def nll_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """For models that return log-probabilities (MnistModel)."""
    return F.nll_loss(output, target)


def cross_entropy(
    output: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """For models that return logits (MnistNet)."""
    return F.cross_entropy(output, target, label_smoothing=label_smoothing)
