from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


class ExperimentWriter:
    """Records nothing (logging off); logger/visualization.py's backend overrides what it shows."""

    def log_scalars(self, values: dict[str, float], step: int, mode: str) -> None:
        """``mode``: ``train`` or ``valid`` at epoch ``step``; ``train_step`` at batch ``step``."""

    def log_images(self, tag: str, images: torch.Tensor, step: int) -> None:
        """A grid of the first 64 images of an NCHW batch, scaled to [0, 1] together."""
        from torchvision.utils import make_grid  # torchvision's models, ops and dynamo: 2 s

        grid = make_grid(images[:64].detach().float().cpu(), normalize=True)
        self.log_picture(tag, grid.mul(255).round().byte().permute(1, 2, 0).numpy(), step)

    def log_histograms(self, model: nn.Module, step: int) -> None:
        """The distribution of every parameter."""

    def log_figure(self, tag: str, figure: Any, step: int) -> None:
        """A matplotlib figure (model/figures.py's), drawn off-screen without pyplot."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # only runs that draw

        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        self.log_picture(tag, np.asarray(canvas.buffer_rgba())[..., :3], step)

    def log_picture(self, tag: str, pixels: np.ndarray, step: int) -> None:
        """An RGB picture, height x width x 3 bytes: an image grid or a drawn figure."""

    def log_config(self, config: dict[str, Any]) -> None:
        """The run's configuration (its hyperparameters)."""

    def log_best_model(self, path: Path) -> None:
        """The checkpoint of the best epoch so far, called each time it is saved."""

    def close(self) -> None:
        """Flush and release files."""
