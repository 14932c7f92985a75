"""Shared fixtures: tiny synthetic MNIST files and helpers to run training in a temporary folder."""

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

PROJECT = Path(__file__).resolve().parents[1]
FOLDER = (PROJECT / "data_loader" / "folder.py").is_file()  # dataset: folder (else MNIST)
# the chosen logger's set-up for the tests: its fixture `logger_settings`, and no network
pytest_plugins = ["tests.logger_fixtures"]


def write_idx(path: Path, data: torch.Tensor) -> None:
    """Write a uint8 tensor as a gzip IDX file, the format of the original MNIST files."""
    header = bytes([0, 0, 0x08, data.dim()]) + b"".join(n.to_bytes(4, "big") for n in data.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header + data.to(torch.uint8).numpy().tobytes()))


def synthetic_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """28x28 images whose class is the position of a bright square on noise: easy to learn."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = torch.randint(0, 60, (n, 28, 28), generator=generator)
    for i, label in enumerate(labels.tolist()):
        row, col = divmod(label, 5)
        images[i, 2 + 12 * row : 12 + 12 * row, 1 + 5 * col : 6 + 5 * col] = 255
    return images.to(torch.uint8), labels.to(torch.uint8)


def write_mnist(root: Path, n_train: int = 640, n_test: int = 160) -> Path:
    """Synthetic stand-ins for the four MNIST files in ``root/MNIST/raw``."""
    raw = root / "MNIST" / "raw"
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = synthetic_digits(n, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def write_data(root: Path) -> Path:
    """The synthetic MNIST files; in a folder project, also written as its image folders."""
    write_mnist(root)
    if FOLDER:
        from data_loader.example import write_split

        for split in ("train", "test"):
            write_split(root, root / split, split == "train")
    return root


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(tmp_path_factory.mktemp("data"))


def small_config(save_dir: Path, data_dir: Path) -> dict:
    """The project's config.json, made small: synthetic data, 2 epochs, outputs in save_dir."""
    config = json.loads((PROJECT / "config.json").read_text())
    config["n_gpu"] = 0
    args = config["data_loader"]["args"]
    args.update(data_dir=str(data_dir), batch_size=32)
    if FOLDER:  # the synthetic digits as they are: grey, unaugmented, 28 px (photo sizes: minutes)
        from model.predictions import TASK

        size = [28, 56] if TASK == "segmentation" else [28, 28]
        # no worker processes in-process: a failed run's loaders, freed later by the garbage
        # collector, wait seconds for each worker (subprocess runs keep config.json's workers)
        args.update(channels=1, mean=[0.5], std=[0.25], image_size=size, augment=[], num_workers=0)
    config["trainer"].update(epochs=2, save_dir=str(save_dir))
    return config


@pytest.fixture
def base_config(tmp_path: Path, data_dir: Path, logger_settings: dict) -> dict:
    """small_config in tmp_path, with the chosen logger's settings for tests."""
    config = small_config(tmp_path / "saved", data_dir)
    for section, values in logger_settings.items():
        config[section].update(values)
    return config


@pytest.fixture(scope="session")
def tested_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, dict, str]:
    """A 3-epoch run of train.py on the synthetic data, evaluated by test.py.

    Returns the run's checkpoint folder, its test metrics and test.py's output.
    """
    config = small_config(tmp_path_factory.mktemp("tested") / "saved", data_dir)
    config["trainer"]["epochs"] = 3
    trained = run_script("train.py", *overrides(config))
    assert trained.returncode == 0, trained.stderr
    (run,) = run_dirs(Path(config["trainer"]["save_dir"]))
    checkpoint, data = str(run / "model_best.pth"), f"data_loader.args.data_dir={data_dir}"
    tested = run_script("test.py", "-r", checkpoint, data)
    assert tested.returncode == 0, tested.stderr
    return run, json.loads((run / "test_metrics.json").read_text()), tested.stdout


def overrides(config: dict) -> list[str]:
    """The command-line overrides that turn the project's config.json into ``config``."""
    args = config["data_loader"]["args"]
    small = ["channels", "mean", "std", "image_size", "augment"] if FOLDER else []
    return [
        f"n_gpu={config['n_gpu']}",
        f"data_loader.args.data_dir={args['data_dir']}",
        f"data_loader.args.batch_size={args['batch_size']}",
        *(f"data_loader.args.{key}={json.dumps(args[key])}" for key in small),
        f"trainer.epochs={config['trainer']['epochs']}",
        f"trainer.save_dir={config['trainer']['save_dir']}",
    ]


def run_script(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python train.py ...`` (or test.py) in the project folder, capturing its output."""
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT, capture_output=True, text=True, timeout=timeout
    )


def run_dirs(save_dir: Path) -> list[Path]:
    """The checkpoint folders of all runs under ``save_dir``."""
    return sorted(p for p in (save_dir / "models").glob("*/*") if p.is_dir())


def log_dir(config: dict, run: Path) -> Path:
    """The log folder of the run whose checkpoint folder is ``run``."""
    return Path(config["trainer"]["save_dir"]) / "log" / config["name"] / run.name


def epoch_results(config: dict, run: Path) -> dict[int, dict[str, float]]:
    """What a run printed after each epoch, read back from its info.log: {epoch: {key: value}}."""
    results: dict[int, dict[str, float]] = {}
    for line in (log_dir(config, run) / "info.log").read_text().splitlines():
        match = re.search(r" - INFO -     (\w+) +: (\S+)$", line)
        if match and match[1] == "epoch":
            current = results.setdefault(int(match[2]), {})
        elif match:
            current[match[1]] = float(match[2])
    return results
