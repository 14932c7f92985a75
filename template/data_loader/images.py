"""Image files as model inputs (stand-in for issue 13's module, with its interface: read_image,
eval_transform; replaced by issue 13's version at merge)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF

from utils.util import InputError


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """The image at ``path`` as uint8 (channels, H, W); a bad file is an error naming it."""
    mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
    try:
        return decode_image(str(path), mode=mode)
    except (RuntimeError, OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable image ({str(err).splitlines()[0]})") from None


def eval_transform(args: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor]:
    """What test time does to a uint8 image: resize to ``image_size``, scale, normalise."""
    size = args.get("image_size")
    mean = torch.tensor(args.get("mean", [0.1307])).view(-1, 1, 1)
    std = torch.tensor(args.get("std", [0.3081])).view(-1, 1, 1)

    def transform(image: torch.Tensor) -> torch.Tensor:
        if size is not None and list(image.shape[-2:]) != list(size):
            image = TF.resize(image, size, antialias=True)
        return image.div(255.0).sub_(mean).div_(std)

    return transform
