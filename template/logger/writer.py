"""The small interface the trainer logs experiments through."""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn
from torchvision.utils import make_grid


class ExperimentWriter:
    """Scalars, images, histograms and the config of one run; this base class records nothing.

    Backends (logger/visualization.py) override what they can show; its ``create_writer(config)``
    is the one place a writer is made. Input images and figures both become RGB pictures here,
    which a backend records in ``log_picture``. The base class itself is what the trainer gets
    when experiment logging is off: epoch results still go to the console and to info.log.
    """

    def log_scalars(self, values: dict[str, float], step: int, mode: str) -> None:
        """Scalars such as ``loss`` or ``accuracy``.

        ``mode`` is ``train`` or ``valid`` with ``step`` the epoch, or ``train_step`` with ``step``
        the number of batches trained so far.
        """

    def log_images(self, tag: str, images: torch.Tensor, step: int) -> None:
        """A grid of the first 64 images of an NCHW batch, scaled to [0, 1] together."""
        grid = make_grid(images[:64].detach().float().cpu(), normalize=True)
        self.log_picture(tag, grid.mul(255).round().byte().permute(1, 2, 0).numpy(), step)

    def log_histograms(self, model: nn.Module, step: int) -> None:
        """The distribution of every parameter."""

    def log_figure(self, tag: str, figure: Figure, step: int) -> None:
        """A matplotlib figure (model/figures.py draws them during validation)."""
        canvas = FigureCanvasAgg(figure)  # drawn off-screen, without pyplot
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
