"""Base class of trainers: the epoch loop, monitoring, early stopping and checkpoints."""

import logging
import math
from abc import abstractmethod
from typing import Any

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from logger import ExperimentWriter
from parse_config import ConfigParser
from utils import InputError, load_checkpoint, save_checkpoint


class BaseTrainer:
    """Runs epochs, keeps the best model by ``trainer.monitor`` and saves checkpoints.

    Subclasses implement ``_train_epoch(epoch)``, which returns the epoch's results as a dict;
    every key in it is logged and can be monitored.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        config: ConfigParser,
        lr_scheduler: LRScheduler | None = None,
        writer: ExperimentWriter | None = None,
    ):
        self.config = config
        self.logger = logging.getLogger("trainer")
        self.model = model
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.writer = writer or ExperimentWriter()

        settings = config["trainer"]
        self.epochs = positive_int(settings["epochs"], "trainer.epochs")
        self.save_period = positive_int(settings["save_period"], "trainer.save_period")
        self.early_stop = settings.get("early_stop", 0)
        if isinstance(self.early_stop, bool) or not isinstance(self.early_stop, int):
            raise InputError(
                f"trainer.early_stop: must be an integer (0 = off), got {self.early_stop!r}"
            )
        self.monitor_mode, self.monitor_metric = parse_monitor(settings.get("monitor", "off"))
        self.monitor_best = math.inf if self.monitor_mode == "min" else -math.inf
        self.not_improved = 0
        self.start_epoch = 1
        self.checkpoint_dir = config.save_dir

    @abstractmethod
    def _train_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch and return its results (loss, metrics, validation results)."""

    def train(self) -> None:
        """Train from ``start_epoch`` to ``trainer.epochs``, stopping early if asked to."""
        for epoch in range(self.start_epoch, self.epochs + 1):
            log = {"epoch": epoch, **self._train_epoch(epoch)}
            for key, value in log.items():
                self.logger.info(f"    {key:15s}: {value}")
            improved = self._update_monitor(log)
            if epoch % self.save_period == 0:
                self._save_checkpoint(epoch, f"checkpoint-epoch{epoch}.pth")
            if improved:
                self._save_checkpoint(epoch, "model_best.pth")
                self.writer.log_best_model(self.checkpoint_dir / "model_best.pth")
            if self.early_stop > 0 and self.not_improved >= self.early_stop:
                self.logger.info(
                    f"Validation performance didn't improve for {self.early_stop} epochs. "
                    "Training stops."
                )
                break
        self.writer.close()

    def _update_monitor(self, log: dict[str, float]) -> bool:
        """Track the monitored value; True when this epoch is the best so far."""
        if self.monitor_mode == "off":
            return False
        if self.monitor_metric not in log:
            raise InputError(
                f"trainer.monitor: {self.monitor_metric!r} is never logged; "
                f"choose one of {', '.join(k for k in log if k != 'epoch')}"
            )
        value = log[self.monitor_metric]
        if self.monitor_mode == "min":
            improved = value < self.monitor_best
        else:
            improved = value > self.monitor_best
        if improved:
            self.monitor_best, self.not_improved = value, 0
        else:
            self.not_improved += 1
        return improved

    def state_dict(self, epoch: int) -> dict[str, Any]:
        """Everything a checkpoint holds, as plain data (tensors, numbers, strings, lists)."""
        return {
            "arch": self.config["arch"]["type"],
            "epoch": epoch,
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict() if self.lr_scheduler else None,
            "monitor_best": self.monitor_best,
            "not_improved": self.not_improved,
            "config": self.config.config,
        }

    def load_state_dict(self, state: dict[str, Any], source: str) -> None:
        """Continue from a checkpoint's state; ``source`` names it in error messages."""
        if state["arch"] != self.config["arch"]["type"]:
            raise InputError(
                f"{source}: the checkpoint holds a {state['arch']} but arch.type is "
                f"{self.config['arch']['type']}; resume with the config it was trained with"
            )
        try:
            self.model.load_state_dict(state["state_dict"])
        except RuntimeError as err:
            reason = str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)
            raise InputError(
                f"{source}: its weights do not fit arch.args of config.json ({reason})"
            ) from None
        self.optimizer.load_state_dict(state["optimizer"])
        if self.lr_scheduler is not None and state["lr_scheduler"] is not None:
            self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        self.start_epoch = state["epoch"] + 1
        self.monitor_best = state["monitor_best"]
        self.not_improved = state["not_improved"]

    def resume(self, path: str) -> None:
        """Load a checkpoint written by ``_save_checkpoint`` and continue after its epoch."""
        self.load_state_dict(load_checkpoint(path), str(path))
        self.logger.info(f"Checkpoint {path} loaded; training resumes at epoch {self.start_epoch}.")

    def _save_checkpoint(self, epoch: int, filename: str) -> None:
        path = self.checkpoint_dir / filename
        save_checkpoint(self.state_dict(epoch), path)
        self.logger.info(f"Saved checkpoint: {path}")


def positive_int(value: Any, key: str) -> int:
    """``value`` if it is an integer >= 1, else an error naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{key}: must be an integer >= 1, got {value!r}")
    return value


def parse_monitor(text: Any) -> tuple[str, str]:
    """``'min val_loss'`` -> ``('min', 'val_loss')``; ``'off'`` -> ``('off', '')``."""
    if text == "off":
        return "off", ""
    parts = text.split() if isinstance(text, str) else []
    if len(parts) != 2 or parts[0] not in ("min", "max"):
        raise InputError(
            f"trainer.monitor: expected 'min METRIC', 'max METRIC' or 'off' "
            f"(e.g. 'min val_loss'), got {text!r}"
        )
    return parts[0], parts[1]
