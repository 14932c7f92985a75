"""What predict.py writes for a regression model: a row of predictions.csv per file."""

from pathlib import Path
from typing import Any

import torch

TASK = "regression"


class PredictionWriter:
    """Rows of ``file`` and the predicted value of each target."""

    def __init__(self, folder: Path, class_names: list[str] | None, preprocessing: dict[str, Any]):
        self.header = ["file", *(class_names or ["value"])]  # no names: an older checkpoint

    def rows(self, names: list[str], inputs: torch.Tensor, outputs: torch.Tensor) -> list[list]:
        values = outputs.float().reshape(len(names), -1).tolist()
        return [[name, *row] for name, row in zip(names, values, strict=True)]
