"""Each task's default project, trained on the real MNIST, reaches its bar on the test split.

The bars: classification test accuracy >= 0.99 (1 epoch), segmentation test mean IoU >= 0.90 and
regression test MAE <= 7 degrees (3 epochs each). test.py also saves the task's figures as PNGs.
"""

import json

import matplotlib.image
import pytest

from tests.conftest import python, shared_group

BARS = {  # task: (metric in test_metrics.json, passes, figures test.py saves)
    "classification": (
        "accuracy",
        lambda value: value >= 0.99,
        {"test_confusion_matrix.png", "test_misclassified.png"},
    ),
    "segmentation": ("mean_iou", lambda value: value >= 0.90, {"test_segmentation.png"}),
    "regression": ("mae", lambda value: value <= 7.0, {"test_predicted_vs_true.png"}),
}


@pytest.mark.slow
@shared_group["mnist-trained"]
@pytest.mark.parametrize("task", list(BARS))
def test_default_project_reaches_its_bar_on_mnist(task, mnist_trained, mnist_data):
    trained = mnist_trained(task)
    project, run = trained.project, trained.run
    tested = python(
        "test.py",
        "-r",
        str(run / "model_best.pth"),
        f"data_loader.args.data_dir={mnist_data}",
        cwd=project,
    )
    assert tested.returncode == 0, tested.stderr[-3000:]
    metrics = json.loads((run / "test_metrics.json").read_text())
    name, passes, figures = BARS[task]
    print(
        f"\n{task}: test {name} {metrics[name]:.4f} ({metrics}); train.py "
        f"{trained.train_seconds:.1f} s wall, {trained.train_cpu_seconds:.1f} s CPU (user+sys)"
    )
    assert passes(metrics[name]), f"test {name} {metrics[name]}"
    assert {p.name for p in run.glob("*.png")} == figures
    for figure in figures:
        assert (run / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure
        height, width, channels = matplotlib.image.imread(run / figure).shape
        assert height >= 300 and width >= 300 and channels in (3, 4), figure
