"""Checkpoints: plain data written atomically, read back with weights_only=True; and programs."""

import json
import logging
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from utils.util import InputError, atomic_open

CHECKPOINT_KEYS = ("arch", "epoch", "state_dict", "optimizer", "config")
PROGRAMS = (".pt2", ".onnx")  # exported models: predict.py runs them without the model code
KEY = "pytorch_template"  # the name of the metadata in exported files


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Save atomically: a crash mid-write leaves the previous file intact, never a truncated one."""
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU without running any code stored in it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found; pass a .pth file or a run folder")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # arbitrary bytes make torch.load fail in many ways
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if refused is None:
            raise unreadable(path, err) from None
        raise InputError(
            f"{path}: refused, loading it would run code stored in the file (it holds a "
            f"{refused.group(1)}); only load checkpoints written by train.py"
        ) from None
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise InputError(
            f"{path}: not a checkpoint written by train.py (missing {', '.join(missing)})"
        )
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
    """The config's arch in eval mode, with the evaluation weights of ``config.resume``."""
    model = config.init_obj("arch")
    load_weights(model, evaluation_weights(load_checkpoint(config.resume)), str(config.resume))
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
    except RuntimeError as err:
        details = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        raise InputError(
            f"{source}: its weights do not fit arch of the config ({(details or [err])[0]}); "
            "use the arch.type and arch.args it was trained with (or, for --init-from, "
            "trainer.init_strict=false)"
        ) from None
    if not strict:
        missing = [k for k in result.missing_keys if k not in skipped]
        logging.getLogger("checkpoint").info(
            f"{source}: skipped (another shape): {sorted(skipped)}; missing: {missing}; "
            f"unexpected: {result.unexpected_keys}"
        )


def load_state(path: Path) -> dict[str, Any]:
    """A checkpoint, or the metadata of an exported program (with config, task, class_names)."""
    return load_program(path)[1] if path.suffix in PROGRAMS else load_checkpoint(path)


def load_program(path: Path, device: Any = "cpu") -> tuple[Any, dict[str, Any]]:
    """A .pt2 or .onnx file of export.py: a function of a batch on ``device``, and its metadata."""
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    try:
        if path.suffix == ".pt2":
            extra = {KEY: ""}
            program = torch.export.load(path, extra_files=extra)
            return program.module().to(device), json.loads(extra[KEY])
        import onnxruntime  # the [export] extra

        session = onnxruntime.InferenceSession(str(path))
        meta = json.loads(session.get_modelmeta().custom_metadata_map[KEY])
    except ImportError:
        raise InputError('ONNX inference needs onnxruntime: pip install -e ".[export]"') from None
    except Exception as err:  # damaged files make each reader fail its own way
        raise unreadable(path, err, "a model exported by export.py") from None

    def run(inputs: torch.Tensor) -> torch.Tensor:
        outputs = session.run(None, {"input": inputs.cpu().numpy()})[0]
        return torch.from_numpy(outputs).to(inputs.device)

    return run, meta
