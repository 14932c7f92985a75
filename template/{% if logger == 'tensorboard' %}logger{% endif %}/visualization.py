"""What the trainer sends to TensorBoard: ``tensorboard --logdir saved/log/`` shows it."""

import json
from typing import Any

import numpy as np
from torch import nn

from logger.writer import ExperimentWriter


class TensorboardWriter(ExperimentWriter):
    """Event files in the run's log folder, one run per folder."""

    def __init__(self, log_dir: str):
        # imported here: 0.1 s that `--help` and the other DDP processes need not pay
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir)

    def log_scalars(self, values: dict[str, float], step: int, mode: str) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"{name}/{mode}", value, step)

    def log_histograms(self, model: nn.Module, step: int) -> None:
        for name, parameter in model.named_parameters():
            self.writer.add_histogram(name, parameter.detach().cpu(), step, bins="auto")

    def log_picture(self, tag: str, pixels: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def log_config(self, config: dict[str, Any]) -> None:
        self.writer.add_text("config", f"```json\n{json.dumps(config, indent=2)}\n```")

    def close(self) -> None:
        self.writer.close()


def create_writer(config: Any) -> ExperimentWriter:
    return TensorboardWriter(str(config.log_dir))
