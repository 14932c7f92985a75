"""What shapes one optimisation step: mixed precision, gradient accumulation, clipping."""

import copy
import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from base import BaseDataLoader
from parse_config import ConfigParser
from tests.conftest import PROJECT
from trainer import Trainer
from utils.util import InputError


def make_trainer(tmp_path: Path, batch_size: int, optimizer: str = "AdamW", **settings) -> Trainer:
    """A Trainer on a small linear regression problem: no BatchNorm, no dropout, no randomness."""
    torch.manual_seed(0)
    inputs, targets = torch.randn(64, 8), torch.randn(64, 1)
    loader = BaseDataLoader(
        TensorDataset(inputs, targets), batch_size, shuffle=True, validation_split=0, num_workers=0
    )
    loader.class_names = ["y"]
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    config = json.loads((PROJECT / "config.json").read_text())
    config.update(
        lr_scheduler=None, metrics=[], optimizer={"type": optimizer, "args": {"lr": 0.01}}
    )
    config["trainer"].update(epochs=1, monitor="off", save_dir=str(tmp_path), **settings)
    trainer = Trainer(model, ConfigParser(config), loader)
    trainer.criterion = nn.functional.mse_loss
    return trainer


def parameters(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.model.parameters()]


def test_accumulating_two_batches_of_b_matches_one_batch_of_2b(tmp_path):
    accumulated = make_trainer(tmp_path, batch_size=8, grad_accum_steps=2)
    whole = make_trainer(tmp_path, batch_size=16)
    accumulated._train_epoch(1)
    whole._train_epoch(1)
    assert accumulated.optimizer.state_dict()["state"][0]["step"] == 4  # 8 batches, 4 steps
    for a, b in zip(parameters(accumulated), parameters(whole), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_grad_clip_bounds_the_update(tmp_path):
    trainer = make_trainer(tmp_path, batch_size=64, optimizer="SGD", grad_clip=0.01)
    trainer.optimizer.param_groups[0]["lr"] = 1.0
    before = parameters(trainer)
    trainer._train_epoch(1)  # one batch: one SGD step of the clipped gradient
    moved = torch.cat([(a - b).flatten() for a, b in zip(parameters(trainer), before, strict=True)])
    assert moved.norm().item() == pytest.approx(0.01, rel=1e-4)


def test_no_clip_moves_further(tmp_path):
    trainer = make_trainer(tmp_path, batch_size=64, optimizer="SGD", grad_clip=0)
    trainer.optimizer.param_groups[0]["lr"] = 1.0
    before = parameters(trainer)
    trainer._train_epoch(1)
    moved = torch.cat([(a - b).flatten() for a, b in zip(parameters(trainer), before, strict=True)])
    assert moved.norm().item() > 0.05


def test_bf16_autocast_on_cpu(tmp_path):
    trainer = make_trainer(tmp_path, batch_size=16, amp="bf16")
    dtypes = []
    trainer.model[0].register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    reference = copy.deepcopy(trainer.model)
    log = trainer._train_epoch(1)
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # weights stay fp32
    assert torch.isfinite(torch.tensor(log["loss"]))
    assert not torch.equal(reference[0].weight, trainer.model[0].weight)
    assert not trainer.scaler.is_enabled()  # bf16 needs no loss scaling


def test_fp16_uses_a_grad_scaler_saved_in_checkpoints(tmp_path):
    trainer = make_trainer(tmp_path, batch_size=16, amp="fp16")
    assert trainer.scaler.is_enabled()
    trainer._train_epoch(1)
    state = trainer.state_dict(epoch=1)
    assert state["grad_scaler"]["scale"] > 0


def test_bad_step_settings_fail_before_a_trainer_is_built(tmp_path):
    with pytest.raises(InputError, match="trainer.grad_accum_steps: must be an integer >= 1"):
        make_trainer(tmp_path, batch_size=8, grad_accum_steps=0)


def test_a_data_loader_that_cannot_resume_exactly_is_refused(tmp_path):
    trainer = make_trainer(tmp_path, batch_size=8)
    plain = DataLoader(TensorDataset(torch.randn(8, 8), torch.randn(8, 1)), batch_size=4)
    with pytest.raises(TypeError, match="needs a data loader whose batch_sampler is an Epoch"):
        Trainer(trainer.model, trainer.config, plain)


def test_processes_to_launch_follows_n_gpu_and_the_gpus_there():
    from utils.distributed import processes_to_launch

    assert processes_to_launch(n_gpu=2, available=4) == 2
    assert processes_to_launch(n_gpu=4, available=2) == 2  # warns, uses what is there
    assert processes_to_launch(n_gpu=2, available=1) == 1  # one GPU: no launch
    assert processes_to_launch(n_gpu=2, available=0) == 1  # CPU
    assert processes_to_launch(n_gpu=1, available=8) == 1
    assert processes_to_launch(n_gpu=0, available=8) == 1
