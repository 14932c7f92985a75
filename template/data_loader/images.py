"""One image file as a tensor, and what test time does to it: shared by every dataset, by
predict.py and by export.py, so that an image is seen the same way in training and after it."""

from pathlib import Path
from typing import Any

import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms import v2

from utils.util import InputError

MODES = {1: ImageReadMode.GRAY, 3: ImageReadMode.RGB}


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """uint8 (channels, H, W) of a PNG, JPEG or any file the decoder reads; grayscale, RGB or
    RGBA files are converted to ``channels``. A file it cannot decode is an error naming it."""
    try:
        return decode_image(str(path), mode=MODES[channels])
    except (RuntimeError, OSError, ValueError) as err:
        reason = str(err).splitlines()[0].split(".cpp:")[-1].lstrip("0123456789, ")  # no C++ place
        raise InputError(
            f"{path}: not a readable image ({reason}); replace or delete it, "
            "or set data_loader.args.skip_bad_files=true"
        ) from None


def resize(args: dict[str, Any]) -> v2.Resize:
    """To the config's ``image_size`` [H, W] (masks with nearest neighbours); same size: no-op."""
    return v2.Resize(args["image_size"], antialias=True)


def normalise(args: dict[str, Any]) -> v2.Compose:
    """uint8 0..255 (or floats 0..1) to floats of the config's ``mean`` and ``std``; it works
    on one image (C, H, W) or a whole batch (B, C, H, W)."""
    return v2.Compose(
        [v2.ToDtype(torch.float32, scale=True), v2.Normalize(args["mean"], args["std"])]
    )


def eval_transform(args: dict[str, Any]) -> v2.Compose:
    """A uint8 image (C, H, W) from ``read_image`` as the model sees it at test time."""
    return v2.Compose([resize(args), normalise(args)])
