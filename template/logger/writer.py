"""The small interface the trainer logs experiments through."""

from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import nn


class ExperimentWriter:
    """Scalars, images, histograms and the config of one run; this base class records nothing.

    Backends (logger/visualization.py) override what they can show; its ``create_writer(config)``
    is the one place a writer is made. The base class itself is what the trainer gets when
    experiment logging is off: epoch results still go to the console and to the run's info.log.
    """

    def log_scalars(self, values: dict[str, float], step: int, mode: str) -> None:
        """Scalars such as ``loss`` or ``accuracy``.

        ``mode`` is ``train`` or ``valid`` with ``step`` the epoch, or ``train_step`` with ``step``
        the number of batches trained so far.
        """

    def log_images(self, tag: str, images: torch.Tensor, step: int) -> None:
        """A grid of an NCHW batch of images."""

    def log_histograms(self, model: nn.Module, step: int) -> None:
        """The distribution of every parameter."""

    def log_figure(self, tag: str, figure: Figure, step: int) -> None:
        """A matplotlib figure (model/figures.py draws them during validation)."""

    def log_config(self, config: dict[str, Any]) -> None:
        """The run's configuration (its hyperparameters)."""

    def log_best_model(self, path: Path) -> None:
        """The checkpoint of the best epoch so far, called each time it is saved."""

    def close(self) -> None:
        """Flush and release files."""
