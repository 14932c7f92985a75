"""Epochs of training and validation, early stopping, exact-resume checkpoints, SIGINT/SIGTERM."""

import logging
import math
import signal
import sys
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from importlib import import_module
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from base import BaseDataLoader, EpochBatchSampler
from logger import ExperimentWriter
from logger.visualization import create_writer
from model.predictions import TASK
from utils import distributed, util
from utils.checkpoint import load_checkpoint, load_weights, save_checkpoint
from utils.metric_tracker import MetricTracker
from utils.util import InputError, TrainingInterrupted, declared, result_lines


class Trainer:
    """Trains as the config says; every key ``_train_epoch`` returns is logged and monitorable."""

    def __init__(self, model: nn.Module, config: Any, data_loader: BaseDataLoader):
        if not isinstance(data_loader.batch_sampler, EpochBatchSampler):  # it holds the position
            raise TypeError("needs a data loader whose batch_sampler is an EpochBatchSampler")
        self.model, self.config = model, config
        settings = self.settings = config["trainer"]
        self.device = next(model.parameters()).device
        self.logger = logging.getLogger("trainer")
        self.writer = ExperimentWriter()
        self.create_writer = create_writer  # train.py --fast-dev-run: no logger run
        self.epochs = settings["epochs"]
        self.monitor_mode, _, self.monitor_metric = settings["monitor"].partition(" ")
        self.monitor_best = math.inf if self.monitor_mode == "min" else -math.inf
        self.not_improved, self.start_epoch, self.start_batch = 0, 1, 0  # batch > 0: mid-epoch
        self.stop_signal: int | None = None
        # sees each epoch's results after its checkpoints; True stops training (tune.py prunes)
        self.on_epoch: Callable[[dict[str, float]], bool] | None = None
        self.len_epoch = settings["len_epoch"] or len(data_loader)
        self.accum_steps = settings["grad_accum_steps"]
        self.steps_per_epoch = math.ceil(self.len_epoch / self.accum_steps)
        # every parameter, the frozen ones too: trainer.unfreeze_at_epoch keeps the optimizer
        self.optimizer = config.init_obj("optimizer", parameter_groups(model, config["optimizer"]))
        self.lr_scheduler = build_lr_scheduler(config, self.optimizer, self.steps_per_epoch)
        # loss.class_weights weigh training and validation; test.py reports the plain loss
        self.criterion = config.init_ftn("loss", **data_loader.loss_args(config, self.device))
        self.sampler, self.class_names = data_loader.batch_sampler, data_loader.class_names
        endless = chain.from_iterable(repeat(data_loader))  # trainer.len_epoch batches an epoch
        self.data_loader = endless if settings["len_epoch"] else data_loader
        self.valid_data_loader = data_loader.split_validation()
        metrics = config.init_metrics(len(self.class_names))
        self.train_metrics = MetricTracker(metrics, self.device)
        self.valid_metrics = MetricTracker(metrics, self.device, prefix="val_")
        schedule = config["lr_scheduler"] or {}
        self.scheduler_per_step = schedule.get("interval") == "step"
        self.warmup_steps = schedule.get("warmup_steps", 0)
        # batches and optimizer steps of the whole run: the data position, the warm-up
        self.batches_done = self.steps_done = 0
        # the EMA validates, and is model_best.pth's score
        average = get_ema_multi_avg_fn(decay := settings["ema_decay"])
        self.ema = AveragedModel(model, multi_avg_fn=average, use_buffers=True) if decay else None
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(settings["amp"])
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=settings["amp"] == "fp16")
        self._wrap_network()

    def _wrap_network(self) -> None:
        """What the training step calls: DDP syncs the parameters that need gradients when made."""
        self.network = self.model
        if distributed.is_distributed():
            device_ids = [self.device] if self.device.type == "cuda" else None
            self.network = DistributedDataParallel(self.model, device_ids=device_ids)
        if self.settings["compile"]:
            self.network = torch.compile(self.network)

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
        if self.lr_scheduler is not None and not self.scheduler_per_step:
            plateau = isinstance(self.lr_scheduler, ReduceLROnPlateau)  # needs the monitored value
            self.lr_scheduler.step(*([log[self.monitor_metric]] if plateau else []))
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

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        unfreezes = epoch >= (self.settings.get("unfreeze_at_epoch") or math.inf)
        if unfreezes and not all(p.requires_grad for p in self.model.parameters()):
            self.logger.info(f"Epoch {epoch}: trainer.unfreeze_at_epoch, every parameter trains")
            self.model.requires_grad_(True)
            self._wrap_network()
        self.network.train()
        for module in self.model.modules():  # a frozen BatchNorm keeps its running statistics
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.weight is not None:
                module.train(module.weight.requires_grad)
        first_batch, self.start_batch = self.start_batch, 0
        if first_batch == 0:
            self.train_metrics.reset()
        quiet = not (sys.stderr.isatty() and distributed.is_main())
        progress = tqdm(total=self.len_epoch, initial=first_batch, leave=False, disable=quiet)
        progress.set_description(f"epoch {epoch}")
        batches = zip(range(first_batch, self.len_epoch), self.data_loader, strict=False)
        for batch_idx, (data, target) in batches:
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
            progress.update()
            if batch_idx % max(1, self.len_epoch // 10) == 0:
                self._log_progress(epoch, batch_idx, loss, progress)
            if ends_step and batch_idx + 1 < self.len_epoch:
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
        every = self.settings["figure_period"]
        draws = distributed.is_main() and every > 0 and (epoch % every == 0 or epoch == self.epochs)
        # model/figures.py imports matplotlib: only for the epochs that draw
        figures = import_module("model.figures").Figures(self.class_names) if draws else None
        model = self.ema.module if self.ema else self.model
        observe = figures.update if figures else None
        log = evaluate(model, self.valid_data_loader, self.criterion, self.valid_metrics, observe)
        self.writer.log_scalars({k.removeprefix("val_"): v for k, v in log.items()}, epoch, "valid")
        images, _ = next(iter(self.valid_data_loader))
        self.writer.log_images("valid/input", images, epoch)
        self.writer.log_histograms(self.model, epoch)
        for tag, figure in figures.draw().items() if figures else ():
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
            done = f"{batch_idx}/{self.len_epoch} {100.0 * batch_idx / self.len_epoch:3.0f}%"
            self.logger.debug(f"Train epoch {epoch} [{done}] loss {loss_value:.6f}")

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
        self.stop_signal, name = signum, signal.Signals(signum).name
        self.logger.warning(f"{name} received: stopping after this step (again: stop now, unsaved)")

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
        name, resume = signal.Signals(self.stop_signal).name, f"python train.py -r {path}"
        message = f"{name}: training stopped {where}; saved {path}; resume with: {resume}"
        self.logger.warning(message)
        raise TrainingInterrupted(message, self.stop_signal)

    def _save_checkpoint(self, filename: str, epoch: int, batch: int = 0) -> Path:
        """Save (on the main process) and return the checkpoint's path."""
        path = self.config.save_dir / filename
        if distributed.is_main():
            save_checkpoint(self.state_dict(epoch, batch), path)
            self.logger.info(f"Saved checkpoint: {path}")
        return path

    def _remove_old_checkpoints(self) -> None:
        """Keep the ``trainer.keep_last`` newest periodic checkpoints (0 keeps all)."""
        if (keep := self.settings["keep_last"]) and distributed.is_main():
            periodic = self.config.save_dir.glob("checkpoint-epoch*.pth")
            for path in sorted(periodic, key=lambda p: p.stat().st_mtime_ns)[:-keep]:
                path.unlink()

    def state_dict(self, epoch: int, batch: int = 0) -> dict[str, Any]:
        """A checkpoint as plain data; ``batch`` > 0: a partial epoch. It all makes resume exact."""
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
            "rng": util.rng_state(),
            "grad_scaler": self.scaler.state_dict(),  # empty when disabled
            "train_metrics": self.train_metrics.state_dict() if batch else None,
            "class_names": self.class_names,
        }

    def resume(self, path: str) -> None:
        """Continue exactly where the checkpoint at ``path`` (a state_dict()) stopped."""
        state, source = load_checkpoint(path), str(path)
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
        self.start_batch, self.steps_done = state["batch"], state.get("steps_done", 0)
        self.start_epoch = state["epoch"] + (0 if self.start_batch else 1)
        self.monitor_best, self.not_improved = state["monitor_best"], state["not_improved"]
        self.batches_done = state["data_position"]["batches_done"]
        self.sampler.set_position(state["data_position"]["seed"], self.batches_done)
        util.set_rng_state(state["rng"])
        if self.ema and state.get("ema_state_dict") is not None:  # none before 0.2
            self.ema.load_state_dict(state["ema_state_dict"])
        if state["grad_scaler"]:  # a disabled scaler ignores it
            self.scaler.load_state_dict(state["grad_scaler"])
        if state["train_metrics"] is not None:
            self.train_metrics.load_state_dict(state["train_metrics"])
        scheduled = getattr(self.lr_scheduler, "total_steps", None)
        needed = self.epochs * self.steps_per_epoch
        if self.scheduler_per_step and scheduled is not None and scheduled < needed:
            raise InputError(
                f"{source}: its {type(self.lr_scheduler).__name__} schedule lasts {scheduled} "
                f"steps but trainer.epochs={self.epochs} needs {needed}; resume with the "
                "trainer.epochs the run started with, or start a new run"
            )
        batch = f", batch {self.start_batch + 1}" if self.start_batch else ""
        self.logger.info(f"Loaded {path}; training resumes at epoch {self.start_epoch}{batch}.")


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, criterion: Callable, tracker, observe=None):
    """Loss and metrics (DDP: of every shard); ``observe(data, output, target)`` sees each batch."""
    model.eval()
    tracker.reset()
    device = next(model.parameters()).device
    for data, target in batches:
        data, target = data.to(device, non_blocking=True), target.to(device, non_blocking=True)
        output = model(data)
        tracker.update(criterion(output, target), output, target)
        if observe is not None:
            observe(data, output, target)
    return tracker.result()


