"""Config handling: overrides, custom flags, object construction and their error messages."""

import argparse
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from parse_config import CliOption, ConfigParser, parse_override, set_by_path
from utils import InputError, read_json


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
    assert config == {"trainer": {"epochs": 10}}


def test_plus_prefix_adds_a_key():
    config = {"optimizer": {"args": {"lr": 0.1}}}
    set_by_path(config, "+optimizer.args.momentum", 0.9)
    assert config["optimizer"]["args"] == {"lr": 0.1, "momentum": 0.9}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (10, "ten", "an integer"),
        (10, 2.5, "an integer"),
        (True, 1, "a boolean"),
        ("a", 1, "a string"),
    ],
)
def test_override_of_the_wrong_type_is_refused(old, new, expected):
    with pytest.raises(InputError, match=f"trainer.value: expected {expected}"):
        set_by_path({"trainer": {"value": old}}, "trainer.value", new)


def test_init_obj_builds_with_config_args_and_kwargs_win():
    config = ConfigParser({"optimizer": {"type": "SGD", "args": {"lr": 0.5, "momentum": 0.9}}})
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = config.init_obj("optimizer", torch.optim, params, lr=0.1)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["lr"] == 0.1 and optimizer.defaults["momentum"] == 0.9


def test_init_obj_unknown_type_lists_choices():
    config = ConfigParser({"optimizer": {"type": "Adamm", "args": {}}})
    with pytest.raises(InputError, match=r"optimizer\.type: unknown 'Adamm'.*did you mean 'Adam'"):
        config.init_obj("optimizer", torch.optim, [])


def test_init_obj_wrong_argument_name_names_the_key():
    config = ConfigParser({"optimizer": {"type": "SGD", "args": {"lr": 0.1, "momentun": 0.9}}})
    with pytest.raises(InputError, match=r"optimizer\.args: .*momentun.*it accepts"):
        config.init_obj("optimizer", torch.optim, [torch.nn.Parameter(torch.zeros(1))])


def test_init_ftn_binds_arguments():
    config = ConfigParser({"loss": {"type": "cross_entropy", "args": {"label_smoothing": 0.5}}})
    loss = config.init_ftn("loss", torch.nn.functional)
    logits, target = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    expected = torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.5)
    assert torch.equal(loss(logits, target), expected)


def test_invalid_json_names_line_and_column(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "name": "x",\n  "n_gpu": ,\n}\n')
    with pytest.raises(InputError, match=r"config\.json: invalid JSON at line 3, column 12"):
        read_json(path)


def test_from_args_applies_flags_overrides_and_device(tmp_path: Path, monkeypatch):
    path = tmp_path / "config.json"
    config = {"optimizer": {"args": {"lr": 0.1}}, "trainer": {"epochs": 5}}
    path.write_text(json.dumps(config))
    argv = ["train.py", "-c", str(path), "-d", "2,3", "--lr", "0.5", "trainer.epochs=1"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config")
    parser.add_argument("-r", "--resume")
    parser.add_argument("-d", "--device")
    parsed = ConfigParser.from_args(parser, [CliOption(("--lr",), float, "optimizer.args.lr")])
    assert parsed.config == {"optimizer": {"args": {"lr": 0.5}}, "trainer": {"epochs": 1}}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"
