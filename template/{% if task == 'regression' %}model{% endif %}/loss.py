"""Loss functions, named by ``loss.type`` in config.json; ``loss.args`` are passed to them.
Outputs and targets: angles in degrees, (B,). Here torch's own: mse_loss, or smooth_l1_loss,
squared below ``beta`` degrees and absolute above, so that the large errors of ambiguous digits
(a 0 or a 1 looks alike at many angles) do not dominate the gradient."""

from torch.nn.functional import mse_loss, smooth_l1_loss

__all__ = ["mse_loss", "smooth_l1_loss"]
