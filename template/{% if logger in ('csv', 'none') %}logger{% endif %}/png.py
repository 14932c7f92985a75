"""Input images and figures as PNG files, for the backends that keep no pictures themselves."""

from pathlib import Path

import numpy as np
from matplotlib.image import imsave

from logger.writer import ExperimentWriter


class PngWriter(ExperimentWriter):
    """``images/TAG/epochN.png`` in the run's log folder, e.g. ``images/valid/input/epoch3.png``;
    a resumed run adds its epochs to the same folders."""

    def __init__(self, log_dir: Path):
        self.folder = Path(log_dir) / "images"

    def log_picture(self, tag: str, pixels: np.ndarray, step: int) -> None:
        path = self.folder / tag / f"epoch{step}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        imsave(path, pixels)
