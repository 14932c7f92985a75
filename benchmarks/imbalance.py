"""Imbalanced classes: plain training versus balanced class weights versus the balanced sampler.

    python benchmarks/imbalance.py                          # 8 classes, 80 down to 10 crops
    python benchmarks/imbalance.py --epochs 15 --seeds 3 --size 32 --augment

Renders the classification `folder` project, writes real-photo crops (tests/photos.py: crops of
the sample photos of scikit-image and scikit-learn, training crops from the top of each photo,
test crops from the bottom) with imbalanced training classes (80, 70, ..., 10 crops) and a
balanced test set (20 crops per class), then trains the default folder model with each setting
and evaluates it with test.py. On a balanced test set the accuracy is the macro recall; the
rarest class's recall and the worst class's recall show what the imbalance costs. All runs of
all settings share one Python process (one start-up). Prints one JSON object: per setting, the
mean over seeds and each seed's numbers.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.photos import classification_folder  # noqa: E402

SETTINGS = {
    "plain": [],
    "class_weights": ["loss.class_weights=balanced"],
    "sampler": ["data_loader.args.sampler=balanced"],
}

RUNS = r"""
import json, sys
from pathlib import Path
import test, train
for name, args, save_dir in json.loads(sys.argv[1]):
    train.cli(args)
    (best,) = Path(save_dir).glob("models/*/*/model_best.pth")
    test.cli(["-r", str(best), *args[2:]])
    metrics = json.loads((best.parent / "test_metrics.json").read_text())
    print("RESULT", json.dumps([name, metrics]), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--augment", action="store_true", help="random resized crops and flips")
    options = parser.parse_args()
    counts = list(range(80, 9, -10))  # 80, 70, ..., 10 training crops
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project, data = work / "project", work / "data"
        render = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref"]
        render += ["HEAD", "--data", "dataset=folder", str(REPO), str(project)]
        subprocess.run(render, check=True, capture_output=True)
        names = classification_folder(data, len(counts), counts, 20)
        crops = {name: len(list((data / "train" / name).iterdir())) for name in names}
        rarest = names.index(min(names, key=crops.get))
        config = json.loads((project / "config.json").read_text())
        arch = config["arch"]["args"]  # before the model followed the data, its classes were set
        shape = {"num_classes": len(names), "in_channels": 3} if "num_classes" in arch else {}
        common = [
            f"data_loader.args.data_dir={data}",
            "data_loader.args.channels=3",
            "data_loader.args.mean=[0.5, 0.5, 0.5]",
            "data_loader.args.std=[0.25, 0.25, 0.25]",
            f"data_loader.args.image_size=[{options.size}, {options.size}]",
            "data_loader.args.num_workers=0",
            "data_loader.args.cache=true",
            *([f"arch.args={json.dumps({**arch, **shape})}"] if shape else []),
        ]
        if options.augment:  # what the rare classes' repeated crops need most
            crop = {"size": [options.size] * 2, "scale": [0.5, 1.0], "antialias": True}
            steps = [{"type": "RandomResizedCrop", "args": crop}]
            steps += [{"type": "RandomHorizontalFlip", "args": {}}]
            common.append(f"data_loader.args.augment={json.dumps(steps)}")
        runs = []
        for seed in range(options.seeds):
            for name, extra in SETTINGS.items():
                save_dir = work / f"saved-{name}-{seed}"
                args = ["-c", "config.json", *common, f"trainer.save_dir={save_dir}"]
                args += [f"seed={seed}", f"trainer.epochs={options.epochs}", "trainer.verbosity=0"]
                args += ["data_loader.args.batch_size=32", *extra]
                runs.append((name, args, str(save_dir)))
        done = subprocess.run(
            [sys.executable, "-c", RUNS, json.dumps(runs)],
            cwd=project,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
    per_setting: dict[str, list[dict]] = {name: [] for name in SETTINGS}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            name, metrics = json.loads(line.removeprefix("RESULT "))
            recall = [metrics["per_class"][c]["recall"] for c in names]
            per_setting[name].append(
                {
                    "accuracy": round(metrics["accuracy"], 4),
                    "macro_recall": round(statistics.mean(recall), 4),
                    "rarest_class_recall": round(recall[rarest], 4),  # 10 training crops
                    "worst_class_recall": round(min(recall), 4),
                }
            )
    summary = {
        name: {
            **{key: round(statistics.mean(r[key] for r in runs), 4) for key in runs[0]},
            "seeds": runs,
        }
        for name, runs in per_setting.items()
    }
    setup = {"train_crops": crops, "test_crops_per_class": 20}
    print(json.dumps({**setup, **vars(options), "results": summary}, indent=2))


if __name__ == "__main__":
    main()
