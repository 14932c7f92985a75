"""Each task's default `folder` project, trained on the real MNIST written as PNG files by the
project's own command (`python -m data_loader mnist DIR`), reaches the bar of the MNIST projects
(classification with the digits' settings, DIGITS):
classification test accuracy >= 0.99, segmentation test mean IoU >= 0.90, regression test MAE <= 7
degrees. The PNGs are written once per task and session; `cache: true` keeps them in memory."""

import json
import shutil
import time

import pytest

from tests.conftest import python
from tests.test_mnist_training import BARS

# classification projects default to photos (PhotoNet, RGB 64 x 64, crops and flips, batches of
# 16): the digits' settings and recipe, as MNIST projects have them, for 2 epochs (1 epoch of
# the PNGs gave 0.9900 or 0.9910, on the bar)
DIGITS = [
    "arch.type=MnistNet", "data_loader.args.channels=1", "data_loader.args.image_size=[28,28]",
    "data_loader.args.mean=[0.1307]", "data_loader.args.std=[0.3081]",
    "data_loader.args.augment=[]", "data_loader.args.batch_size=256", "optimizer.args.lr=0.02",
    "lr_scheduler.args.max_lr=0.02",
]  # fmt: skip


@pytest.fixture(scope="session")
def mnist_copy(mnist_data, tmp_path_factory):
    """A copy of the real MNIST files: the command reads them, the shared folder stays untouched."""
    root = tmp_path_factory.mktemp("mnist")
    shutil.copytree(mnist_data / "MNIST", root / "MNIST")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("task", list(BARS))
def test_default_folder_project_reaches_its_bar_on_mnist_pngs(task, copie, mnist_copy, tmp_path):
    result = copie.copy(extra_answers={"task": task, "dataset": "folder"})
    assert result.exit_code == 0, result.exception
    project, data, save_dir = result.project_dir, tmp_path / "data", tmp_path / "saved"
    start = time.perf_counter()
    written = python(
        "-m", "data_loader", "mnist", str(data), "--mnist", str(mnist_copy), cwd=project
    )
    assert written.returncode == 0, written.stderr[-3000:]
    assert "wrote 10000 samples" in written.stdout or "wrote 5000 samples" in written.stdout
    write_seconds, start = time.perf_counter() - start, time.perf_counter()
    args = [f"data_loader.args.data_dir={data}", "data_loader.args.cache=true"]
    args += DIGITS if task == "classification" else []
    trained = python(
        "train.py", "-c", "config.json", f"trainer.save_dir={save_dir}", *args, cwd=project
    )
    train_seconds = time.perf_counter() - start
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    (run,) = (save_dir / "models").glob("*/*")
    tested = python("test.py", "-r", str(run / "model_best.pth"), *args, cwd=project)
    assert tested.returncode == 0, tested.stderr[-3000:]
    metrics = json.loads((run / "test_metrics.json").read_text())
    name, passes, figures = BARS[task]
    print(
        f"\n{task} (folder): test {name} {metrics[name]:.4f}; PNGs written in "
        f"{write_seconds:.1f} s, train.py {train_seconds:.1f} s wall"
    )
    assert passes(metrics[name]), metrics
    assert {p.name for p in run.glob("test_*.png")} == figures
    assert (
        metrics["class_names"]
        == {
            "classification": [str(d) for d in range(10)],
            "segmentation": ["background", *map(str, range(10))],
            "regression": ["angle"],
        }[task]
    )
