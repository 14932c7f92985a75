"""Loss functions, named by ``loss.type`` in config.json; ``loss.args`` are passed to them.
Outputs: logits (B, C, H, W); targets: class indices (B, H, W), -100 (ignored) where a mask holds
its ignore value."""

import torch
import torch.nn.functional as F
from torch.nn.functional import cross_entropy  # mean over all pixels

__all__ = ["cross_entropy", "dice_loss", "cross_entropy_dice"]


def dice_loss(output: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice score, averaged over classes: every class counts alike, however small."""
    counted = (target >= 0).unsqueeze(1)
    probs = output.softmax(1) * counted
    one_hot = F.one_hot(target.clamp(min=0), output.shape[1]).permute(0, 3, 1, 2) * counted
    overlap = (probs * one_hot).sum((0, 2, 3))
    sizes = probs.sum((0, 2, 3)) + one_hot.sum((0, 2, 3))
    return 1.0 - ((2.0 * overlap + smooth) / (sizes + smooth)).mean()


def cross_entropy_dice(
    output: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0
) -> torch.Tensor:
    """Cross-entropy plus ``dice_weight`` times the Dice loss."""
    return cross_entropy(output, target) + dice_weight * dice_loss(output, target)
