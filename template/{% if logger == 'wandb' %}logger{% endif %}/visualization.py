"""What the trainer sends to Weights & Biases; in offline mode it stays in the run's log folder."""

import secrets
from pathlib import Path
from typing import Any

import numpy as np
import wandb
from torch import nn

from logger.writer import ExperimentWriter
from utils.util import InputError

MODES = ("online", "offline", "disabled")
# the W&B run id of a run folder: a resumed run (train.py -r) continues the same W&B run
RUN_ID_FILE = "wandb-run-id.txt"


class WandbWriter(ExperimentWriter):
    """Epoch values, pictures and histograms by ``epoch``; per-batch loss by ``global_step``."""

    def __init__(self, run: Any):
        self.run = run
        run.define_metric("epoch")
        run.define_metric("global_step")
        run.define_metric("train_step/*", step_metric="global_step")
        for section in ("train/*", "valid/*", "parameters/*"):
            run.define_metric(section, step_metric="epoch")

    def log_scalars(self, values: dict[str, float], step: int, mode: str) -> None:
        scalars = {f"{mode}/{name}": value for name, value in values.items()}
        self.run.log({**scalars, "global_step" if mode == "train_step" else "epoch": step})

    def log_picture(self, tag: str, pixels: np.ndarray, step: int) -> None:
        self.run.log({tag: wandb.Image(pixels), "epoch": step})

    def log_histograms(self, model: nn.Module, step: int) -> None:
        histograms = {
            f"parameters/{name}": wandb.Histogram(parameter.detach().cpu().float().numpy())
            for name, parameter in model.named_parameters()
        }
        self.run.log({**histograms, "epoch": step})

    def log_config(self, config: dict[str, Any]) -> None:
        # a resumed run may change values (e.g. trainer.epochs): the latest config wins
        self.run.config.update(config, allow_val_change=True)

    def close(self) -> None:
        self.run.finish()


def create_writer(config: Any) -> ExperimentWriter:
    """Start the run's W&B run, or continue the run folder's; ``disabled``: none at all."""
    settings = config["wandb"]
    mode = settings["mode"]
    if mode is not None and mode not in MODES:
        expected = f"one of {', '.join(MODES)} or null (W&B's own setting)"
        raise InputError(f"wandb.mode: expected {expected}, got {mode!r}")
    if mode == "disabled":
        return ExperimentWriter()
    if mode is not None:  # for the whole process: W&B's own telemetry then stays offline too
        wandb.setup(wandb.Settings(mode=mode))
    id_file = Path(config.log_dir) / RUN_ID_FILE
    run_id = id_file.read_text().strip() if id_file.is_file() else secrets.token_hex(6)
    try:
        run = wandb.init(
            project=settings["project"],
            entity=settings["entity"],
            name=settings["run_name"] or f"{config['name']}/{config.save_dir.name}",
            id=run_id,
            resume="allow",
            dir=config.log_dir,
            mode=mode,
        )
    except wandb.errors.UsageError as err:
        reason = str(err).strip().splitlines()[0].rstrip(". ")
        raise InputError(
            f"wandb: {reason}; to log without an account, set wandb.mode=offline"
        ) from None
    id_file.write_text(run_id + "\n")
    return WandbWriter(run)
