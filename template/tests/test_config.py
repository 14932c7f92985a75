"""Config handling: overrides, custom flags, object construction and their error messages."""

import json
import os
from pathlib import Path

import pytest
import torch

import model.loss
import model.model
import train
from parse_config import ConfigParser, parse_override, set_by_path
from tests.conftest import PROJECT
from trainer.trainer import build_lr_scheduler
from utils.util import InputError, read_json


def test_override_values_parse_as_json_or_stay_strings():
    assert parse_override("optimizer.args.lr=3e-4") == ("optimizer.args.lr", 3e-4)
    assert parse_override("data_loader.args.shuffle=false") == ("data_loader.args.shuffle", False)
    assert parse_override('lr_scheduler.args={"step_size": 2}') == (
        "lr_scheduler.args",
        {"step_size": 2},
    )
    assert parse_override("trainer.save_dir=out/runs") == ("trainer.save_dir", "out/runs")
    with pytest.raises(InputError, match="write KEY.PATH=VALUE"):
        parse_override("trainer.epochs")


def test_set_by_path_changes_nested_values():
    config = {"trainer": {"epochs": 10, "lr": 0.1}, "name": "x"}
    set_by_path(config, "trainer.epochs", 3)
    set_by_path(config, "trainer.lr", 1)  # an integer where a float was is fine
    assert config == {"trainer": {"epochs": 3, "lr": 1}, "name": "x"}


def test_unknown_key_names_it_and_suggests_the_closest():
    config = {"trainer": {"epochs": 10}}
    with pytest.raises(
        InputError, match=r"unknown config key trainer\.epoch; did you mean trainer\.epochs\?"
    ):
        set_by_path(config, "trainer.epoch", 1)
    with pytest.raises(InputError, match=r"trainr; did you mean trainer\.epochs\?"):
        set_by_path(config, "trainr.epochs", 1)
    assert config == {"trainer": {"epochs": 10}}


def test_plus_prefix_adds_a_key():
    config = {"optimizer": {"args": {"lr": 0.1}}}
    set_by_path(config, "+optimizer.args.momentum", 0.9)
    assert config["optimizer"]["args"] == {"lr": 0.1, "momentum": 0.9}


def project_config(**changes) -> dict:
    """The project's config.json, with top-level ``changes``."""
    return {**json.loads((PROJECT / "config.json").read_text()), **changes}


