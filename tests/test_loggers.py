"""Every logger backend on the real MNIST: 2 short epochs, then a resumed 3rd, read back with the
backend's own reader and compared with the values the console printed; the pictures too (the
input grid every epoch, the task's figures after the last epoch of each start)."""

import csv
import json
import re
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import python

pytestmark = pytest.mark.slow  # each test trains and resumes

# short epochs (20 batches, 1000 validation images) and a schedule that a resume may extend
LEN_EPOCH = 20
SHORT_RUN = [
    "n_gpu=0",
    "trainer.epochs=2",
    f"trainer.len_epoch={LEN_EPOCH}",
    "data_loader.args.validation_split=1000",
    "lr_scheduler.type=StepLR",
    "lr_scheduler.interval=epoch",
    'lr_scheduler.args={"step_size": 1}',
]
EPOCHS = [1, 2, 3]
EPOCH_LINE = re.compile(r"^    (\w+) +: (\S+)$", re.M)
STEP_LINE = re.compile(r"^Train epoch (\d+) \[(\d+)/(\d+) +\d+%\] loss (\S+)$", re.M)


@dataclass
class Trained:
    """A project trained for 2 epochs and resumed for a 3rd, with what its console printed."""

    save_dir: Path
    run: Path  # checkpoint folder
    log_dir: Path
    metrics: list[str]
    epochs: dict[int, dict[str, float]]  # {epoch: {key: value}} from the `    key : value` lines
    steps: dict[int, float]  # {global step: training loss} from the progress lines
    seconds: float

    def expected(self) -> dict[str, dict[int, float]]:
        """``{'train/loss': {1: ..., 2: ..., 3: ...}, 'valid/accuracy': {...}, ...}``."""
        values = {}
        for name in ["loss", *self.metrics]:
            values[f"train/{name}"] = {e: self.epochs[e][name] for e in EPOCHS}
            values[f"valid/{name}"] = {e: self.epochs[e][f"val_{name}"] for e in EPOCHS}
        return values


