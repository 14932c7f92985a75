"""The training loop: one epoch of optimisation, then one pass over the validation data."""

import math
import sys
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from torchmetrics import Metric
from tqdm import tqdm

from base import BaseTrainer, EpochBatchSampler
from base.base_trainer import check_finite
from model.predictions import TASK
from utils import distributed
from utils.checkpoint import load_weights
from utils.metric_tracker import MetricTracker
from utils.util import InputError, inf_loop, rng_state, set_rng_state

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Trainer(BaseTrainer):
    """Trains on ``data_loader`` (an epoch: one pass, or ``trainer.len_epoch`` batches of an
    endless loop), validates after each one; ``figures()`` makes a model/figures.py collector."""

    def __init__(
        self,
        model: nn.Module,
        criterion: Criterion,
        metrics: dict[str, Metric],
        optimizer: Optimizer,
        config: Any,
        data_loader: DataLoader,
        valid_data_loader: DataLoader | None = None,
        lr_scheduler: LRScheduler | None = None,
        figures: Callable[[], Any] | None = None,
    ):
        super().__init__(model, optimizer, lr_scheduler, config)
        if not isinstance(data_loader.batch_sampler, EpochBatchSampler):  # it holds the position
            raise TypeError("needs a data loader whose batch_sampler is an EpochBatchSampler")
        self.criterion, self.figures, self.sampler = criterion, figures, data_loader.batch_sampler
        self.class_names = getattr(data_loader, "class_names", None)  # checkpoints keep them
        self.valid_data_loader = valid_data_loader
        self.len_epoch = self.settings["len_epoch"] or len(data_loader)
        self.data_loader = inf_loop(data_loader) if self.settings["len_epoch"] else data_loader
        self.accum_steps = self.settings["grad_accum_steps"]
        schedule = config["lr_scheduler"] if lr_scheduler else {"interval": None, "warmup_steps": 0}
        self.scheduler_per_step = schedule["interval"] == "step"
        self.warmup_steps = schedule["warmup_steps"]
        self.train_metrics = MetricTracker(metrics).to(self.device)
        self.valid_metrics = MetricTracker(metrics, prefix="val_").to(self.device)
        # batches and optimizer steps of the whole run: the data position, the warm-up
        self.batches_done = self.steps_done = 0
        self.ema = None  # the EMA validates, and is model_best.pth's score
        if decay := self.settings["ema_decay"]:
            average = get_ema_multi_avg_fn(decay)
            self.ema = AveragedModel(model, multi_avg_fn=average, use_buffers=True)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.settings["amp"])
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.settings["amp"] == "fp16")
        self.network = model  # what the training step calls
        if distributed.is_distributed():
            device_ids = [self.device] if self.device.type == "cuda" else None
            self.network = DistributedDataParallel(model, device_ids=device_ids)
        if self.settings["compile"]:
            self.network = torch.compile(self.network)

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        self.network.train()
        first_batch, self.start_batch = self.start_batch, 0
        if first_batch == 0:
            self.train_metrics.reset()
        progress = tqdm(
            range(first_batch, self.len_epoch),
            f"epoch {epoch}",
            self.len_epoch,
            leave=False,
            initial=first_batch,
            disable=not (sys.stderr.isatty() and distributed.is_main()),
        )
        for batch_idx, (data, target) in zip(progress, self.data_loader, strict=False):
            data, target = data.to(self.device), target.to(self.device)
            # an optimizer step every accum_steps batches, and at the end of the epoch
            group_start = batch_idx - batch_idx % self.accum_steps
            group_size = min(self.accum_steps, self.len_epoch - group_start)
            ends_step = batch_idx + 1 == group_start + group_size
            # DDP averages gradients only on the last batch of an accumulated step
            syncs = ends_step or not distributed.is_distributed()
            with nullcontext() if syncs else self.network.no_sync():
                with torch.autocast(self.device.type, self.amp_dtype, enabled=bool(self.amp_dtype)):
                    output = self.network(data)
                    loss = self.criterion(output, target)
                self.scaler.scale(loss / group_size).backward()
            if ends_step:
                self._optimizer_step()
            self.train_metrics.update(loss, output, target)
            self.batches_done += 1
            if batch_idx % max(1, self.len_epoch // 10) == 0:
                self._log_progress(epoch, batch_idx, loss, progress)
            if ends_step and batch_idx + 1 < self.len_epoch:
                self._stop_if_requested(epoch, batch_idx + 1)

        log = self.train_metrics.result()
        self.writer.log_scalars(log, epoch, "train")
        if self.valid_data_loader is not None:
            log.update(self._valid_epoch(epoch))
        return log

    def _optimizer_step(self) -> None:
        if self.settings["grad_clip"] > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings["grad_clip"])
        scheduled = [group["lr"] for group in self.optimizer.param_groups]
        warmup = min(1, (self.steps_done + 1) / (self.warmup_steps + 1))  # a share of the rate
        for group in self.optimizer.param_groups:
            group["lr"] *= warmup
        self.scaler.step(self.optimizer)
        for group, lr in zip(self.optimizer.param_groups, scheduled, strict=True):
            group["lr"] = lr  # the schedule itself is untouched by the warm-up
        self.steps_done += 1
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema:
            self.ema.update_parameters(self.model)
        if self.scheduler_per_step:
            self.lr_scheduler.step()

    def _valid_epoch(self, epoch: int) -> dict[str, float]:
        period = self.settings["figure_period"]
        draws = period > 0 and (epoch % period == 0 or epoch == self.epochs)
        figures = self.figures() if draws and self.figures and distributed.is_main() else None
        model = self.ema.module if self.ema else self.model
        observe = figures.update if figures is not None else None
        log = evaluate(
            model, self.valid_data_loader, self.criterion, self.valid_metrics, self.device, observe
        )
        self.writer.log_scalars({k.removeprefix("val_"): v for k, v in log.items()}, epoch, "valid")
        images, _ = next(iter(self.valid_data_loader))
        self.writer.log_images("valid/input", images, epoch)
        self.writer.log_histograms(self.model, epoch)
        for tag, figure in figures.draw().items() if figures is not None else ():
            self.writer.log_figure(f"valid/{tag}", figure, epoch)
        return log

    def _log_progress(self, epoch: int, batch_idx: int, loss: torch.Tensor, progress: tqdm) -> None:
        # the mean over processes: every process sees the same value and makes the same decision
        loss_value = distributed.reduce(loss, "mean").item()
        check_finite({"loss": loss_value}, f"in epoch {epoch} at batch {batch_idx + 1}")
        step = (epoch - 1) * self.len_epoch + batch_idx
        self.writer.log_scalars({"loss": loss_value}, step, "train_step")
        progress.set_postfix(loss=f"{loss_value:.4f}")
        if progress.disable:
            self.logger.debug(
                f"Train epoch {epoch} [{batch_idx}/{self.len_epoch} "
                f"{100.0 * batch_idx / self.len_epoch:3.0f}%] loss {loss_value:.6f}"
            )

    def state_dict(self, epoch: int, batch: int = 0) -> dict[str, Any]:
        """Everything a checkpoint holds, as plain data; ``batch`` > 0 marks a partial epoch. Data
        position, random generators, grad scaler and running metric sums make resuming exact."""
        return {
            "arch": self.config["arch"]["type"],
            "epoch": epoch,
            "batch": batch,
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict() if self.lr_scheduler else None,
            "monitor_best": self.monitor_best,
            "not_improved": self.not_improved,
            "config": self.config.config,
            "task": TASK,
            "data_position": {"seed": self.sampler.seed, "batches_done": self.batches_done},
            "steps_done": self.steps_done,
            "ema_state_dict": self.ema.state_dict() if self.ema else None,
            "rng": rng_state(),
            "grad_scaler": self.scaler.state_dict(),  # empty when disabled
            "train_metrics": self.train_metrics.state_dict() if batch else None,
            "class_names": self.class_names,
        }

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        """Continue from a checkpoint's state; ``source`` names it in error messages."""
        if state["arch"] != self.config["arch"]["type"]:
            raise InputError(
                f"{source}: the checkpoint holds a {state['arch']} but arch.type is "
                f"{self.config['arch']['type']}; resume with the config it was trained with"
            )
        load_weights(self.model, state["state_dict"], source)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if self.lr_scheduler is not None and state["lr_scheduler"] is not None:
                self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        except (ValueError, KeyError) as err:
            raise InputError(
                f"{source}: its optimizer or lr_scheduler state does not fit optimizer / "
                f"lr_scheduler of the config ({err}); resume with the config it was trained with"
            ) from None
        self.start_batch, self.steps_done = state["batch"], state["steps_done"]
        self.start_epoch = state["epoch"] + (0 if self.start_batch else 1)
        self.monitor_best, self.not_improved = state["monitor_best"], state["not_improved"]
        self.batches_done = state["data_position"]["batches_done"]
        self.sampler.set_position(state["data_position"]["seed"], self.batches_done)
        set_rng_state(state["rng"])
        if self.ema and state["ema_state_dict"] is not None:
            self.ema.load_state_dict(state["ema_state_dict"])
        if state["grad_scaler"]:  # a disabled scaler ignores it
            self.scaler.load_state_dict(state["grad_scaler"])
        if state["train_metrics"] is not None:
            self.train_metrics.load_state_dict(state["train_metrics"])
        scheduled = getattr(self.lr_scheduler, "total_steps", None)
        needed = self.epochs * math.ceil(self.len_epoch / self.accum_steps)
        if self.scheduler_per_step and scheduled is not None and scheduled < needed:
            raise InputError(
                f"{source}: its {type(self.lr_scheduler).__name__} schedule lasts {scheduled} "
                f"steps but trainer.epochs={self.epochs} needs {needed}; resume with the "
                "trainer.epochs the run started with, or start a new run"
            )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data_loader: Iterable,
    criterion: Criterion,
    tracker: MetricTracker,
    device: torch.device,
    observe: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
) -> dict[str, Any]:
    """Loss and metrics of ``model`` over ``data_loader``; ``observe(data, output, target)`` sees
    each batch. Under DDP each process takes its shard; the sums are added up once, at the end."""
    model.eval()
    tracker.reset()
    for data, target in data_loader:
        data, target = data.to(device, non_blocking=True), target.to(device, non_blocking=True)
        output = model(data)
        tracker.update(criterion(output, target), output, target)
        if observe is not None:
            observe(data, output, target)
    return tracker.result()