def check_finite(values: dict[str, float], where: str) -> None:
    """Stop, before anything is saved, when a loss or metric is NaN or infinite."""
    for key, value in values.items():
        if not math.isfinite(value):
            raise InputError(
                f"{key} is {value} {where}: training stopped, checkpoints are left as they were; "
                "lower the learning rate (optimizer.args.lr, lr_scheduler.args) or check the data"
            )


def build_lr_scheduler(config: Any, optimizer: Optimizer, steps_per_epoch: int) -> Any:
    """The configured scheduler, if any; a per-step one taking ``total_steps`` gets the run's."""
    schedule = config["lr_scheduler"]
    if schedule is None:
        return None
    every_step = schedule["interval"] == "step"
    total = config["trainer"]["epochs"] * steps_per_epoch if every_step else None
    length = declared(config.factory("lr_scheduler"), total_steps=total)  # OneCycleLR's
    if schedule["type"] == "ReduceLROnPlateau":  # its mode follows the monitor
        length["mode"] = config["trainer"]["monitor"].split()[0]
    for key in ("max_lr", "base_lr"):  # one rate (OneCycleLR, CyclicLR): scaled for each group
        if isinstance(rate := schedule["args"].get(key), int | float):
            length[key] = [rate * group.get("lr_scale", 1) for group in optimizer.param_groups]
    return config.init_obj("lr_scheduler", optimizer, **length)


