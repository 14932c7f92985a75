"""The training loop: one epoch of optimisation, then one pass over the validation data."""

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
from logger import ExperimentWriter
from parse_config import ConfigParser
from utils import InputError, MetricTracker, inf_loop, rng_state, set_rng_state

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Observer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]


class Trainer(BaseTrainer):
    """Trains ``model`` on ``data_loader``, validating on ``valid_data_loader`` after each epoch.

    With ``len_epoch`` set, an epoch is that many batches drawn from an endless loop over the data
    (iteration-based training); otherwise it is one pass over ``data_loader``. ``figures`` makes
    the task's figure collector (model/figures.py); its figures of the validation data go to the
    writer every ``trainer.figure_period`` epochs and after the last one.
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
        writer: ExperimentWriter | None = None,
        figures: Callable[[], Any] | None = None,
    ):
        super().__init__(model, optimizer, config, lr_scheduler, writer)
        self.figures = figures
        self.figure_period = config["trainer"].get("figure_period", 0)
        period = self.figure_period
        if isinstance(period, bool) or not isinstance(period, int) or period < 0:
            raise InputError(
                f"trainer.figure_period: must be an integer >= 0 (0 = off), got {period!r}"
            )
        self.criterion = criterion
        self.device = device
        self.data_loader: Iterable = data_loader
        self.train_sampler = data_loader.batch_sampler
        self.len_epoch = len(data_loader)
        if len_epoch is not None:
            self.len_epoch = positive_int(len_epoch, "trainer.len_epoch")
            self.data_loader = inf_loop(data_loader)
        self.valid_data_loader = valid_data_loader
        self.lr_step_per_batch = config["lr_scheduler"].get("interval", "epoch") == "step"
        self.log_step = max(1, self.len_epoch // 10)
        self.train_metrics = MetricTracker(metrics).to(device)
        self.valid_metrics = MetricTracker(metrics, prefix="val_").to(device)

    def state_dict(self, epoch: int) -> dict[str, Any]:
        """The base checkpoint plus what makes resuming exact: data order and random generators."""
        state = super().state_dict(epoch)
        state["data_order"] = self.train_sampler.state_dict()
        state["rng"] = rng_state()
        return state

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        super().load_state_dict(state, source)
        self.train_sampler.load_state_dict(state["data_order"])
        set_rng_state(state["rng"])
        scheduled = getattr(self.lr_scheduler, "total_steps", None)
        needed = self.epochs * self.len_epoch
        if self.lr_step_per_batch and scheduled is not None and scheduled < needed:
            raise InputError(
                f"{source}: its {type(self.lr_scheduler).__name__} schedule lasts {scheduled} "
                f"steps but trainer.epochs={self.epochs} needs {needed}; resume with the "
                "trainer.epochs the run started with, or start a new run"
            )

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        self.train_metrics.reset()
        progress = tqdm(
            total=self.len_epoch,
            desc=f"epoch {epoch}",
            leave=False,
            disable=not sys.stderr.isatty(),
        )
        for batch_idx, (data, target) in enumerate(self.data_loader):
            data, target = data.to(self.device), target.to(self.device)
            output = self.model(data)
            loss = self.criterion(output, target)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.lr_step_per_batch:
                self.lr_scheduler.step()
            self.train_metrics.update(loss, output, target)
            progress.update()
            if batch_idx % self.log_step == 0:
                self._log_progress(epoch, batch_idx, loss.item(), progress)
            if batch_idx + 1 == self.len_epoch:
                break
        progress.close()

        log = self.train_metrics.result()
        self.writer.log_scalars(log, epoch, "train")
        if self.valid_data_loader is not None:
            log.update(self._valid_epoch(epoch))
        if self.lr_scheduler is not None and not self.lr_step_per_batch:
            self.lr_scheduler.step()
        return log

    def _valid_epoch(self, epoch: int) -> dict[str, float]:
        figures = self.figures() if self._draws_figures(epoch) else None
        log = evaluate(
            self.model,
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
        if figures is not None:
            for tag, figure in figures.draw().items():
                self.writer.log_figure(f"valid/{tag}", figure, epoch)
        return log

    def _draws_figures(self, epoch: int) -> bool:
        """Figures are drawn every ``figure_period``-th epoch and after the last one."""
        if self.figures is None or self.figure_period == 0:
            return False
        return epoch % self.figure_period == 0 or epoch == self.epochs

    def _log_progress(self, epoch: int, batch_idx: int, loss: float, progress: tqdm) -> None:
        step = (epoch - 1) * self.len_epoch + batch_idx
        self.writer.log_scalars({"loss": loss}, step, "train_step")
        if progress.disable:
            done = 100.0 * batch_idx / self.len_epoch
            self.logger.debug(
                f"Train epoch {epoch} [{batch_idx}/{self.len_epoch} {done:3.0f}%] loss {loss:.6f}"
            )
        else:
            progress.set_postfix(loss=f"{loss:.4f}")


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data_loader: Iterable,
    criterion: Criterion,
    tracker: MetricTracker,
    device: torch.device,
    observe: Observer | None = None,
) -> dict[str, Any]:
    """Loss and metrics of ``model`` over all of ``data_loader``, in eval mode.

    ``observe(data, output, target)``, if given, sees every batch (e.g. to collect figures).
    """
    model.eval()
    tracker.reset()
    for data, target in data_loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        tracker.update(criterion(output, target), output, target)
        if observe is not None:
            observe(data, output, target)
    return tracker.result()
