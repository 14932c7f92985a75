"""Base class of trainers: the epoch loop, monitoring, early stopping, checkpoints and stopping."""

import logging
import math
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from logger import ExperimentWriter, create_writer
from utils import distributed
from utils.checkpoint import load_checkpoint, save_checkpoint
from utils.util import InputError, TrainingInterrupted, result_lines


class BaseTrainer(ABC):
    """Runs epochs, keeps the best model by ``trainer.monitor`` and saves checkpoints.

    Subclasses implement ``_train_epoch(epoch)``, which returns the epoch's results (every key is
    logged and can be monitored), and the checkpoint's ``state_dict(epoch, batch)`` and
    ``load_state_dict(state, source)``. Nothing is written to disk before ``train()``.
    """

    def __init__(self, model: nn.Module, optimizer: Optimizer, lr_scheduler: Any, config: Any):
        self.model, self.optimizer, self.lr_scheduler = model, optimizer, lr_scheduler
        self.config, self.settings = config, config["trainer"]
        self.device = next(model.parameters()).device
        self.logger = logging.getLogger("trainer")
        self.writer = ExperimentWriter()
        self.create_writer = create_writer  # train.py --fast-dev-run: no logger run
        self.epochs = self.settings["epochs"]
        self.monitor_mode, _, self.monitor_metric = self.settings["monitor"].partition(" ")
        self.monitor_best = math.inf if self.monitor_mode == "min" else -math.inf
        self.not_improved, self.start_epoch, self.start_batch = 0, 1, 0  # batch > 0: mid-epoch
        self.stop_signal: int | None = None
        # sees each epoch's results after its checkpoints; True stops training (tune.py prunes)
        self.on_epoch: Callable[[dict[str, float]], bool] | None = None

    @abstractmethod
    def _train_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch and return its results; call ``self._stop_if_requested(epoch, batch)``
        after each optimisation step."""

    def train(self) -> None:
        """Train from where the run stands to ``trainer.epochs``, stopping early if asked to."""
        self.config.start_run()
        if distributed.is_main():  # other DDP processes keep the base writer, which records nothing
            self.writer = self.create_writer(self.config)
        self.writer.log_config(self.config.config)
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._request_stop) for sig in stops}
        try:
            for epoch in range(self.start_epoch, self.epochs + 1):
                if self._run_epoch(epoch):
                    break
        finally:
            self.writer.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run_epoch(self, epoch: int) -> bool:
        """Train, log, monitor and checkpoint one epoch; True when training should stop."""
        log = {"epoch": epoch, **self._train_epoch(epoch)}
        for line in result_lines(log):
            self.logger.info(line)
        check_finite(log, f"in epoch {epoch}")
        improved = self._update_monitor(log)
        if self.lr_scheduler is not None and self.config["lr_scheduler"]["interval"] == "epoch":
            if isinstance(self.lr_scheduler, ReduceLROnPlateau):  # needs the monitored value
                self.lr_scheduler.step(log[self.monitor_metric])
            else:
                self.lr_scheduler.step()
        if epoch % self.settings["save_period"] == 0:
            self._save_checkpoint(f"checkpoint-epoch{epoch}.pth", epoch)
            self._remove_old_checkpoints()
        if improved:
            self.writer.log_best_model(self._save_checkpoint("model_best.pth", epoch))
        self._stop_if_requested(epoch)
        stop = self.on_epoch is not None and self.on_epoch(log)
        if not stop and 0 < self.settings["early_stop"] <= self.not_improved:
            self.logger.info(f"Early stop: didn't improve for {self.not_improved} epochs")
            return True
        return stop

    def _update_monitor(self, log: dict[str, float]) -> bool:
        """Track the monitored value; True when this epoch is the best so far."""
        if self.monitor_mode == "off":
            return False
        if self.monitor_metric not in log:
            raise InputError(
                f"trainer.monitor: {self.monitor_metric!r} is never logged; "
                f"choose one of {', '.join(k for k in log if k != 'epoch')}"
            )
        sign = 1 if self.monitor_mode == "max" else -1
        if sign * log[self.monitor_metric] > sign * self.monitor_best:
            self.monitor_best, self.not_improved = log[self.monitor_metric], 0
            return True
        self.not_improved += 1
        return False

    def _request_stop(self, signum: int, frame: Any) -> None:
        """SIGINT or SIGTERM: stop after the current step, with a checkpoint; twice: stop now."""
        if self.stop_signal is not None:
            raise KeyboardInterrupt
        self.stop_signal = signum
        self.logger.warning(
            f"{signal.Signals(signum).name} received: stopping after this step "
            "(send it again to stop at once, without a checkpoint)"
        )

    def _stop_if_requested(self, epoch: int, batch: int = 0) -> None:
        """After ``batch`` batches of ``epoch`` (0: all of it): if asked to stop, save and stop."""
        if distributed.is_distributed():  # every process stops at the same step
            requested = torch.tensor(self.stop_signal or 0, device=self.device)
            self.stop_signal = int(distributed.reduce(requested, "max")) or None
        if self.stop_signal is None:
            return
        suffix = f"-batch{batch}" if batch else ""
        path = self._save_checkpoint(f"checkpoint-epoch{epoch}{suffix}.pth", epoch, batch)
        where = f"in epoch {epoch} after batch {batch}" if batch else f"after epoch {epoch}"
        message = (
            f"{signal.Signals(self.stop_signal).name}: training stopped {where}; saved {path}; "
            f"resume with: python train.py -r {path}"
        )
        self.logger.warning(message)
        raise TrainingInterrupted(message, self.stop_signal)

    def resume(self, path: str) -> None:
        """Continue where the checkpoint at ``path`` stopped."""
        self.load_state_dict(load_checkpoint(path), str(path))
        batch = f", batch {self.start_batch + 1}" if self.start_batch else ""
        self.logger.info(
            f"Checkpoint {path} loaded; training resumes at epoch {self.start_epoch}{batch}."
        )

    def _save_checkpoint(self, filename: str, epoch: int, batch: int = 0) -> Path:
        """Save (on the main process) and return the checkpoint's path."""
        path = self.config.save_dir / filename
        if distributed.is_main():
            save_checkpoint(self.state_dict(epoch, batch), path)
            self.logger.info(f"Saved checkpoint: {path}")
        return path

    def _remove_old_checkpoints(self) -> None:
        """Keep the ``trainer.keep_last`` newest periodic checkpoints (0 keeps all)."""
        keep = self.settings["keep_last"]
        if keep and distributed.is_main():
            periodic = self.config.save_dir.glob("checkpoint-epoch*.pth")
            for path in sorted(periodic, key=lambda p: p.stat().st_mtime_ns)[:-keep]:
                path.unlink()


def check_finite(values: dict[str, float], where: str) -> None:
    """Stop, before anything is saved, when a loss or metric is NaN or infinite."""
    for key, value in values.items():
        if not math.isfinite(value):
            raise InputError(
                f"{key} is {value} {where}: training stopped, checkpoints are left as they were; "
                "lower the learning rate (optimizer.args.lr, lr_scheduler.args) or check the data"
            )
