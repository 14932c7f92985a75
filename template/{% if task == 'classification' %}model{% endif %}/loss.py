"""``loss.type``: torch's nll_loss for log-probabilities (MnistModel), cross_entropy for logits."""

from torch.nn.functional import cross_entropy, nll_loss

__all__ = ["nll_loss", "cross_entropy"]