def freeze(model: nn.Module, prefixes: list[str]) -> None:
    """trainer.freeze: keep the parameters named ``prefix``... as they are."""
    for prefix in prefixes:
        for parameter in matching(model, prefix, "trainer.freeze"):
            parameter.requires_grad_(False)
    if prefixes:
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        logging.getLogger("train").info(f"Frozen: {frozen} parameters ({', '.join(prefixes)})")


def parameter_groups(model: nn.Module, optimizer: dict[str, Any]) -> list[dict[str, Any]]:
    """optimizer.param_groups: the parameters named ``prefix``... at ``lr_scale`` times the lr."""
    groups = [dict(group) for group in optimizer.get("param_groups", [])]
    for i, group in enumerate(groups):
        group["params"] = matching(model, group["prefix"], f"optimizer.param_groups[{i}].prefix")
        group["lr"] = optimizer["args"]["lr"] * group["lr_scale"]
    taken = {id(p) for group in groups for p in group["params"]}
    rest = [p for p in model.parameters() if id(p) not in taken]
    return [*groups, {"params": rest, "lr_scale": 1.0}] if groups else rest


def matching(model: nn.Module, prefix: str, key_path: str) -> list[nn.Parameter]:
    """The parameters named ``prefix``...; none: an error naming ``key_path``."""
    found = [p for name, p in model.named_parameters() if name.startswith(prefix)]
    if not found:
        tops = ", ".join(sorted({name.split(".")[0] for name, _ in model.named_parameters()}))
        raise InputError(
            f"{key_path}: {prefix!r} matches no parameter of {type(model).__name__}; "
            f"its names start with {tops}"
        )
    return found
