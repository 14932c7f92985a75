"""Loss functions, named by ``loss.type`` in config.json; ``loss.args`` are passed to them. Here
torch's own: nll_loss for models that return log-probabilities (MnistModel), cross_entropy (with
``label_smoothing``) for those that return logits (MnistNet)."""

from torch.nn.functional import cross_entropy, nll_loss

__all__ = ["nll_loss", "cross_entropy"]
