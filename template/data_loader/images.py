"""One image file as a tensor, and what test time does to it: the same for training (every
dataset), predict.py and export.py, so that an image is seen alike everywhere."""

from pathlib import Path
from typing import Any

import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms import v2

from utils.util import InputError


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """uint8 (channels, H, W) of a PNG, JPEG, WebP or GIF file; grey, RGB or RGBA converted."""
    mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
    try:
        return decode_image(str(path), mode=mode)
    except (RuntimeError, OSError, ValueError) as err:
        reason = str(err).splitlines()[0].split(".cpp:")[-1].lstrip("0123456789, ")  # no C++ place
        raise InputError(
            f"{path}: not a readable image ({reason}); replace or delete it, "
            "or set data_loader.args.skip_bad_files=true"
        ) from None


def eval_transform(args: dict[str, Any]) -> v2.Compose:
    """A uint8 image (C, H, W) or batch resized to the config's ``image_size`` (a no-op at that
    size; masks: nearest) and normalised with its ``mean`` and ``std``, as test time sees it."""
    resize = v2.Resize(args["image_size"], antialias=True)
    normalise = v2.Normalize(args["mean"], args["std"])
    return v2.Compose([resize, v2.ToDtype(torch.float32, scale=True), normalise])
