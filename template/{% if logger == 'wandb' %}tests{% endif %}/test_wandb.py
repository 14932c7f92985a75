"""W&B offline runs, read back from their .wandb files: one W&B run across a resumed run."""

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import wandb
from wandb.proto import wandb_internal_pb2

from tests.conftest import epoch_results, log_dir
from tests.test_training import train_in_process
from utils.util import InputError

STEP_LR = {"type": "StepLR", "interval": "epoch", "warmup_steps": 0, "args": {"step_size": 1}}
BLOCK = 32768  # .wandb files are a LevelDB-style log: 32 KiB blocks of checksummed chunks
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    """The protobuf records of a .wandb file, checksums verified."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a .wandb file"
    position, chunks = 7, b""
    while position + 7 <= len(data):
        if BLOCK - position % BLOCK < 7:  # the rest of a block too short for a header: padding
            position += BLOCK - position % BLOCK
            continue
        checksum, length, kind = struct.unpack("<IHB", data[position : position + 7])
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind == 0:  # zeros at the end of a block
            continue
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) == checksum, f"corrupt {path}"
        chunks = chunk if kind in (FULL, FIRST) else chunks + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            yield record


def history_row(record: Any) -> dict[str, Any]:
    """A history record as a dict; images and histograms become dicts of their fields."""
    row: dict[str, Any] = {}
    for item in record.history.item:
        *parents, last = item.nested_key or [item.key]
        node = row
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = json.loads(item.value_json)
    return row


def offline_runs(folder: Path) -> list[list[wandb_internal_pb2.Record]]:
    """The records of each offline W&B run in a log folder, oldest first."""
    files = sorted(folder.glob("wandb/offline-run-*/run-*.wandb"))
    return [list(wandb_records(path)) for path in files]


def test_epochs_config_pictures_and_histograms_in_one_run_across_a_resume(base_config: dict):
    base_config["wandb"]["mode"] = "offline"
    base_config["lr_scheduler"] = STEP_LR
    run = train_in_process(base_config)
    base_config["trainer"]["epochs"] = 3
    train_in_process(base_config, resume=run / "checkpoint-epoch2.pth")
    folder = log_dir(base_config, run)
    parts = offline_runs(folder)
    assert len(parts) == 2  # the first run and its resumption, synced into one W&B run
    run_ids = {r.run.run_id for part in parts for r in part if r.HasField("run")}
    assert run_ids == {(folder / "wandb-run-id.txt").read_text().strip()}

    logged: dict[int, dict[str, Any]] = {}
    keys = set()
    for part in parts:
        for record in part:
            if record.HasField("history"):
                row = history_row(record)
                keys |= set(row)
                if "epoch" in row:
                    logged.setdefault(row["epoch"], {}).update(row)
    names = ["loss", *base_config["metrics"]]
    for epoch, printed in epoch_results(base_config, run).items():
        for name in names:
            assert logged[epoch][f"train/{name}"] == printed[name]
            assert logged[epoch][f"valid/{name}"] == printed[f"val_{name}"]
    assert sorted(logged) == [1, 2, 3]
    assert {"train_step/loss", "global_step", "valid/input"} <= keys
    weights = torch.load(run / "model_best.pth", weights_only=True)["state_dict"]
    histograms = {key.removeprefix("parameters/") for key in keys if key.startswith("parameters/")}
    assert histograms and histograms <= set(weights)
    # pictures: the input grid every epoch, figures after each start's last epoch (period 5)
    drawn: dict[str, list[int]] = {}
    for epoch in sorted(logged):
        for key, value in logged[epoch].items():
            if isinstance(value, dict) and value.get("_type") == "image-file":
                drawn.setdefault(key, []).append(epoch)
    assert drawn.pop("valid/input") == [1, 2, 3]
    assert drawn and all(epochs == [2, 3] for epochs in drawn.values()), drawn

    config = {}
    for record in parts[-1]:
        updates = record.run.config.update if record.HasField("run") else record.config.update
        config.update({u.key: json.loads(u.value_json) for u in updates})
    assert config["trainer"]["epochs"] == 3 and config["optimizer"] == base_config["optimizer"]


def test_a_wrong_mode_names_the_key(base_config: dict):
    base_config["wandb"]["mode"] = "sometimes"
    with pytest.raises(InputError, match=r"wandb\.mode: expected one of online, offline, disabled"):
        train_in_process(base_config)


def test_disabled_mode_records_nothing(base_config: dict):
    assert base_config["wandb"]["mode"] == "disabled"  # as in the other tests' runs
    base_config["trainer"]["epochs"] = 1
    run = train_in_process(base_config)
    assert sorted(p.name for p in log_dir(base_config, run).iterdir()) == ["info.log"]


def test_no_login_is_a_one_line_error_that_suggests_offline(base_config: dict, monkeypatch):
    def init(**kwargs):  # what wandb.init raises online without an API key
        raise wandb.errors.UsageError("No API key configured. Use `wandb login` to log in.")

    monkeypatch.setattr(wandb, "setup", lambda settings: None)  # keep this process offline
    monkeypatch.setattr(wandb, "init", init)
    base_config["wandb"]["mode"] = "online"
    with pytest.raises(InputError) as raised:
        train_in_process(base_config)
    assert str(raised.value) == (
        "wandb: No API key configured. Use `wandb login` to log in; "
        "to log without an account, set wandb.mode=offline"
    )
