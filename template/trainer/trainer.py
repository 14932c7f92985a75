"""The training loop: one epoch of optimisation, then one pass over the validation data."""

import math
import sys
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader
from torchmetrics import Metric
from tqdm import tqdm

from base import BaseTrainer
from base.base_trainer import positive_int
from parse_config import ConfigParser
from utils import InputError, MetricTracker, inf_loop, rng_state, set_rng_state

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Trainer(BaseTrainer):
    """Trains ``model`` on ``data_loader``, validating on ``valid_data_loader`` after each epoch.

    With ``len_epoch`` set, an epoch is that many batches drawn from an endless loop over the data
    (iteration-based training); otherwise it is one pass over ``data_loader``.
    """

    def __init__(
        self,
        model: nn.Module,
        criterion: Criterion,
        metrics: dict[str, Metric],
        optimizer: Optimizer,
        config: ConfigParser,
        device: torch.device,
        data_loader: DataLoader,
        valid_data_loader: DataLoader | None = None,
        lr_scheduler: LRScheduler | None = None,
        len_epoch: int | None = None,
    ):
        super().__init__(model, optimizer, config, lr_scheduler)
        self.criterion = criterion
        self.device = device
        self.data_loader: Iterable = data_loader
        self.sampler = data_loader.batch_sampler
        self.len_epoch = len(data_loader)
        if len_epoch is not None:
            self.len_epoch = positive_int(len_epoch, "trainer.len_epoch")
            self.data_loader = inf_loop(data_loader)
        self.valid_data_loader = valid_data_loader
        self.lr_step_per_batch = config["lr_scheduler"].get("interval", "epoch") == "step"
        self.log_step = max(1, self.len_epoch // 10)
        self.train_metrics = MetricTracker(metrics).to(device)
        self.valid_metrics = MetricTracker(metrics, prefix="val_").to(device)
        self.batches_done = 0  # batches consumed by the whole run: the data position

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        first_batch, self.start_batch = self.start_batch, 0
        if first_batch == 0:
            self.train_metrics.reset()
        progress = tqdm(
            total=self.len_epoch,
            initial=first_batch,
            desc=f"epoch {epoch}",
            leave=False,
            disable=not sys.stderr.isatty(),
        )
        for batch_idx, (data, target) in enumerate(self.data_loader, start=first_batch):
            data, target = data.to(self.device), target.to(self.device)
            output = self.model(data)
            loss = self.criterion(output, target)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.lr_step_per_batch:
                self.lr_scheduler.step()
            self.train_metrics.update(loss, output, target)
            self.batches_done += 1
            progress.update()
            if batch_idx % self.log_step == 0:
                self._log_progress(epoch, batch_idx, loss.item(), progress)
            if batch_idx + 1 == self.len_epoch:
                break
            self._stop_if_requested(epoch, batch_idx + 1)
        progress.close()

        log = self.train_metrics.result()
        self.writer.log_scalars(log, epoch, "train")
        if self.valid_data_loader is not None:
            log.update(self._valid_epoch(epoch))
        if self.lr_scheduler is not None and not self.lr_step_per_batch:
            self.lr_scheduler.step()
        return log

    def _valid_epoch(self, epoch: int) -> dict[str, float]:
        log = evaluate(
            self.model, self.valid_data_loader, self.criterion, self.valid_metrics, self.device
        )
        self.writer.log_scalars({k.removeprefix("val_"): v for k, v in log.items()}, epoch, "valid")
        images, _ = next(iter(self.valid_data_loader))
        self.writer.log_images("valid/input", images, epoch)
        self.writer.log_histograms(self.model, epoch)
        return log

    def _log_progress(self, epoch: int, batch_idx: int, loss: float, progress: tqdm) -> None:
        if not math.isfinite(loss):
            raise InputError(
                f"loss is {loss} in epoch {epoch} at batch {batch_idx + 1}: training stopped, "
                "checkpoints are left as they were; lower the learning rate (optimizer.args.lr, "
                "lr_scheduler.args) or check the data"
            )
        step = (epoch - 1) * self.len_epoch + batch_idx
        self.writer.log_scalars({"loss": loss}, step, "train_step")
        if progress.disable:
            done = 100.0 * batch_idx / self.len_epoch
            self.logger.debug(
                f"Train epoch {epoch} [{batch_idx}/{self.len_epoch} {done:3.0f}%] loss {loss:.6f}"
            )
        else:
            progress.set_postfix(loss=f"{loss:.4f}")

    def state_dict(self, epoch: int, batch: int = 0) -> dict[str, Any]:
        """The base checkpoint plus what makes resuming exact: data position, random generators
        and, inside an epoch, its running metric sums."""
        state = super().state_dict(epoch, batch)
        state["data_position"] = {"seed": self.sampler.seed, "batches_done": self.batches_done}
        state["rng"] = rng_state()
        state["train_metrics"] = self.train_metrics.state_dict() if batch else None
        return state

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        super().load_state_dict(state, source)
        position = state["data_position"]
        self.batches_done = position["batches_done"]
        self.sampler.set_position(position["seed"], self.batches_done)
        set_rng_state(state["rng"])
        if state["train_metrics"] is not None:
            self.train_metrics.load_state_dict(state["train_metrics"])
        scheduled = getattr(self.lr_scheduler, "total_steps", None)
        needed = self.epochs * self.len_epoch
        if self.lr_step_per_batch and scheduled is not None and scheduled < needed:
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
) -> dict[str, Any]:
    """Loss and metrics of ``model`` over all of ``data_loader``, in eval mode."""
    model.eval()
    tracker.reset()
    for data, target in data_loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        tracker.update(criterion(output, target), output, target)
    return tracker.result()
