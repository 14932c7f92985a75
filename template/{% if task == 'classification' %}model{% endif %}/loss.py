"""``loss.type``: torch's cross_entropy for logits, nll_loss for log-probabilities."""

from torch.nn.functional import cross_entropy, nll_loss

__all__ = ["nll_loss", "cross_entropy"]
