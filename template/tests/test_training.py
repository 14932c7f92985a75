"""End-to-end training on synthetic MNIST files: run folders, checkpoints, resume, monitoring."""

import json
import logging
import re
import sys
from pathlib import Path

import matplotlib.image
import pytest
import torch

import train
import trainer
from model.metric import per_class
from parse_config import ConfigParser
from tests.conftest import epoch_results, overrides, run_dirs, run_script
from trainer import Trainer
from utils.util import InputError


def info_log(config: dict, run: Path) -> str:
    """The text of a run's info.log."""
    log_dir = Path(config["trainer"]["save_dir"]) / "log" / config["name"] / run.name
    return (log_dir / "info.log").read_text()


def train_in_process(config: dict, resume: Path | None = None) -> Path:
    """Run train.py's main on ``config``; return the run's checkpoint folder."""
    parsed = ConfigParser(json.loads(json.dumps(config)), resume)
    train.main(parsed)
    logging.shutdown()
    return parsed.save_dir


def test_run_folder_holds_checkpoints_config_and_log(base_config: dict):
    run = train_in_process(base_config)
    save_dir = Path(base_config["trainer"]["save_dir"])
    assert run.parent == save_dir / "models" / base_config["name"]
    names = {p.name for p in run.iterdir()}
    assert {
        "checkpoint-epoch1.pth",
        "checkpoint-epoch2.pth",
        "model_best.pth",
        "config.json",
    } <= names
    assert json.loads((run / "config.json").read_text()) == base_config
    assert sorted(epoch_results(base_config, run)) == [1, 2]


def test_checkpoint_is_plain_data(base_config: dict):
    run = train_in_process(base_config)
    state = torch.load(run / "checkpoint-epoch2.pth", weights_only=True)
    assert state["epoch"] == 2 and state["arch"] == base_config["arch"]["type"]
    assert state["config"] == base_config
    assert set(state) >= {"state_dict", "optimizer", "lr_scheduler", "monitor_best"}


def test_same_seed_gives_identical_weights(base_config: dict):
    first = torch.load(train_in_process(base_config) / "model_best.pth", weights_only=True)
    second = torch.load(train_in_process(base_config) / "model_best.pth", weights_only=True)
    for name, tensor in first["state_dict"].items():
        assert torch.equal(tensor, second["state_dict"][name]), name


