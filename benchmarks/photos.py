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

    python benchmarks/photos.py --fine-tune --epochs 10             # stand-in weights vs scratch

With --fine-tune: stand-in pretrained weights (no ImageNet weights can be downloaded here), a
ResNet-18 trained from scratch for --pretrain-epochs on crops of the 11 other sample photos,
saved as torchvision's resnet18 IMAGENET1K_V1 file in a temporary TORCH_HOME; then
`TorchvisionModel` fine-tuned from them (head first, everything from epoch 3, the backbone at a
tenth of the rate) and the same from scratch (`weights: null`), same epochs; one JSON line each.
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

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.photos import classification_folder, crop, regions, save  # noqa: E402

RESNET18_FILE = "resnet18-f37072fd.pth"  # ResNet18_Weights.IMAGENET1K_V1's, in hub/checkpoints/
TORCHVISION = '{"type": "TorchvisionModel", "args": {"name": "resnet18", "weights": %s}}'
FINE_TUNE = ['trainer.freeze=["backbone"]', "trainer.unfreeze_at_epoch=3"]
FINE_TUNE += ['optimizer.param_groups=[{"prefix": "backbone", "lr_scale": 0.1}]']

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
    text = models.read_text().replace('"PhotoNet",', '"PhotoNet", "ResNet18",')
    models.write_text(text + RESNET18)


def epoch_seconds(log: Path) -> list[float]:
    """The time between the logged results of consecutive epochs."""
    stamps = [
        datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        for line in log.read_text().splitlines()
        if " - INFO -     epoch " in line
    ]
    return [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]


def other_photos(root: Path, n_classes: int, n_train: int) -> None:
    """``root/{train,test}/CLASS/*.jpg`` of the photos after the first ``n_classes``."""
    rng = np.random.default_rng(1)
    for name, image in regions(19)[n_classes:]:
        for split, count in (("train", n_train), ("test", 4)):
            for i in range(count):
                save(crop(image, rng, split == "train"), root / split / name / f"{i:04d}.jpg")


def run(project: Path, data: Path, saved: Path, overrides: list, epochs: int, env: dict) -> dict:
    """Train with config.json and ``overrides``, test model_best.pth; the figures."""
    settings = [
        f"data_loader.args.data_dir={data}", "data_loader.args.cache=true",
        f"trainer.epochs={epochs}", f"trainer.save_dir={saved}",
    ]  # fmt: skip
    start = time.perf_counter()
    for script, extra in (("train.py", [*settings, *overrides]), ("test.py", None)):
        if extra is None:
            (run,) = (saved / "models").glob("*/*")
            extra = ["-r", str(run / "model_best.pth"), *settings[:2]]
            wall = time.perf_counter() - start
        done = subprocess.run(
            [sys.executable, script, *extra], cwd=project, env=env, capture_output=True, text=True
        )
        if done.returncode:
            sys.exit(f"{script} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    metrics = json.loads((run / "test_metrics.json").read_text())
    (log,) = (saved / "log").glob("*/*/info.log")
    seconds = epoch_seconds(log)[1:] or [wall / epochs]
    return {
        "overrides": overrides,
        "test_accuracy": round(metrics["accuracy"], 4),
        "epoch_s": round(statistics.median(seconds), 2),
        "train_py_wall_s": round(wall, 1),
        "model_best": str(run / "model_best.pth"),
    }


def stand_in_weights(root: Path, project: Path, args: argparse.Namespace, env: dict) -> Path:
    """A TORCH_HOME whose resnet18 IMAGENET1K_V1 file is a ResNet-18 trained on other photos."""
    other_photos(root / "other", args.classes, args.train)
    scratch = ["arch=" + TORCHVISION % "null"]
    result = run(project, root / "other", root / "pretrain", scratch, args.pretrain_epochs, env)
    print(json.dumps({"pretrained_on_other_photos": result}), flush=True)
    state = torch.load(result["model_best"], weights_only=True)["state_dict"]
    weights = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone")}
    weights["fc.weight"] = torch.zeros(1000, 512)  # torchvision's 1000 classes; the head is new
    weights["fc.weight"][: len(state["head.bias"])] = state["head.weight"]
    weights["fc.bias"] = torch.zeros(1000)
    home = root / "torch_home"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(weights, home / "hub" / "checkpoints" / RESNET18_FILE)
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", metavar="KEY.PATH=VALUE")
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--train", type=int, default=80, help="training crops per class")
    parser.add_argument("--test", type=int, default=20, help="test crops per class")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--fine-tune", action="store_true", help="stand-in weights vs scratch")
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    config = {"classes": args.classes, "train_per_class": args.train, "epochs": args.epochs}
    config["threads"] = env["OMP_NUM_THREADS"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        classification_folder(root / "data", args.classes, args.train, args.test)
        render(root / "project")
        runs = {"": args.overrides}
        if args.fine_tune:
            env["TORCH_HOME"] = str(stand_in_weights(root, root / "project", args, env))
            pretrained = ["arch=" + TORCHVISION % '"IMAGENET1K_V1"', *FINE_TUNE, *args.overrides]
            scratch = ["arch=" + TORCHVISION % "null", *args.overrides]
            runs = {"fine_tuned": pretrained, "scratch": scratch}
        for tag, overrides in runs.items():
            saved = root / f"saved{tag}"
            result = run(root / "project", root / "data", saved, overrides, args.epochs, env)
            result.pop("model_best")
            print(json.dumps({**config, **({"run": tag} if tag else {}), **result}), flush=True)


if __name__ == "__main__":
    main()
