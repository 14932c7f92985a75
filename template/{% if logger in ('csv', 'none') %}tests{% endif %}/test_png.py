"""The PNG files of input images and figures (loggers csv and none), read back with matplotlib."""

from pathlib import Path

import torch
from matplotlib.image import imread

from logger.png import PngWriter
from tests.conftest import log_dir
from tests.test_training import train_in_process


def test_input_images_every_epoch_and_figures_every_figure_period(base_config: dict):
    base_config["trainer"].update(epochs=3, figure_period=2)
    run = train_in_process(base_config)
    images = log_dir(base_config, run) / "images"
    epochs = {}
    for path in images.rglob("*.png"):
        epochs.setdefault(str(path.parent.relative_to(images)), set()).add(path.name)
    assert epochs.pop("valid/input") == {"epoch1.png", "epoch2.png", "epoch3.png"}
    assert epochs, "no figure saved"
    for tag, names in epochs.items():
        assert tag.startswith("valid/") and names == {"epoch2.png", "epoch3.png"}, tag
        assert imread(images / tag / "epoch3.png").shape[1] >= 200, tag


def test_the_first_64_images_in_one_grid_scaled_together(tmp_path: Path):
    images = torch.arange(70 * 28 * 28, dtype=torch.float32).reshape(70, 1, 28, 28) - 1000
    PngWriter(tmp_path).log_images("valid/input", images, 3)
    grid = imread(tmp_path / "images" / "valid" / "input" / "epoch3.png")[..., :3]
    assert grid.shape == (242, 242, 3)  # 8 x 8 images of 28 pixels, 2 pixels apart and around
    assert (grid[2, 2] == 0).all()  # the first pixel of the first image: the lowest value
    assert (grid[239, 239] == 1).all()  # the last pixel of the 64th: the highest of those shown
    assert (grid[:2] == 0).all()  # the padding
