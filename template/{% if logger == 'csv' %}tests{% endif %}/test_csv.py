"""metrics.csv, read back with the csv module: one row per epoch, across a resumed run."""

import csv
from pathlib import Path

import pytest

from logger.visualization import CsvWriter
from tests.conftest import epoch_results, log_dir
from tests.test_training import train_in_process
from utils.util import InputError

STEP_LR = {"type": "StepLR", "interval": "epoch", "warmup_steps": 0, "args": {"step_size": 1}}


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_one_row_per_epoch_with_the_printed_values_across_a_resume(base_config: dict):
    base_config["lr_scheduler"] = STEP_LR
    run = train_in_process(base_config)
    base_config["trainer"]["epochs"] = 3
    train_in_process(base_config, resume=run / "checkpoint-epoch2.pth")
    header, rows = read_csv(log_dir(base_config, run) / "metrics.csv")
    names = ["loss", *base_config["metrics"]]
    assert header == ["epoch", *names, *(f"val_{name}" for name in names)]
    printed = epoch_results(base_config, run)
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3] == sorted(printed)
    for row in rows:
        values = printed[int(row["epoch"])]
        assert {key: float(row[key]) for key in header[1:]} == values


def test_header_grows_when_a_new_value_appears(tmp_path: Path):
    path = tmp_path / "metrics.csv"
    writer = CsvWriter(tmp_path)
    writer.log_scalars({"loss": 0.5}, 1, "train")
    writer.log_scalars({"loss": 0.25}, 10, "train_step")  # per batch: not a row
    writer.log_scalars({"loss": 0.75}, 1, "valid")
    writer.log_scalars({"loss": 0.125, "lr": 0.01}, 2, "train")
    assert read_csv(path) == (
        ["epoch", "loss", "val_loss", "lr"],
        [
            {"epoch": "1", "loss": "0.5", "val_loss": "0.75", "lr": ""},
            {"epoch": "2", "loss": "0.125", "val_loss": "", "lr": "0.01"},
        ],
    )
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary file left

    resumed = CsvWriter(tmp_path)  # a resumed run reads the file back and rewrites epoch 2
    resumed.log_scalars({"loss": 0.0625}, 2, "train")
    resumed.log_scalars({"loss": 0.03125, "top_k_acc": 1.0}, 3, "valid")
    header, rows = read_csv(path)
    assert header == ["epoch", "loss", "val_loss", "lr", "val_top_k_acc"]
    assert [(row["epoch"], row["loss"], row["val_loss"]) for row in rows] == [
        ("1", "0.5", "0.75"),
        ("2", "0.0625", ""),
        ("3", "", "0.03125"),
    ]


def test_a_file_without_epochs_is_refused_by_name(tmp_path: Path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n1,0.5\n")
    with pytest.raises(InputError, match=r"metrics\.csv: not a metrics file written by train\.py"):
        CsvWriter(tmp_path)
