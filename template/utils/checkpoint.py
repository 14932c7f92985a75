"""Checkpoints: plain data written atomically, read back with weights_only=True."""

import logging
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from utils.util import InputError, atomic_open

CHECKPOINT_KEYS = ("arch", "epoch", "state_dict", "optimizer", "config")


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Save atomically: a crash mid-write leaves the previous file intact, never a truncated one."""
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU without running any code stored in it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: checkpoint not found; pass a .pth file or a folder") from None
    except Exception as err:  # arbitrary bytes make torch.load fail in many ways
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if refused is None:
            raise unreadable(path, err) from None
        raise InputError(
            f"{path}: refused, loading it would run code stored in the file (it holds a "
            f"{refused[1]}); only load checkpoints written by train.py"
        ) from None
    missing = ", ".join(k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state)
    if missing:
        raise InputError(f"{path}: not a checkpoint written by train.py (missing {missing})")
    return state


def unreadable(path: Path, err: Exception, what: str = "a readable checkpoint") -> InputError:
    reason = ": ".join([type(err).__name__, *str(err).strip().splitlines()[-1:]])
    return InputError(f"{path}: not {what}, the file is truncated or corrupt ({reason[:120]})")


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file as given, or the newest checkpoint inside a run folder."""
    path = Path(path)
    if not path.is_dir():
        return path
    candidates = sorted(path.glob("*.pth"), key=lambda p: p.stat().st_mtime_ns)
    if not candidates:
        raise InputError(f"{path}: no .pth checkpoint in this folder; pass a checkpoint file")
    return candidates[-1]


def load_model(config: Any) -> nn.Module:
    """The config's arch for the classes of ``config.resume``, with its evaluation weights."""
    checkpoint = load_checkpoint(config.resume)
    model = config.init_model(checkpoint.get("class_names"), True)
    load_weights(model, evaluation_weights(checkpoint), str(config.resume))
    return model.eval()


def evaluation_weights(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights to evaluate: the EMA of the weights when the run kept one, else the raw ones."""
    ema = checkpoint.get("ema_state_dict") or {}  # AveragedModel's: module.* and n_averaged
    ema = {k.removeprefix("module."): v for k, v in ema.items() if k != "n_averaged"}
    return ema or checkpoint["state_dict"]


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights of a checkpoint (its evaluation weights) or of a ``.safetensors`` state dict."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return evaluation_weights(load_checkpoint(path))
    try:
        return load_file(path)
    except Exception as err:  # safetensors' own error, or an OSError
        raise unreadable(path, err) from None


def load_weights(model: nn.Module, weights: dict, source: str, strict: bool = True) -> None:
    """Not ``strict``: weights of another shape are skipped; what was left out is logged."""
    own = model.state_dict()
    skipped = [k for k, v in weights.items() if not strict and k in own and v.shape != own[k].shape]
    try:
        result = model.load_state_dict({k: weights[k] for k in weights.keys() - skipped}, strict)
    except RuntimeError as err:  # its second line names the first key that does not fit
        first = str(err).splitlines()[1].strip()
        raise InputError(
            f"{source}: its weights do not fit arch of the config ({first}); use the arch.type "
            "and arch.args it was trained with (or, for --init-from, trainer.init_strict=false)"
        ) from None
    if not strict:
        missing = [k for k in result.missing_keys if k not in skipped]
        logging.getLogger("checkpoint").info(
            f"{source}: skipped (another shape): {sorted(skipped)}; missing: {missing}; "
            f"unexpected: {result.unexpected_keys}"
        )