def offline_env(tmp_path: Path) -> dict[str, str]:
    """Nothing leaves the machine: W&B offline, MLflow without usage reports."""
    return {
        "WANDB_MODE": "offline",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


def train_and_resume(copie, logger: str, mnist_data: Path, tmp_path: Path) -> Trained:
    result = copie.copy(extra_answers={"logger": logger, "n_gpu": 0})
    assert result.exit_code == 0, result.exception
    project, save_dir = result.project_dir, tmp_path / "saved"
    env = offline_env(tmp_path)
    start = time.perf_counter()
    first = python(
        "train.py",
        f"trainer.save_dir={save_dir}",
        f"data_loader.args.data_dir={mnist_data}",
        *SHORT_RUN,
        cwd=project,
        env=env,
    )
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    (run,) = (save_dir / "models").glob("*/*")
    resumed = python("train.py", "-r", str(run), "trainer.epochs=3", cwd=project, env=env)
    seconds = time.perf_counter() - start
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "training resumes at epoch 3" in resumed.stdout
    assert [p for p in (save_dir / "models").glob("*/*")] == [run]  # no second run folder
    config = json.loads((run / "config.json").read_text())
    epochs: dict[int, dict[str, float]] = {}
    steps: dict[int, float] = {}
    for output in (first.stdout, resumed.stdout):
        for key, value in EPOCH_LINE.findall(output):
            if key == "epoch":
                current = epochs.setdefault(int(value), {})
            else:
                current[key] = float(value)
        for epoch, batch, total, loss in STEP_LINE.findall(output):
            steps[(int(epoch) - 1) * int(total) + int(batch)] = float(loss)
    assert sorted(epochs) == EPOCHS and steps
    log_dir = save_dir / "log" / run.parent.name / run.name
    return Trained(save_dir, run, log_dir, config["metrics"], epochs, steps, seconds)


def assert_steps_match(logged: dict[int, float], printed: dict[int, float]) -> None:
    """Per-step losses: every printed one is logged (the console rounds to 6 decimals)."""
    assert max(printed) >= 2 * LEN_EPOCH  # the resumed 3rd epoch printed some
    assert set(printed) <= set(logged)
    for step, loss in printed.items():
        assert logged[step] == pytest.approx(loss, abs=5e-7, rel=1e-6), step


def assert_pictures(drawn: dict[str, list[int]]) -> None:
    """``drawn``: the epochs of each picture tag. Figures come every figure_period (5) epochs and
    after the last one: epoch 2 ends the first start, epoch 3 the resumed one."""
    assert sorted(drawn.pop("valid/input")) == EPOCHS
    assert drawn, "no figure"
    for tag, epochs in drawn.items():
        assert tag.startswith("valid/") and sorted(epochs) == [2, 3], tag


def png_files(folder: Path) -> dict[str, list[int]]:
    """The epochs of each tag in a folder of ``TAG/epochN.png`` files."""
    drawn: dict[str, list[int]] = {}
    for path in folder.rglob("epoch*.png"):
        tag = str(path.parent.relative_to(folder))
        drawn.setdefault(tag, []).append(int(path.stem.removeprefix("epoch")))
    return drawn


def test_tensorboard(copie, mnist_data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trained = train_and_resume(copie, "tensorboard", mnist_data, tmp_path)
    assert [p.name for p in trained.log_dir.parent.iterdir()] == [trained.run.name]
    events = EventAccumulator(str(trained.log_dir), size_guidance={"scalars": 0}).Reload()
    assert len(list(trained.log_dir.glob("events.out.tfevents.*"))) == 2  # first run, resume
    for key, values in trained.expected().items():
        mode, name = key.split("/")
        logged = {e.step: e.value for e in events.Scalars(f"{name}/{mode}")}
        assert logged == {e: float(np.float32(v)) for e, v in values.items()}, key  # float32
    logged_steps = {e.step: e.value for e in events.Scalars("loss/train_step")}
    assert_steps_match(logged_steps, trained.steps)
    assert_pictures({tag: [e.step for e in events.Images(tag)] for tag in events.Tags()["images"]})
    print(f"\ntensorboard: train + resume {trained.seconds:.1f} s")


def test_csv(copie, mnist_data, tmp_path):
    trained = train_and_resume(copie, "csv", mnist_data, tmp_path)
    with (trained.log_dir / "metrics.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = {int(row["epoch"]): row for row in reader}
    assert sorted(rows) == EPOCHS
    for epoch in EPOCHS:  # the same columns, and the same values, as the console
        assert {k: float(v) for k, v in rows[epoch].items() if k != "epoch"} == (
            trained.epochs[epoch]
        )
    assert reader.fieldnames[0] == "epoch"
    assert_pictures(png_files(trained.log_dir / "images"))
    print(f"\ncsv: train + resume {trained.seconds:.1f} s")


def test_wandb(copie, mnist_data, tmp_path):
    trained = train_and_resume(copie, "wandb", mnist_data, tmp_path)
    files = sorted(trained.log_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 2  # the first run and its resumption, which wandb sync joins
    parts = [list(wandb_records(path)) for path in files]
    run_ids = {record.run.run_id for part in parts for record in part if record.HasField("run")}
    assert run_ids == {(trained.log_dir / "wandb-run-id.txt").read_text().strip()}

    by_epoch: dict[str, dict[int, float]] = {}
    by_step: dict[int, float] = {}
    pictures: dict[str, list[int]] = {}
    for path, part in zip(files, parts, strict=True):
        for record in part:
            if not record.HasField("history"):
                continue
            values = history_row(record)
            if "global_step" in values:
                by_step[values["global_step"]] = values["train_step/loss"]
            if "epoch" in values:
                for key, value in values.items():
                    by_epoch.setdefault(key, {})[values["epoch"]] = value
                    if isinstance(value, dict) and value.get("_type") == "image-file":
                        assert (path.parent / "files" / value["path"]).is_file(), value
                        pictures.setdefault(key, []).append(values["epoch"])
    for key, values in trained.expected().items():
        assert by_epoch[key] == values, key
    assert_steps_match(by_step, trained.steps)
    assert sorted(by_epoch["parameters/classifier.weight"]) == EPOCHS  # histograms
    assert_pictures(pictures)

    config = {}  # the run config: the resumed part holds the latest values
    for record in parts[-1]:
        updates = record.run.config.update if record.HasField("run") else record.config.update
        config.update({update.key: json.loads(update.value_json) for update in updates})
    assert config["trainer"]["epochs"] == 3 and config["metrics"] == trained.metrics
    print(f"\nwandb: train + resume {trained.seconds:.1f} s")


def test_mlflow(copie, mnist_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # read when mlflow is imported
    from mlflow import MlflowClient

    trained = train_and_resume(copie, "mlflow", mnist_data, tmp_path)
    client = MlflowClient(f"sqlite:///{trained.save_dir / 'mlflow' / 'mlflow.db'}")
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == (trained.log_dir / "mlflow-run-id.txt").read_text().strip()
    assert run.info.status == "FINISHED" and run.info.run_name == trained.run.name
    for key, values in trained.expected().items():
        assert {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)} == (
            values
        ), key
    logged_steps = client.get_metric_history(run.info.run_id, "train_step/loss")
    assert_steps_match({m.step: m.value for m in logged_steps}, trained.steps)
    assert run.data.params["optimizer.type"] == "AdamW"
    assert run.data.params["lr_scheduler.args.step_size"] == "1"
    best = client.download_artifacts(run.info.run_id, "checkpoints/model_best.pth", str(tmp_path))
    assert Path(best).read_bytes() == (trained.run / "model_best.pth").read_bytes()
    images = Path(client.download_artifacts(run.info.run_id, "images", str(tmp_path)))
    assert_pictures(png_files(images))
    print(f"\nmlflow: train + resume {trained.seconds:.1f} s")


def test_none(copie, mnist_data, tmp_path):
    trained = train_and_resume(copie, "none", mnist_data, tmp_path)
    assert sorted(p.name for p in trained.log_dir.iterdir()) == ["images", "info.log"]
    assert_pictures(png_files(trained.log_dir / "images"))
    logged = (trained.log_dir / "info.log").read_text()
    for epoch, values in trained.epochs.items():
        assert f"INFO -     epoch          : {epoch}\n" in logged
        for key, value in values.items():
            assert f"INFO -     {key:15s}: {value}\n" in logged
    print(f"\nnone: train + resume {trained.seconds:.1f} s")


# W&B keeps no reader of its offline files in its Python package; the format is a LevelDB-style
# log (32 KiB blocks of chunks, each with a CRC-32 of type and data) of wandb's protobuf records.
WANDB_BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path) -> Iterator:
    """The records (wandb.proto.wandb_internal_pb2.Record) of a .wandb file, checksums verified."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a .wandb file"
    position, chunks = 7, b""
    while position + 7 <= len(data):
        if WANDB_BLOCK - position % WANDB_BLOCK < 7:  # too short for a header: padding
            position += WANDB_BLOCK - position % WANDB_BLOCK
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