def test_init_obj_builds_with_config_args_and_kwargs_win():
    optimizer = {"type": "SGD", "args": {"lr": 0.5, "momentum": 0.9}}
    config = ConfigParser(project_config(optimizer=optimizer))
    built = config.init_obj("optimizer", [torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    assert isinstance(built, torch.optim.SGD)
    assert built.defaults["lr"] == 0.1 and built.defaults["momentum"] == 0.9


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [(10, "ten", "int"), (10, 2.5, "int"), (True, 1, "bool"), ("a", 1, "str"), (0.1, "x", "float")],
)
def test_override_of_the_wrong_type_is_refused(old, new, expected):
    with pytest.raises(InputError, match=f"trainer.value: expected {expected} like"):
        set_by_path({"trainer": {"value": old}}, "trainer.value", new)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("trainer.grad_accum_steps", 0, "trainer.grad_accum_steps: must be an integer >= 1, got 0"),
        ("trainer.epochs", 2.5, "trainer.epochs: must be an integer >= 1, got 2.5"),
        ("trainer.len_epoch", 0, "trainer.len_epoch: must be an integer >= 1 or null, got 0"),
        ("trainer.amp", "fp8", "trainer.amp: must be one of off, bf16, fp16, got 'fp8'"),
        ("trainer.grad_clip", "high", "trainer.grad_clip: must be a number >= 0, got 'high'"),
        ("trainer.verbosity", True, "trainer.verbosity: must be one of 0, 1, 2, got True"),
        ("trainer.compile", 1, "trainer.compile: must be true or false, got 1"),
        ("trainer.figure_period", -1, "trainer.figure_period: must be an integer >= 0, got -1"),
        ("trainer.monitor", "maximum val_loss", "trainer.monitor: must be 'min METRIC', 'max"),
        ("n_gpu", -1, "n_gpu: must be an integer >= 0, got -1"),
        ("data_loader.args.batch_size", 0, "data_loader.args.batch_size: must be an integer >= 1"),
        (
            "data_loader.args.validation_split",
            1.5,
            "validation_split: must be a fraction in [0, 1)",
        ),
        ("lr_scheduler.interval", "batch", "lr_scheduler.interval: must be one of step, epoch"),
        ("lr_scheduler.type", "Cosine", "lr_scheduler.type: unknown 'Cosine'"),
        ("optimizer.args", [], "optimizer.args: must be an object of keyword arguments, got []"),
        ("optimizer", "Adam", "optimizer: must be an object with type and args, got 'Adam'"),
        ("arch.args", {"widht": 3}, "arch.args: got an unexpected keyword argument 'widht'"),
        ("metrics", "accuracy", "metrics: must be a list of metric names, got 'accuracy'"),
        ("trainer.freeze", ["ok", ""], "trainer.freeze[1]: must be a non-empty string, got ''"),
        ("data_loader.args.mean", [0.1, 0.2], "mean: must be a list of one value per channel"),
        (
            "data_loader.args.validation_split",
            [2, 2],
            "validation_split: needs i < K in [i, K], got [2, 2]",
        ),
        ("metrics", ["MulticlassAccuracy"], "metrics[0]: unknown 'MulticlassAccuracy'"),
        # built without complaint, then a ZeroDivisionError or TypeError at the first step
        (
            "lr_scheduler",
            {"type": "StepLR", "args": {"step_size": 0}, "interval": "epoch", "warmup_steps": 0},
            "lr_scheduler.args.step_size: must be an integer >= 1, got 0",
        ),
        (
            "lr_scheduler",
            {
                "type": "ExponentialLR",
                "args": {"gamma": "x"},
                "interval": "epoch",
                "warmup_steps": 0,
            },
            "lr_scheduler.args.gamma: must be a number > 0, got 'x'",
        ),
    ],
)
def test_every_value_is_checked_when_the_config_is_read(key, value, message):
    config = project_config()
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[last] = value  # as a hand-edited config.json would have it
    with pytest.raises(InputError) as error:
        ConfigParser(config)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_key_is_named():
    config = project_config()
    del config["trainer"]["save_period"]
    with pytest.raises(InputError, match=r"^trainer\.save_period: missing in the config"):
        ConfigParser(config)


def test_lookups_offer_only_the_choices_of_each_section():
    with pytest.raises(InputError) as error:
        scheduler = {**project_config()["lr_scheduler"], "type": "Cosine"}
        ConfigParser(project_config(lr_scheduler=scheduler))
    assert "Counter" not in str(error.value) and "CosineAnnealingLR" in str(error.value)
    with pytest.raises(InputError) as error:
        ConfigParser(project_config(arch={"type": "Net", "args": {}}))
    choices = str(error.value).split("choose from ")[1].split(", ")
    assert choices == sorted(model.model.__all__)
    assert "BaseModel" not in choices


def test_lr_scheduler_null_means_no_scheduler():
    config = ConfigParser(project_config(lr_scheduler=None))
    optimizer = config.init_obj("optimizer", [torch.nn.Parameter(torch.zeros(2))])
    assert build_lr_scheduler(config, optimizer, steps_per_epoch=10) is None


def test_init_ftn_binds_arguments():
    config = ConfigParser(project_config())
    loss = config.init_ftn("loss")
    assert loss.func is getattr(model.loss, config["loss"]["type"])
    assert loss.keywords == config["loss"]["args"]


def test_invalid_json_names_line_and_column(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "name": "x",\n  "n_gpu": ,\n}\n')
    with pytest.raises(InputError, match=r"config\.json: invalid JSON, .* line 3 column 12"):
        read_json(path)


def test_flags_overrides_and_device_reach_the_config(tmp_path: Path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(project_config()))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    parsed = []
    monkeypatch.setattr(train, "main", parsed.append)
    train.cli(["-c", str(path), "-d", "2,3", "--lr", "0.5", "trainer.epochs=1", "--bs", "7"])
    assert parsed[0]["optimizer"]["args"]["lr"] == 0.5 and parsed[0]["trainer"]["epochs"] == 1
    assert parsed[0]["data_loader"]["args"]["batch_size"] == 7
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"
