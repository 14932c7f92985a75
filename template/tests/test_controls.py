"""Everyday controls: debug runs, fine-tuning, warm-up, plateau schedule, EMA, profiling."""

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch.optim.optimizer import register_optimizer_step_pre_hook

import test as test_script
import trainer
from parse_config import ConfigParser
from tests.conftest import log_dir, run_dirs
from tests.test_bad_input import snapshot
from tests.test_resume import cli
from trainer import evaluate
from utils.checkpoint import evaluation_weights
from utils.metric_tracker import MetricTracker


def only_run(config: dict) -> Path:
    (run,) = run_dirs(Path(config["trainer"]["save_dir"]))
    return run


def checkpoint(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def test_fast_dev_run_leaves_saved_as_it_was_and_prints_timings(base_config, capsys):
    saved = Path(base_config["trainer"]["save_dir"])
    (saved / "models").mkdir(parents=True)
    (saved / "notes.txt").write_text("kept")
    before = snapshot(saved)
    assert cli(base_config, "--fast-dev-run") == 0
    out = capsys.readouterr().out
    assert snapshot(saved) == before  # no run, no log, no logger files
    stages = re.findall(r"fast-dev-run: (.+): \d+\.\d\d s", out)
    assert ["trained 2" in stages[0], "resumed" in stages[1], "2 test batches" in stages[2]] == [
        True
    ] * 3, stages
    assert re.search(r"fast-dev-run passed in \d+\.\d\d s; nothing was kept", out)
    assert "Loaded " in out and "training resumes at epoch 2" in out


def training_losses(monkeypatch) -> list[float]:
    """The loss of every training batch of the runs that follow."""
    losses: list[float] = []
    original_init = trainer.Trainer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        loss = self.criterion

        def recorded(output, target):
            value = loss(output, target)
            if torch.is_grad_enabled():  # training, not validation
                losses.append(value.item())
            return value

        self.criterion = recorded

    monkeypatch.setattr(trainer.Trainer, "__init__", init)
    return losses


def test_overfitting_one_batch_drives_its_loss_down(base_config, monkeypatch):
    losses = training_losses(monkeypatch)
    base_config["loss"]["args"] = {}  # no label smoothing: the loss can approach 0
    base_config["trainer"].update(epochs=5, len_epoch=20, monitor="off", figure_period=0)
    assert cli(base_config, "--overfit-batches", "1") == 0
    print(f"\noverfit loss, steps 1, 10, 20, ..., 100: {losses[0]:.3f} {losses[9::10]}")
    assert len(losses) == 100 and min(losses) < losses[0] / 10
    run = only_run(base_config)
    assert checkpoint(run / "checkpoint-epoch5.pth")["config"]["trainer"]["len_epoch"] == 20


def test_init_from_another_head_with_init_strict_false_and_freeze(base_config, capsys):
    base_config["trainer"]["epochs"] = 1
    assert cli(base_config) == 0
    pretrained = checkpoint(only_run(base_config) / "model_best.pth")
    weights = pretrained["state_dict"]
    head = [name for name in weights if weights[name].dim()][-2:]  # the last layer's weight, bias
    # a checkpoint of twice the outputs, e.g. a 20-class one for our 10 classes
    other = {k: torch.cat([v, v]) if k in head else v.contiguous() for k, v in weights.items()}
    path = Path(base_config["trainer"]["save_dir"]).parent / "other_head.safetensors"
    save_file(other, path)

    base_config["trainer"]["save_dir"] += "_tuned"
    assert cli(base_config, "--init-from", str(path)) == 2  # init_strict: a mismatch is an error
    body = sorted({name.split(".")[0] for name in weights} - {head[0].split(".")[0]})
    base_config["trainer"].update(init_strict=False, freeze=body)
    assert cli(base_config, "--init-from", str(path)) == 0
    out = capsys.readouterr().out
    assert f"skipped (another shape): {sorted(head)}; missing: []; unexpected: []" in out
    model = ConfigParser(base_config).init_model(pretrained["class_names"])
    frozen = sum(p.numel() for k, p in model.named_parameters() if k.split(".")[0] in body)
    assert f"Frozen: {frozen} parameters" in out
    tuned = checkpoint(only_run(base_config) / "checkpoint-epoch1.pth")["state_dict"]
    for name, value in tuned.items():  # the frozen body is the checkpoint's, the new head trained
        if name.split(".")[0] in body and value.is_floating_point() and "running" not in name:
            assert torch.equal(value, weights[name]), name
    assert not torch.equal(tuned[head[1]], weights[head[1]][: len(tuned[head[1]])])


def test_warmup_starts_small_and_reaches_the_scheduled_rate(base_config):
    rates: list[float] = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, *_: rates.append(optimizer.param_groups[0]["lr"])
    )
    lr = base_config["optimizer"]["args"]["lr"]
    base_config["lr_scheduler"] = {
        "type": "StepLR",
        "interval": "epoch",
        "warmup_steps": 9,
        "args": {"step_size": 100},
    }
    base_config["trainer"].update(epochs=1, len_epoch=12)
    try:
        assert cli(base_config) == 0
    finally:
        handle.remove()
    assert rates[0] == pytest.approx(lr / 10) and rates[8] == pytest.approx(lr * 9 / 10)
    assert rates[9:] == [lr] * len(rates[9:])
    state = checkpoint(only_run(base_config) / "checkpoint-epoch1.pth")
    assert state["optimizer"]["param_groups"][0]["lr"] == lr  # the schedule itself is untouched


