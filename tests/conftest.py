"""Shared helpers of the template's tests: variants to render, the MNIST folder, subprocesses."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# data_dir for generated projects: the folder that holds MNIST/raw/ (see DEVELOPERS.md)
MNIST_DATA = REPO.parent / "shared" / "data"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

TASKS = ("classification", "segmentation", "regression")
LOGGERS = ("tensorboard", "csv", "wandb", "mlflow", "none")
N_GPUS = (0, 1, 2)
DATASETS = ("mnist", "folder")
METRICS = {
    "classification": ("accuracy", "top_k_acc", "precision", "recall", "f1"),
    "segmentation": ("pixel_accuracy", "mean_iou", "dice"),
    "regression": ("mae", "rmse", "r2"),
}
DEFAULT_METRICS = {
    "classification": ["accuracy", "top_k_acc"],
    "segmentation": ["pixel_accuracy", "mean_iou"],
    "regression": ["mae", "rmse"],
}
# the monitored metric of each task's default config, when chosen (else: min val_loss)
MONITORS = {
    "classification": "max val_accuracy",
    "segmentation": "max val_mean_iou",
    "regression": "min val_mae",
}


# every task x logger x n_gpu with the default metrics (MNIST); then, per task, all of its metrics
# and its last one alone (the monitor falls back to val_loss); then each task with folder data. The
# metrics answer only fills config.json: every metric function of the task is rendered.
VARIANTS = (
    [
        {"task": task, "logger": logger, "n_gpu": n_gpu, "metrics": DEFAULT_METRICS[task]}
        | {"dataset": "mnist"}
        for task in TASKS
        for logger in LOGGERS
        for n_gpu in N_GPUS
    ]
    + [
        {"task": task, "logger": LOGGERS[0], "n_gpu": N_GPUS[i], "metrics": metrics}
        | {"dataset": "mnist"}
        for task in TASKS
        for i, metrics in enumerate([list(METRICS[task]), list(METRICS[task][-1:])])
    ]
    + [
        {"task": task, "logger": LOGGERS[0], "n_gpu": 1, "metrics": DEFAULT_METRICS[task]}
        | {"dataset": "folder"}
        for task in TASKS
    ]
)


# the variants whose own test suites run (each takes minutes): every answer of every question and
# every task with each dataset, the defaults first; the render tests lint every combination
SUITE_VARIANTS = [
    {"task": "classification", "logger": "tensorboard", "n_gpu": 1, "dataset": "mnist",
     "metrics": DEFAULT_METRICS["classification"]},
    {"task": "segmentation", "logger": "csv", "n_gpu": 0, "dataset": "folder",
     "metrics": list(METRICS["segmentation"])},
    {"task": "regression", "logger": "wandb", "n_gpu": 2, "dataset": "mnist",
     "metrics": list(METRICS["regression"])},
    {"task": "classification", "logger": "mlflow", "n_gpu": 0, "dataset": "folder",
     "metrics": list(METRICS["classification"])},
    {"task": "regression", "logger": "none", "n_gpu": 2, "dataset": "folder", "metrics": ["r2"]},
    {"task": "segmentation", "logger": "tensorboard", "n_gpu": 1, "dataset": "mnist",
     "metrics": ["dice"]},
]  # fmt: skip


def variant_id(answers: dict) -> str:
    """A short test id: task-logger-gpus-metrics[-folder]."""
    gpus = f"{answers['n_gpu']}gpu" if answers["n_gpu"] else "cpu"
    folder = ["folder"] if answers.get("dataset") == "folder" else []
    return "-".join(
        [answers["task"], answers["logger"], gpus, "+".join(answers["metrics"])] + folder
    )


def run(
    args: list[str], cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a command with this interpreter's environment (plus ``env``), capturing its output."""
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env} if env else None,
    )


def python(
    *args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return run([sys.executable, *args], cwd=cwd, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def mnist_data() -> Path:
    """The real MNIST beside the repository; its absence is an error, not a skip."""
    missing = [f for f in MNIST_FILES if not (MNIST_DATA / "MNIST" / "raw" / f).is_file()]
    if missing:
        pytest.fail(f"real MNIST missing in {MNIST_DATA}/MNIST/raw: {', '.join(missing)}")
    return MNIST_DATA
