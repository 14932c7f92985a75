"""Base class of trainers: the epoch loop, monitoring, early stopping and checkpoints."""

import logging
import math
import signal
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from logger import ExperimentWriter, create_writer
from parse_config import ConfigParser
from utils import (
    InputError,
    TrainingInterrupted,
    distributed,
    load_checkpoint,
    result_lines,
    save_checkpoint,
)
from utils.template_version import TEMPLATE_VERSION


class BaseTrainer:
    """Runs epochs, keeps the best model by ``trainer.monitor`` and saves checkpoints.

    Subclasses implement ``_train_epoch(epoch)``, which returns the epoch's results as a dict;
    every key in it is logged and can be monitored. Nothing is written to disk before ``train()``.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        config: ConfigParser,
        lr_scheduler: LRScheduler | None = None,
    ):
        self.config = config
        self.logger = logging.getLogger("trainer")
        self.model = model
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.writer = ExperimentWriter()

        settings = config["trainer"]
        self.epochs = positive_int(settings["epochs"], "trainer.epochs")
        self.save_period = positive_int(settings["save_period"], "trainer.save_period")
        self.keep_last = non_negative_int(settings.get("keep_last", 0), "trainer.keep_last")
        self.early_stop = non_negative_int(settings.get("early_stop", 0), "trainer.early_stop")
        self.monitor_mode, self.monitor_metric = parse_monitor(settings.get("monitor", "off"))
        self.monitor_best = math.inf if self.monitor_mode == "min" else -math.inf
        self.not_improved = 0
        self.start_epoch = 1
        self.start_batch = 0  # > 0 when resuming inside an epoch
        self.stop_signal: int | None = None
        self.device = next(model.parameters()).device

    @abstractmethod
    def _train_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch and return its results (loss, metrics, validation results).

        Call ``self._stop_if_requested(epoch, batch)`` after each optimisation step.
        """

    def train(self) -> None:
        """Train from where the run stands to ``trainer.epochs``, stopping early if asked to."""
        self.config.start_run()
        if distributed.is_main():  # other DDP processes keep the base writer, which records nothing
            self.writer = create_writer(self.config)
        self.writer.log_config(self.config.config)
        try:
            with self._stop_on_signals():
                for epoch in range(self.start_epoch, self.epochs + 1):
                    if self._run_epoch(epoch):
                        break
        finally:
            self.writer.close()

    def _run_epoch(self, epoch: int) -> bool:
        """Train, log, monitor and checkpoint one epoch; True when training should stop."""
        log = {"epoch": epoch, **self._train_epoch(epoch)}
        for line in result_lines(log):
            self.logger.info(line)
        check_finite(log, epoch)
        improved = self._update_monitor(log)
        if epoch % self.save_period == 0 or self.stop_signal is not None:
            self._save_checkpoint(f"checkpoint-epoch{epoch}.pth", epoch)
            self._remove_old_checkpoints()
        if improved:
            self._save_checkpoint("model_best.pth", epoch)
            self.writer.log_best_model(self.config.save_dir / "model_best.pth")
        if self.stop_signal is not None:
            self._interrupt(f"checkpoint-epoch{epoch}.pth", f"after epoch {epoch}")
        if self.early_stop > 0 and self.not_improved >= self.early_stop:
            self.logger.info(
                f"Validation performance didn't improve for {self.early_stop} epochs. "
                "Training stops."
            )
            return True
        return False

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

    @contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """Turn SIGINT/SIGTERM into a request to stop after the current step; twice: stop now."""

        def request_stop(signum: int, frame: Any) -> None:
            if self.stop_signal is not None:
                raise KeyboardInterrupt
            self.stop_signal = signum
            self.logger.warning(
                f"{signal.Signals(signum).name} received: stopping after this step "
                "(send it again to stop at once, without a checkpoint)"
            )

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop_if_requested(self, epoch: int, batch: int) -> None:
        """After ``batch`` batches of ``epoch``: save where training stands and stop, if asked."""
        if distributed.is_distributed():  # every process stops at the same step
            self.stop_signal = (
                int(distributed.max_across(self.stop_signal or 0, self.device)) or None
            )
        if self.stop_signal is None:
            return
        filename = f"checkpoint-epoch{epoch}-batch{batch}.pth"
        self._save_checkpoint(filename, epoch, batch)
        self._interrupt(filename, f"in epoch {epoch} after batch {batch}")

    def _interrupt(self, filename: str, where: str) -> None:
        path = self.config.save_dir / filename
        name = signal.Signals(self.stop_signal).name
        message = (
            f"{name}: training stopped {where}; saved {path}; "
            f"resume with: python train.py -r {path}"
        )
        self.logger.warning(message)
        raise TrainingInterrupted(message, self.stop_signal)

    def state_dict(self, epoch: int, batch: int = 0) -> dict[str, Any]:
        """Everything a checkpoint holds, as plain data; ``batch`` > 0 marks a partial epoch."""
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
            "template_version": TEMPLATE_VERSION,
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
        batch = state.get("batch", 0)
        self.start_epoch = state["epoch"] + (0 if batch else 1)
        self.start_batch = batch
        self.monitor_best = state["monitor_best"]
        self.not_improved = state["not_improved"]

    def resume(self, path: str) -> None:
        """Load a checkpoint written by ``_save_checkpoint`` and continue where it stopped."""
        self.load_state_dict(load_checkpoint(path), str(path))
        where = f"epoch {self.start_epoch}" + (
            f", batch {self.start_batch + 1}" if self.start_batch else ""
        )
        self.logger.info(f"Checkpoint {path} loaded; training resumes at {where}.")

    def _save_checkpoint(self, filename: str, epoch: int, batch: int = 0) -> None:
        if not distributed.is_main():
            return
        path = self.config.save_dir / filename
        save_checkpoint(self.state_dict(epoch, batch), path)
        self.logger.info(f"Saved checkpoint: {path}")

    def _remove_old_checkpoints(self) -> None:
        """Keep the ``trainer.keep_last`` newest periodic checkpoints (0 keeps all)."""
        if self.keep_last == 0 or not distributed.is_main():
            return
        periodic = sorted(
            self.config.save_dir.glob("checkpoint-epoch*.pth"), key=lambda p: p.stat().st_mtime_ns
        )
        for path in periodic[: -self.keep_last]:
            path.unlink()


def load_weights(model: nn.Module, weights: dict[str, Any], source: str) -> None:
    """``model.load_state_dict`` with an error that says which file does not fit."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        details = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        reason = details[0] if details else str(err)
        raise InputError(
            f"{source}: its weights do not fit arch of the config ({reason}); "
            "use the arch.type and arch.args it was trained with"
        ) from None


def check_finite(log: dict[str, float], epoch: int) -> None:
    """Stop, before anything is saved, when an epoch's loss or metric is NaN or infinite."""
    for key, value in log.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(
                f"{key} is {value} in epoch {epoch}: training stopped before saving it; "
                "lower the learning rate (optimizer.args.lr, lr_scheduler.args) or check the data"
            )


def positive_int(value: Any, key: str) -> int:
    """``value`` if it is an integer >= 1, else an error naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{key}: must be an integer >= 1, got {value!r}")
    return value


def non_negative_int(value: Any, key: str) -> int:
    """``value`` if it is an integer >= 0, else an error naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{key}: must be an integer >= 0 (0 = off), got {value!r}")
    return value


def non_negative_number(value: Any, key: str) -> float:
    """``value`` if it is a number >= 0, else an error naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InputError(f"{key}: must be a number >= 0 (0 = off), got {value!r}")
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