class FlatTrainer(trainer.Trainer):
    """Logs a value that never improves, for the plateau schedule to watch."""

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        return {**super()._train_epoch(epoch), "flat": 1.0}


def test_plateau_lowers_the_rate_after_patience_flat_epochs(base_config, monkeypatch):
    monkeypatch.setattr(trainer, "Trainer", FlatTrainer)
    lr = base_config["optimizer"]["args"]["lr"]
    base_config["lr_scheduler"] = {
        "type": "ReduceLROnPlateau",
        "interval": "epoch",
        "warmup_steps": 0,
        "args": {"patience": 2, "factor": 0.5},
    }
    base_config["trainer"].update(epochs=5, monitor="min flat", len_epoch=2)
    assert cli(base_config) == 0
    run = only_run(base_config)
    rates = [
        checkpoint(run / f"checkpoint-epoch{e}.pth")["optimizer"]["param_groups"][0]["lr"]
        for e in range(1, 6)
    ]
    # epoch 1 sets the best; epochs 2 and 3 are flat (patience 2); the 3rd flat one lowers it
    assert rates == [lr, lr, lr, lr / 2, lr / 2]


def validation_score(state: dict, weights: dict, key: str) -> float:
    config = ConfigParser(state["config"])
    loader = config.init_obj("data_loader")
    model = config.init_model(loader.class_names)
    model.load_state_dict(weights)
    tracker = MetricTracker(config.init_metrics(len(loader.class_names)), prefix="val_")
    valid = loader.split_validation()
    return evaluate(model, valid, config.init_ftn("loss"), tracker)[key]


def test_ema_weights_are_validated_saved_as_best_and_tested(base_config, tmp_path):
    base_config["trainer"].update(ema_decay=0.9, monitor="min val_loss", len_epoch=5)
    assert cli(base_config) == 0
    best_path = only_run(base_config) / "model_best.pth"
    best = checkpoint(best_path)
    ema = evaluation_weights(best)
    assert ema.keys() == best["state_dict"].keys()
    assert any(not torch.equal(ema[k], best["state_dict"][k]) for k in ema)
    assert validation_score(best, ema, "val_loss") == best["monitor_best"]
    assert validation_score(best, best["state_dict"], "val_loss") != best["monitor_best"]

    raw_path = tmp_path / "raw.pth"  # the same checkpoint without its EMA
    torch.save({**best, "ema_state_dict": None}, raw_path)
    data = f"data_loader.args.data_dir={base_config['data_loader']['args']['data_dir']}"
    losses = []
    for path in (best_path, raw_path):
        test_script.cli(["-r", str(path), data])
        losses.append(json.loads((path.parent / "test_metrics.json").read_text())["loss"])
    assert losses[0] != losses[1]


def test_profile_writes_a_trace_and_prints_the_costliest_operators(base_config, capsys):
    assert cli(base_config, "--profile") == 0
    run = only_run(base_config)
    (trace,) = log_dir(base_config, run).glob("*.pt.trace.json")
    assert json.loads(trace.read_text())["traceEvents"]
    out = capsys.readouterr().out
    assert "Self CPU" in out and f"Trace (open it in Perfetto): {trace}" in out
    assert checkpoint(run / "checkpoint-epoch1.pth")["optimizer"]["state"][0]["step"] == 5


def test_detect_anomaly_names_the_operation_that_made_a_nan(base_config, monkeypatch):
    original_init = trainer.Trainer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        loss = self.criterion
        self.criterion = lambda output, target: loss(output, target) + (output.sum() * 0 - 1).sqrt()

    monkeypatch.setattr(trainer.Trainer, "__init__", init)
    with pytest.raises(RuntimeError, match="SqrtBackward0"):
        cli(base_config, "--detect-anomaly")
    assert cli(base_config) == 2  # without it: the NaN loss is caught later, unnamed
