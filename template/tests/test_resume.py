"""Exact resume after an epoch and after SIGINT/SIGTERM inside one; checkpoint housekeeping."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train
import trainer
from base import base_data_loader
from tests.conftest import PROJECT, overrides, run_dirs


def cli(config: dict, *args: str) -> int:
    """Run ``train.py`` in this process on ``config`` plus ``args``; return its exit code."""
    path = Path(config["trainer"]["save_dir"]).parent / "config.json"
    path.write_text(json.dumps(config))
    try:
        train.cli(["-c", str(path), *args])
    except SystemExit as done:
        return done.code
    return 0


def resume_cli(checkpoint: Path, *args: str) -> int:
    try:
        train.cli(["-r", str(checkpoint), *args])
    except SystemExit as done:
        return done.code
    return 0


def epoch_results(run: Path) -> list[str]:
    """The ``    key : value`` lines of every epoch, as the run's info.log has them."""
    log = run.parents[2] / "log" / run.parent.name / run.name / "info.log"  # save_dir/log/NAME/ID
    return re.findall(r"- INFO - (    \w+\s+: .*)", log.read_text())


def weights(path: Path, key: str = "state_dict") -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)[key]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.fixture
def recorded_batches(monkeypatch) -> list[list[int]]:
    """Every training batch's sample indices, in the order the trainer consumed them."""
    seen: list[list[int]] = []
    original = base_data_loader.EpochBatchSampler.__iter__

    def record(self):
        for batch in original(self):
            if self.shuffle:
                seen.append(batch.tolist())
            yield batch

    monkeypatch.setattr(base_data_loader.EpochBatchSampler, "__iter__", record)
    return seen


def whole_and_resumed(config: dict, split_dir: Path, epochs: int) -> tuple[Path, Path]:
    """The run folders of ``config`` trained for ``epochs`` at once, and for 1 epoch (in
    ``split_dir``) then resumed to ``epochs``; on an epoch schedule, whose length does not
    depend on trainer.epochs (OneCycleLR's does)."""
    config["lr_scheduler"] = {
        "type": "StepLR",
        "interval": "epoch",
        "warmup_steps": 0,
        "args": {"step_size": 1, "gamma": 0.5},
    }
    config["trainer"]["epochs"] = epochs
    assert cli(config) == 0
    (whole,) = run_dirs(Path(config["trainer"]["save_dir"]))
    config["trainer"].update(epochs=1, save_dir=str(split_dir))
    assert cli(config) == 0
    (split,) = run_dirs(split_dir)
    assert resume_cli(split / "checkpoint-epoch1.pth", f"trainer.epochs={epochs}") == 0
    return whole, split


def test_resume_after_an_epoch_equals_one_run(base_config: dict, tmp_path: Path):
    whole, split = whole_and_resumed(base_config, tmp_path / "split", 3)
    assert_same_weights(
        weights(whole / "checkpoint-epoch3.pth"), weights(split / "checkpoint-epoch3.pth")
    )
    assert epoch_results(split) == epoch_results(whole)


CONTROLS = {  # EMA, warm-up and a plateau schedule: their state is resumed exactly too
    "trainer": {"ema_decay": 0.9},
    "lr_scheduler": {
        "type": "ReduceLROnPlateau",
        "interval": "epoch",
        "warmup_steps": 30,
        "args": {"patience": 0},
    },
}


@pytest.mark.parametrize("controls", [False, True], ids=["default", "ema-warmup-plateau"])
def test_sigint_inside_an_epoch_saves_and_resumes_without_skipping(
    base_config: dict, tmp_path: Path, recorded_batches, monkeypatch, capsys, controls
):
    if controls:
        base_config["trainer"].update(CONTROLS["trainer"])
        base_config["lr_scheduler"] = CONTROLS["lr_scheduler"]
    assert cli(base_config) == 0
    (whole,) = run_dirs(Path(base_config["trainer"]["save_dir"]))
    uninterrupted = list(recorded_batches)
    recorded_batches.clear()

    steps = {"n": 0}
    original_init = trainer.Trainer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        loss = self.criterion

        def interrupting_loss(output, target):
            steps["n"] += torch.is_grad_enabled()  # training steps only, not validation
            if steps["n"] == len(self.data_loader) + 5:  # 5th batch of epoch 2
                signal.raise_signal(signal.SIGINT)
            return loss(output, target)

        self.criterion = interrupting_loss

    monkeypatch.setattr(trainer.Trainer, "__init__", init)
    base_config["trainer"]["save_dir"] = str(tmp_path / "split")
    assert cli(base_config) == 128 + signal.SIGINT
    (split,) = run_dirs(tmp_path / "split")
    checkpoint = split / "checkpoint-epoch2-batch5.pth"
    out = capsys.readouterr().out
    assert f"SIGINT: training stopped in epoch 2 after batch 5; saved {checkpoint}" in out
    assert f"resume with: python train.py -r {checkpoint}" in out
    assert torch.load(checkpoint, weights_only=True)["batch"] == 5

    monkeypatch.setattr(trainer.Trainer, "__init__", original_init)
    assert resume_cli(split) == 0  # the run folder: its newest checkpoint is the interrupted one
    if base_config["data_loader"]["args"]["num_workers"] == 0:  # workers fetch batches ahead
        assert recorded_batches == uninterrupted  # no batch skipped, none seen twice, same order
    for key in ("state_dict", "ema_state_dict") if controls else ("state_dict",):
        assert_same_weights(
            weights(whole / "checkpoint-epoch2.pth", key),
            weights(split / "checkpoint-epoch2.pth", key),
        )
    assert epoch_results(split) == epoch_results(whole)


def test_sigterm_from_outside_stops_with_a_checkpoint(base_config: dict):
    args = [*overrides(base_config), "trainer.epochs=1", "+trainer.len_epoch=100000"]
    process = subprocess.Popen(
        [sys.executable, "-u", "train.py", *args],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in process.stdout:
        if line.startswith("Train epoch 1 ["):
            process.send_signal(signal.SIGTERM)
            break
    output = process.stdout.read()
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    match = re.search(
        r"SIGTERM: training stopped in epoch 1 after batch (\d+); saved (\S+);", output
    )
    assert match, output
    assert torch.load(match.group(2), weights_only=True)["batch"] == int(match.group(1))


def test_keep_last_bounds_periodic_checkpoints(base_config: dict):
    base_config["trainer"].update(epochs=4, keep_last=2, monitor="max epoch")
    assert cli(base_config) == 0
    (run,) = run_dirs(Path(base_config["trainer"]["save_dir"]))
    assert sorted(p.name for p in run.glob("*.pth")) == [
        "checkpoint-epoch3.pth",
        "checkpoint-epoch4.pth",
        "model_best.pth",
    ]


def test_checkpoint_writes_are_atomic(base_config: dict, monkeypatch):
    base_config["trainer"]["epochs"] = 1
    assert cli(base_config) == 0
    (run,) = run_dirs(Path(base_config["trainer"]["save_dir"]))
    before = (run / "model_best.pth").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    from utils.checkpoint import save_checkpoint

    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"epoch": 99}, run / "model_best.pth")
    assert (run / "model_best.pth").read_bytes() == before
