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
    """One row per epoch in the run's log folder, with the column names of the console log.

    Columns: ``epoch``, the train values (``loss``, ``accuracy``, ...) and the validation values
    with the ``val_`` prefix. The whole file is rewritten (to a temporary file, then renamed)
    whenever an epoch's values arrive, so its header is always the union of all columns and a
    crash never leaves half a file. A resumed run reads the file back and goes on with it.
    """

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
        raise InputError(
            f"{path}: not a metrics file written by train.py (needs an integer 'epoch' column); "
            "move it away to start a new one"
        ) from None


def create_writer(config: Any) -> ExperimentWriter:
    """A CSV writer for the run's log folder."""
    return CsvWriter(config.log_dir)
