"""Benchmark a folder classification project on real photos: test accuracy and epoch time.

    python benchmarks/photos.py                                   # the default model, 15 epochs
    python benchmarks/photos.py arch.type=ResNet18                # torchvision's, from scratch

Writes the photo dataset of tests/photos.py (8 classes, one per sample photo of scikit-image and
scikit-learn; 80 training crops of mixed sizes per class from the top of each photo, 20 test crops
from the bottom), renders the classification folder project, trains it on the CPU with its
config.json (`cache: true`, `trainer.epochs` = --epochs) and the overrides given, then evaluates
model_best.pth with test.py. `ResNet18` is torchvision's `resnet18(num_classes=N)` for
`in_channels` 3, added to the rendered project's models here only. Prints one JSON object: test
accuracy, seconds per epoch (training and validation, from info.log's timestamps; the first
epoch left out), train.py's wall time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.photos import classification_folder  # noqa: E402

RESNET18 = '''

class ResNet18(BaseModel):
    """torchvision's ResNet-18, from scratch (benchmarks/photos.py adds it)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        import torchvision

        assert in_channels == 3
        self.net = torchvision.models.resnet18(num_classes=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
'''


def render(project: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "-q", "--trust", "--defaults", "--vcs-ref",
         "HEAD", "--data", "dataset=folder", "--data", "n_gpu=0", str(REPO), str(project)],
        check=True, capture_output=True,
    )  # fmt: skip
    models = project / "model" / "model.py"
    text = models.read_text().replace('"PhotoNet"]', '"PhotoNet", "ResNet18"]')
    models.write_text(text + RESNET18)


def epoch_seconds(log: Path) -> list[float]:
    """The time between the logged results of consecutive epochs."""
    stamps = [
        datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        for line in log.read_text().splitlines()
        if " - INFO -     epoch " in line
    ]
    return [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", metavar="KEY.PATH=VALUE")
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--train", type=int, default=80, help="training crops per class")
    parser.add_argument("--test", type=int, default=20, help="test crops per class")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        classification_folder(root / "data", args.classes, args.train, args.test)
        render(root / "project")
        settings = [
            f"data_loader.args.data_dir={root / 'data'}", "data_loader.args.cache=true",
            f"trainer.epochs={args.epochs}", f"trainer.save_dir={root / 'saved'}",
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        start = time.perf_counter()
        for script, extra in (("train.py", [*settings, *args.overrides]), ("test.py", None)):
            if extra is None:
                (run,) = (root / "saved" / "models").glob("*/*")
                extra = ["-r", str(run / "model_best.pth"), *settings[:2]]
                wall = time.perf_counter() - start
            done = subprocess.run(
                [sys.executable, script, *extra], cwd=root / "project", env=env,
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode:
                sys.exit(f"{script} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        metrics = json.loads((run / "test_metrics.json").read_text())
        (log,) = (root / "saved" / "log").glob("*/*/info.log")
        seconds = epoch_seconds(log)[1:] or [wall / args.epochs]
    config = {"classes": args.classes, "train_per_class": args.train, "epochs": args.epochs}
    print(
        json.dumps(
            {
                **config,
                "overrides": args.overrides,
                "test_accuracy": round(metrics["accuracy"], 4),
                "epoch_s": round(statistics.median(seconds), 2),
                "train_py_wall_s": round(wall, 1),
                "threads": env["OMP_NUM_THREADS"],
            }
        )
    )


if __name__ == "__main__":
    main()
