"""An image file as a tensor, and test time's transform: one for training, predict.py, export.py."""

from pathlib import Path
from typing import Any

import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms import v2

from utils.util import InputError

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif"}  # what torchvision.io.decode_image reads


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """uint8 (channels, H, W) of a PNG, JPEG, WebP or GIF file; grey, RGB or RGBA converted."""
    mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
    try:
        return decode_image(str(path), mode=mode)
    except (RuntimeError, OSError, ValueError) as err:
        reason = str(err).splitlines()[0].split(".cpp:")[-1].lstrip("0123456789, ")  # no C++ place
        fix = "replace or delete it, or set data_loader.args.skip_bad_files=true"
        raise InputError(f"{path}: not a readable image ({reason}); {fix}") from None


def eval_transform(args: dict[str, Any]) -> v2.Compose:
    """A uint8 image or batch resized to ``image_size``, scaled to [0, 1], normalised."""
    steps = [v2.Resize(args["image_size"], antialias=True), v2.ToDtype(torch.float32, scale=True)]
    return v2.Compose([*steps, v2.Normalize(args["mean"], args["std"])])
