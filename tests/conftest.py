"""Shared helpers of the template's tests: variants to render, the MNIST folder, subprocesses.

How the suite runs fast (``make test`` runs ``pytest``, which pyproject.toml's addopts make
``-n logical --dist loadgroup``: one pytest-xdist worker per core):

- **One torch thread per process.** ``pytest_configure`` sets ``OMP_NUM_THREADS=1`` (and MKL's,
  OpenBLAS') unless already set: every worker and every ``train.py`` it starts inherit it, so two
  workers on two cores do not fight over threads.
- **Each worker has its own session.** A session- or module-scoped fixture is built once per
  worker that uses it. When it is expensive (a training, a study, every variant rendered), mark
  the tests that share it with one ``@pytest.mark.xdist_group("NAME")``: ``--dist loadgroup``
  runs a group on one worker, so the fixture is built once. ``shared_group`` below names the
  groups in use; add yours there.
- **Slow tests start first and leave the fast tier.** Mark a test that takes more than about
  15 s with ``@pytest.mark.slow``: ``pytest_collection_modifyitems`` moves it to the front (long
  tests first, short ones fill the gaps at the end), and ``make test-fast`` (``-m "not slow"``)
  skips it.
- **Ports and folders are per test.** Use ``tmp_path`` (per test) or ``tmp_path_factory`` (per
  worker), never a fixed folder; ask the OS for a port (``socket.bind(("127.0.0.1", 0))``).
- **Renders**: ``rendered_variants`` renders every answer set of ``VARIANTS`` once (group
  ``variants``), shared by the render, lint and docs tests; read its projects, never run code in
  them (a ``__pycache__`` would break the checks of their files).
- **Checkpoints**: ``mnist_trained(task)`` (group ``mnist-trained``) is each task's default project
  trained on the real MNIST once, by the quality test; predict.py and export.py reuse it.
- **Data**: ``mnist_data`` is the real MNIST (read-only), ``mnist_subset`` its first images as
  MNIST files of their own, for commands that need real digits but not all of them.
"""

import gzip
import math
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
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


# the xdist groups of tests that share an expensive fixture (see the module docstring)
shared_group = {
    name: pytest.mark.xdist_group(name)
    for name in ("variants", "docs", "mnist-trained", "tune-sweep", "update")
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pytest_configure(config: pytest.Config) -> None:
    for name in THREAD_VARIABLES:  # one torch thread per process (see the module docstring)
        os.environ.setdefault(name, "1")
    config.addinivalue_line(
        "markers", "slow: takes more than about 15 s; runs first, not in make test-fast"
    )


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own hook
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort: the order within each tier is kept); each test of an
    xdist_group named ``NODEID@GROUP``, which is how ``--dist loadgroup`` finds its group."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under loadgroup
        return
    for item in items:
        groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid:
            # pytest-xdist 3.8 renames the test through item._nodeid, which pytest 9 no longer
            # reads (it keeps a NodeId in item._id): without this, groups are split up
            from _pytest.nodeid import NodeId  # pytest >= 9, where xdist's renaming fails

            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


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


def write_mnist_subset(mnist: Path, target: Path, n_train: int, n_test: int) -> Path:
    """The first samples of each real MNIST file, as valid IDX files in ``target/MNIST/raw``."""
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        data = gzip.decompress((mnist / "MNIST" / "raw" / name).read_bytes())
        ndim = data[3]
        shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        shape[0] = n_train if name.startswith("train") else n_test
        header = data[:4] + b"".join(n.to_bytes(4, "big") for n in shape)
        body = data[4 + 4 * ndim : 4 + 4 * ndim + math.prod(shape)]
        (raw / name).write_bytes(gzip.compress(header + body))
    return target


@pytest.fixture(scope="session")
def mnist_subset(mnist_data, tmp_path_factory) -> Path:
    """The first 6,000 training and 1,000 test images of the real MNIST, as MNIST files: enough
    for the documented commands' short epoch (doc_commands.TRAIN_SAMPLES) and a test split."""
    return write_mnist_subset(mnist_data, tmp_path_factory.mktemp("mnist_subset"), 6000, 1000)


@pytest.fixture(scope="session")
def rendered_variants(copie_session) -> list[tuple[dict, Path]]:
    """Every answer set of VARIANTS, rendered once per session into one folder
    (``copie_session.test_dir``). Tests that use it belong to ``shared_group["variants"]``."""
    projects = []
    for answers in VARIANTS:
        result = copie_session.copy(extra_answers=answers)
        assert result.exit_code == 0, f"{answers}: {result.exception}"
        projects.append((answers, result.project_dir))
    return projects


@dataclass
class TrainedRun:
    project: Path
    run: Path  # the run folder: model_best.pth, config.json
    train_seconds: float
    train_cpu_seconds: float


@pytest.fixture(scope="session")
def mnist_trained(copie_session, mnist_data, tmp_path_factory):
    """``mnist_trained(task)``: the task's default project trained by its own config.json on the
    whole real MNIST (the run tests/test_mnist_training.py checks), once per session. On the CPU
    (``n_gpu=0``), so that predict.py on its checkpoint does not warn of a missing GPU. Tests
    that use it belong to ``shared_group["mnist-trained"]``."""
    runs: dict[str, TrainedRun] = {}

    def trained(task: str) -> TrainedRun:
        if task not in runs:
            result = copie_session.copy(extra_answers={"task": task})
            assert result.exit_code == 0, result.exception
            save_dir = tmp_path_factory.mktemp(f"trained_{task}") / "saved"
            start, cpu_start = time.perf_counter(), children_cpu_seconds()
            done = python(
                "train.py",
                "-c",
                "config.json",
                "n_gpu=0",
                f"trainer.save_dir={save_dir}",
                f"data_loader.args.data_dir={mnist_data}",
                cwd=result.project_dir,
            )
            seconds, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu_start
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            (run,) = (save_dir / "models").glob("*/*")
            runs[task] = TrainedRun(result.project_dir, run, seconds, cpu)
        return runs[task]

    return trained


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
