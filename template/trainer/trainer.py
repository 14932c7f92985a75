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
from utils import distributed
from utils.metric_tracker import MetricTracker
from utils.util import InputError, inf_loop, rng_state, set_rng_state

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Trainer(BaseTrainer):
    """Trains ``model`` on ``data_loader``, validating on ``valid_data_loader`` after each epoch.

    An epoch is one pass over the data, or ``trainer.len_epoch`` batches of an endless loop over
    it. ``figures`` makes the task's figure collector (model/figures.py), used every
    ``trainer.figure_period`` epochs and after the last one.
    """

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
        if not isinstance(data_loader.batch_sampler, EpochBatchSampler):
            raise TypeError(
                "Trainer needs a data loader whose batch_sampler is an EpochBatchSampler (e.g. a "
                "BaseDataLoader): checkpoints hold its position, so that resuming is exact"
            )
        self.criterion, self.figures, self.sampler = criterion, figures, data_loader.batch_sampler
        self.class_names = getattr(data_loader, "class_names", None)  # checkpoints keep them
        self.valid_data_loader = valid_data_loader
        self.len_epoch = self.settings["len_epoch"] or len(data_loader)
        self.data_loader = inf_loop(data_loader) if self.settings["len_epoch"] else data_loader
        self.accum_steps = self.settings["grad_accum_steps"]
        self.scheduler_per_step = (config["lr_scheduler"] or {}).get("interval") == "step"
        self.train_metrics = MetricTracker(metrics).to(self.device)
        self.valid_metrics = MetricTracker(metrics, prefix="val_").to(self.device)
        self.batches_done = 0  # batches consumed by the whole run: the data position
        self.steps_done = 0  # optimizer steps of the whole run, for the warm-up
        self.warmup_steps = config["lr_scheduler"]["warmup_steps"] if lr_scheduler else 0
        decay = self.settings["ema_decay"]  # the EMA validates, and is model_best.pth's score
        ema = get_ema_multi_avg_fn(decay)
        self.ema = AveragedModel(model, multi_avg_fn=ema, use_buffers=True) if decay else None
        self.amp_dtype = AMP_DTYPES[self.settings["amp"]]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.settings["amp"] == "fp16")
        self.ddp = None
        if distributed.is_distributed():
            device_ids = [self.device] if self.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(model, device_ids=device_ids)
        network = model if self.ddp is None else self.ddp  # what the training step calls
        self.network = torch.compile(network) if self.settings["compile"] else network

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        self.network.train()
        first_batch, self.start_batch = self.start_batch, 0
        if first_batch == 0:
            self.train_metrics.reset()
        progress = tqdm(
            total=self.len_epoch,
            initial=first_batch,
            desc=f"epoch {epoch}",
            leave=False,
            disable=not (sys.stderr.isatty() and distributed.is_main()),
        )
        for batch_idx, (data, target) in enumerate(self.data_loader, start=first_batch):
            data, target = data.to(self.device), target.to(self.device)
            # an optimizer step every accum_steps batches, and at the end of the epoch
            group_start = batch_idx - batch_idx % self.accum_steps
            group_size = min(self.accum_steps, self.len_epoch - group_start)
            ends_step = batch_idx + 1 == group_start + group_size
            # DDP averages gradients only on the last batch of an accumulated step
            with nullcontext() if ends_step or self.ddp is None else self.ddp.no_sync():
                with torch.autocast(self.device.type, self.amp_dtype, enabled=bool(self.amp_dtype)):
                    output = self.network(data)
                    loss = self.criterion(output, target)
                self.scaler.scale(loss / group_size).backward()
            if ends_step:
                self._optimizer_step()
            self.train_metrics.update(loss, output, target)
            self.batches_done += 1
            progress.update()
            if batch_idx % max(1, self.len_epoch // 10) == 0:
                self._log_progress(epoch, batch_idx, loss, progress)
            if batch_idx + 1 == self.len_epoch:
                break
            if ends_step:
                self._stop_if_requested(epoch, batch_idx + 1)
        progress.close()

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
        if self.steps_done < self.warmup_steps:  # linear warm-up: a share of the scheduled rate
            for group in self.optimizer.param_groups:
                group["lr"] *= (self.steps_done + 1) / (self.warmup_steps + 1)
        self.scaler.step(self.optimizer)
        for group, lr in zip(self.optimizer.param_groups, scheduled, strict=True):
            group["lr"] = lr
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
        log = evaluate(
            self.ema.module if self.ema else self.model,
            self.valid_data_loader,
            self.criterion,
            self.valid_metrics,
            self.device,
            observe=figures.update if figures is not None else None,
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
        if not math.isfinite(loss_value):
            raise InputError(
                f"loss is {loss_value} in epoch {epoch} at batch {batch_idx + 1}: training "
                "stopped, checkpoints are left as they were; lower the learning rate "
                "(optimizer.args.lr, lr_scheduler.args) or check the data"
            )
        step = (epoch - 1) * self.len_epoch + batch_idx
        self.writer.log_scalars({"loss": loss_value}, step, "train_step")
        if progress.disable:
            self.logger.debug(
                f"Train epoch {epoch} [{batch_idx}/{self.len_epoch} "
                f"{100.0 * batch_idx / self.len_epoch:3.0f}%] loss {loss_value:.6f}"
            )
        else:
            progress.set_postfix(loss=f"{loss_value:.4f}")

    def state_dict(self, epoch: int, batch: int = 0) -> dict[str, Any]:
        """The base checkpoint plus what makes resuming exact: data position, random generators,
        the AMP grad scaler and, inside an epoch, its running metric sums."""
        return {
            **super().state_dict(epoch, batch),
            "data_position": {"seed": self.sampler.seed, "batches_done": self.batches_done},
            "steps_done": self.steps_done,
            "ema_state_dict": self.ema.state_dict() if self.ema else None,
            "rng": rng_state(),
            "grad_scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "train_metrics": self.train_metrics.state_dict() if batch else None,
            "class_names": self.class_names,
        }

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        super().load_state_dict(state, source)
        self.batches_done = state["data_position"]["batches_done"]
        self.steps_done = state.get("steps_done", 0)
        if self.ema and state.get("ema_state_dict") is not None:
            self.ema.load_state_dict(state["ema_state_dict"])
        self.sampler.set_position(state["data_position"]["seed"], self.batches_done)
        set_rng_state(state["rng"])
        if state["grad_scaler"] is not None and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["grad_scaler"])
        if state["train_metrics"] is not None:
            self.train_metrics.load_state_dict(state["train_metrics"])
        scheduled = getattr(self.lr_scheduler, "total_steps", None)
        needed = self.epochs * steps_per_epoch(self.len_epoch, self.accum_steps)
        if self.scheduler_per_step and scheduled is not None and scheduled < needed:
            raise InputError(
                f"{source}: its {type(self.lr_scheduler).__name__} schedule lasts {scheduled} "
                f"steps but trainer.epochs={self.epochs} needs {needed}; resume with the "
                "trainer.epochs the run started with, or start a new run"
            )


def steps_per_epoch(batches: int, accum_steps: int) -> int:
    """Optimizer steps in an epoch of ``batches`` batches."""
    return math.ceil(batches / accum_steps)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data_loader: Iterable,
    criterion: Criterion,
    tracker: MetricTracker,
    device: torch.device,
    observe: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
) -> dict[str, Any]:
    """Loss and metrics of ``model`` over all of ``data_loader``, in eval mode.

    Under DDP each process evaluates its own shard with the unwrapped model (no collectives per
    batch) and the metric sums are added up across processes once, at the end.
    ``observe(data, output, target)``, if given, sees every batch (e.g. to collect figures).
    """
    model.eval()
    tracker.reset()
    for data, target in data_loader:
        data, target = data.to(device, non_blocking=True), target.to(device, non_blocking=True)
        output = model(data)
        tracker.update(criterion(output, target), output, target)
        if observe is not None:
            observe(data, output, target)
    return tracker.result()
