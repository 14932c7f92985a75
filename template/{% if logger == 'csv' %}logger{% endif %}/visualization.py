"""Epoch results in metrics.csv, a file that any spreadsheet, pandas or the csv module reads;
input images and figures in PNG files beside it."""

import csv
import os
from pathlib import Path
from typing import Any

from logger.png import PngWriter
from logger.writer import ExperimentWriter
from utils.util import InputError

FILENAME = "metrics.csv"


class CsvWriter(PngWriter):
    """One row per epoch (``epoch``, ``loss``, ..., ``val_loss``, ...: the console log's names).
    Rewritten whole (a temporary file, renamed) at each epoch, so its header holds every column
    and a crash never leaves half a file; a resumed run reads it back and goes on."""

    def __init__(self, log_dir: Path):
        super().__init__(log_dir)
        self.path = Path(log_dir) / FILENAME
        self.rows = read_rows(self.path)

    def log_scalars(self, values: dict[str, float], step: int, mode: str) -> None:
        if mode not in ("train", "valid"):  # per-batch values: one row per epoch only
            return
        prefix = "val_" if mode == "valid" else ""
        row = self.rows.setdefault(step, {"epoch": step})
        row.update({prefix + name: value for name, value in values.items()})
        self._write()

    def _write(self) -> None:
        columns = list(dict.fromkeys(key for row in self.rows.values() for key in row))
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows[epoch] for epoch in sorted(self.rows))
        os.replace(tmp, self.path)


def read_rows(path: Path) -> dict[int, dict[str, Any]]:
    """The rows of an existing metrics.csv by epoch (a resumed run), else none."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    try:
        return {int(row["epoch"]): {k: v for k, v in row.items() if k is not None} for row in rows}
    except (KeyError, TypeError, ValueError):
        what = "not a metrics file written by train.py (needs an integer 'epoch' column)"
        raise InputError(f"{path}: {what}; move it away to start a new one") from None


def create_writer(config: Any) -> ExperimentWriter:
    return CsvWriter(config.log_dir)
