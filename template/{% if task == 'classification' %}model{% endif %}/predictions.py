"""What predict.py writes for a classifier: a row of predictions.csv per file."""

from pathlib import Path
from typing import Any

import torch

from model.metric import NUM_CLASSES

TASK = "classification"
TOP_K = 5  # classes per row: the predicted one, then the next most likely


class PredictionWriter:
    """Rows of ``file, label, probability``, then ``label_2, probability_2``... up to TOP_K."""

    def __init__(self, folder: Path, class_names: list[str] | None, preprocessing: dict[str, Any]):
        self.class_names = class_names or [str(c) for c in range(NUM_CLASSES)]  # older checkpoints
        ranks = range(2, min(TOP_K, len(self.class_names)) + 1)
        self.header = ["file", "label", "probability"]
        self.header += [f"{column}_{k}" for k in ranks for column in ("label", "probability")]

    def rows(self, names: list[str], inputs: torch.Tensor, outputs: torch.Tensor) -> list[list]:
        top = outputs.float().softmax(1).topk(min(TOP_K, outputs.shape[1]))
        cells = [
            [v for c, p in zip(*row, strict=True) for v in (self.class_names[c], f"{p:.6f}")]
            for row in zip(top.indices.tolist(), top.values.tolist(), strict=True)
        ]
        return [[name, *row] for name, row in zip(names, cells, strict=True)]
