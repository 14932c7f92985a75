"""Benchmark the image-folder pipeline of a `dataset: folder` project, and the default MNIST
project's time to 99% before and after torchvision came in.

    python benchmarks/data_pipeline.py ../shared/data                 # the folder with MNIST/raw/
    python benchmarks/data_pipeline.py ../shared/data --before v0.1.0 --skip-pipeline

Renders the classification folder project, writes MNIST's 60,000 training digits as PNG files
with its `python -m data_loader mnist`, then measures, with 2 worker processes, batch 256 and a
RandomCrop(28, padding=2) augmentation on both sides:
- images/s of our loader (decode_image, v2 augmentation on uint8, one normalisation per batch),
  uncached and with `cache: true`, and of a plain torchvision `ImageFolder` + PIL + `ToTensor` +
  `Normalize` pipeline with `default_collate` on the same files; their ratio;
- the epoch time with and without the cache (the second epoch: workers started, files checked).
Then the time to 99%: `python train.py` wall time of the default MNIST project rendered from
`--before` (a git ref: the template before torchvision) and from the working tree, alternating,
each followed by test.py's accuracy. Prints one JSON object.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PIPELINES = r"""
import json, sys, time
sys.path.insert(0, ".")  # the rendered project
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms as T
import data_loader.data_loaders as module_data

data, workers = sys.argv[1], int(sys.argv[2])
config = json.load(open("config.json"))["data_loader"]["args"]
augment = [{"type": "RandomCrop", "args": {"size": [28, 28], "padding": 2}}]

def rate(loader, epochs=2):
    seconds = []
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for images, _ in loader:
            n += len(images)
        seconds.append(time.perf_counter() - start)
    return n / seconds[-1], seconds[-1]

results = {}
for cache in (False, True):
    torch.manual_seed(0)
    start = time.perf_counter()
    loader = module_data.ImageFolderDataLoader(**{**config, "data_dir": data, "batch_size": 256,
        "validation_split": 0, "num_workers": workers, "augment": augment, "cache": cache})
    checked = time.perf_counter() - start
    per_s, epoch = rate(loader)
    key = "cached" if cache else "uncached"
    results[f"ours_{key}_images_per_s"] = round(per_s)
    results[f"ours_{key}_epoch_s"] = round(epoch, 2)
    results[f"ours_{key}_startup_check_s"] = round(checked, 2)
plain = datasets.ImageFolder(f"{data}/train", transform=T.Compose([
    T.RandomCrop(28, padding=2), T.ToTensor(), T.Normalize([0.1307], [0.3081])]))
loader = DataLoader(plain, batch_size=256, shuffle=True, num_workers=workers,
                    persistent_workers=True)
per_s, epoch = rate(loader)
results["plain_imagefolder_pil_images_per_s"] = round(per_s)
results["plain_imagefolder_pil_epoch_s"] = round(epoch, 2)
for key in ("uncached", "cached"):
    results[f"ratio_{key}_vs_plain"] = round(results[f"ours_{key}_images_per_s"] / per_s, 2)
print(json.dumps(results))
"""


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def render(destination: Path, ref: str | None, **answers: str) -> Path:
    data = [f"--data={key}={value}" for key, value in answers.items()]
    vcs = ["--vcs-ref", ref] if ref else ["--vcs-ref", "HEAD"]
    copier = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", *vcs, *data]
    run([*copier, str(REPO), str(destination)], REPO)
    return destination


def time_to_99(project: Path, mnist: Path, save_dir: Path) -> dict:
    start = time.perf_counter()
    run(
        [
            sys.executable,
            "train.py",
            "-c",
            "config.json",
            f"trainer.save_dir={save_dir}",
            f"data_loader.args.data_dir={mnist}",
        ],
        project,
    )
    seconds = time.perf_counter() - start
    (checkpoint,) = save_dir.glob("models/*/*/model_best.pth")
    run(
        [sys.executable, "test.py", "-r", str(checkpoint), f"data_loader.args.data_dir={mnist}"],
        project,
    )
    accuracy = json.loads((checkpoint.parent / "test_metrics.json").read_text())["accuracy"]
    shutil.rmtree(save_dir)
    return {"seconds": round(seconds, 1), "accuracy": round(accuracy, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="folder that holds MNIST/raw/")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", default="621e323", help="git ref of the template before")
    parser.add_argument("--repeats", type=int, default=2, help="time-to-99%% runs of each")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-time-to-99", action="store_true")
    args = parser.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mnist = tmp / "mnist"
        shutil.copytree(args.data_dir / "MNIST", mnist / "MNIST")  # the original stays untouched
        if not args.skip_pipeline:
            project = render(tmp / "folder", None, dataset="folder")
            run(
                [
                    sys.executable,
                    "-m",
                    "data_loader",
                    "mnist",
                    str(tmp / "png"),
                    "--mnist",
                    str(mnist),
                ],
                project,
            )
            script = tmp / "pipelines.py"
            script.write_text(PIPELINES)
            measured = run(
                [sys.executable, str(script), str(tmp / "png"), str(args.workers)], project
            )
            results.update(json.loads(measured.stdout.strip().splitlines()[-1]))
        if not args.skip_time_to_99:
            projects = {
                "before": render(tmp / "before", args.before),
                "after": render(tmp / "after", None),
            }
            runs: dict = {"before": [], "after": []}
            for _ in range(args.repeats):
                for name, project in projects.items():
                    runs[name].append(time_to_99(project, mnist, tmp / f"saved_{name}"))
            for name, measured in runs.items():
                results[f"time_to_99_{name}_s"] = statistics.median(r["seconds"] for r in measured)
                results[f"time_to_99_{name}_runs"] = measured
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