def test_resume_continues_in_the_same_run_folder_exactly(base_config: dict):
    run = train_in_process(base_config)
    uninterrupted = torch.load(run / "checkpoint-epoch2.pth", weights_only=True)
    (run / "checkpoint-epoch2.pth").unlink()
    assert train_in_process(base_config, resume=run / "checkpoint-epoch1.pth") == run
    resumed = torch.load(run / "checkpoint-epoch2.pth", weights_only=True)
    for name, tensor in uninterrupted["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][name]), name
    assert len(run_dirs(Path(base_config["trainer"]["save_dir"]))) == 1
    assert "training resumes at epoch 2" in info_log(base_config, run)


def test_resume_with_a_longer_one_cycle_schedule_is_refused(base_config: dict):
    base_config["trainer"]["epochs"] = 1
    run = train_in_process(base_config)
    base_config["trainer"]["epochs"] = 3
    with pytest.raises(InputError, match="OneCycleLR schedule lasts .* trainer.epochs=3 needs"):
        train_in_process(base_config, resume=run / "checkpoint-epoch1.pth")


def test_best_model_is_saved_whenever_the_monitor_improves(base_config: dict):
    base_config["trainer"].update(epochs=3, save_period=5, monitor="max epoch")
    run = train_in_process(base_config)
    assert [p.name for p in run.glob("*.pth")] == ["model_best.pth"]
    assert torch.load(run / "model_best.pth", weights_only=True)["epoch"] == 3


def test_monitoring_a_value_never_logged_names_the_choices(base_config: dict):
    base_config["trainer"].update(monitor="max val_acc")
    with pytest.raises(
        InputError, match=r"trainer\.monitor: 'val_acc' is never logged; choose one of"
    ):
        train_in_process(base_config)


def test_negative_figure_period_names_the_key(base_config: dict):
    base_config["trainer"]["figure_period"] = -1
    with pytest.raises(InputError, match=r"trainer\.figure_period: must be an integer >= 0"):
        train_in_process(base_config)


def test_save_period_and_monitor_off(base_config: dict):
    base_config["trainer"].update(epochs=3, save_period=2, monitor="off")
    run = train_in_process(base_config)
    assert sorted(p.name for p in run.glob("*.pth")) == ["checkpoint-epoch2.pth"]


def test_early_stop_when_the_monitor_stops_improving(base_config: dict):
    # the epoch number is logged like any value, and its minimum never improves after epoch 1
    # (a model that does not learn would still move its BatchNorm statistics)
    base_config["trainer"].update(epochs=5, monitor="min epoch", early_stop=2)
    run = train_in_process(base_config)
    epochs = sorted(int(p.stem.split("epoch")[1]) for p in run.glob("checkpoint-epoch*.pth"))
    assert epochs == [1, 2, 3]
    assert "didn't improve for 2 epochs" in info_log(base_config, run)
    assert torch.load(run / "model_best.pth", weights_only=True)["epoch"] == 1


def test_test_py_writes_metrics_and_figures_beside_the_checkpoint(tested_run):
    run, metrics, output = tested_run
    config = json.loads((run / "config.json").read_text())
    assert set(metrics) == {"loss", "class_names", *config["metrics"], *per_class(["a"])}
    assert re.search(rf"    loss +: {re.escape(str(metrics['loss']))}\n", output)
    figures = sorted(run.glob("test_*.png"))
    assert figures, "test.py saved no figure"
    for path in figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        height, width, _ = matplotlib.image.imread(path).shape
        assert min(height, width) >= 100 and max(height, width) >= 200, path  # a real picture
        assert f"Saved figure: {path}" in output


def test_cli_flags_overrides_and_progress_lines(base_config: dict):
    args = [o for o in overrides(base_config) if "batch_size" not in o]
    result = run_script("train.py", *args, "--lr", "0.002", "--bs", "64", "trainer.epochs=1")
    assert result.returncode == 0, result.stderr
    assert "Train epoch 1 [0/" in result.stdout  # not a terminal: plain progress lines
    assert "findfont" not in result.stdout  # verbosity 2 shows our debug lines, not matplotlib's
    (run,) = run_dirs(Path(base_config["trainer"]["save_dir"]))
    saved = json.loads((run / "config.json").read_text())
    assert saved["optimizer"]["args"]["lr"] == 0.002
    assert saved["data_loader"]["args"]["batch_size"] == 64
    assert saved["trainer"]["epochs"] == 1


def test_unknown_override_fails_cleanly_and_creates_nothing(base_config: dict):
    result = run_script("train.py", *overrides(base_config), "trainer.epoch=1")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown config key trainer.epoch; did you mean trainer.epochs? "
        "(to add a new key, write +trainer.epoch=1)"
    )
    assert not Path(base_config["trainer"]["save_dir"]).exists()


def test_progress_bar_on_a_terminal(base_config: dict, monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    base_config["trainer"]["epochs"] = 1
    train_in_process(base_config)
    assert "epoch 1: 100%" in capsys.readouterr().err


class ExtraLogTrainer(Trainer):
    """Adds a value to every epoch's results, as users do with ``log.update(...)``."""

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        log = super()._train_epoch(epoch)
        log.update(weight_norm=sum(p.norm().item() for p in self.model.parameters()))
        return log


def test_len_epoch_and_extra_logged_values(base_config: dict, monkeypatch):
    monkeypatch.setattr(trainer, "Trainer", ExtraLogTrainer)
    base_config["trainer"].update(len_epoch=3, monitor="min weight_norm")
    run = train_in_process(base_config)
    state = torch.load(run / "checkpoint-epoch2.pth", weights_only=True)
    assert state["optimizer"]["state"][0]["step"] == 6  # 2 epochs of 3 batches each
    assert all("weight_norm" in values for values in epoch_results(base_config, run).values())
    assert torch.load(run / "model_best.pth", weights_only=True)["monitor_best"] > 0


def test_lr_scheduler_null_trains_at_the_configured_rate(base_config: dict):
    base_config["lr_scheduler"] = None
    run = train_in_process(base_config)
    state = torch.load(run / "checkpoint-epoch2.pth", weights_only=True)
    assert state["lr_scheduler"] is None
    assert state["optimizer"]["param_groups"][0]["lr"] == base_config["optimizer"]["args"]["lr"]
