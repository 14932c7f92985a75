"""Benchmark the default generated project on MNIST against a bare PyTorch loop.

    python benchmarks/bench.py ../shared/data            # the folder that holds MNIST/raw/
    python benchmarks/bench.py DATA --runs 3 --threads 1

Renders the default project into a temporary folder, then measures:
- time to 99%: wall time of the whole `python train.py -c config.json` process (start-up and data
  loading included), with the test accuracy `test.py` gets from its model_best.pth, against the
  whole process of the bare reference (BARE below: the default recipe of 0.1.0 in a plain loop),
  alternating, medians of ``--runs``;
- seconds per training epoch of our Trainer and of a bare loop written here, with the same model,
  batch size, optimizer, schedule, loss and in-memory data; their ratio; samples per second;
- peak RSS of the training process, and `python train.py --help` against `import torch`;
- the time copier takes to render the default project (in-process, median of 3).
Prints one JSON object. It is not part of the test suite (tests/test_benchmark.py runs it on a
tiny subset only).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs inside the rendered project: times epochs of our Trainer and of a bare loop, alternating.
EPOCH_TIMER = r"""
import json, sys, time
import torch
import torch.nn.functional as F
from parse_config import ConfigParser
from train import build_trainer, parser
from utils.util import read_json, seed_everything

data_dir, epochs, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = ConfigParser(read_json("config.json"))
config.cli_args = parser().parse_args([])  # a plain train.py run
config.config["data_loader"]["args"]["data_dir"] = data_dir
config.config["trainer"]["epochs"] = epochs
args = config["data_loader"]["args"]

def ours():
    trainer = build_trainer(config, torch.device("cpu"))
    loader = trainer.sampler
    times = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        trainer._train_epoch(epoch)
        times.append(time.perf_counter() - start)
    return times, len(loader.indices)

def bare():
    seed_everything(config["seed"])
    loader = config.init_obj("data_loader")
    images, labels = loader.dataset.images, loader.dataset.labels
    indices = loader.batch_sampler.indices
    model = config.init_model(loader.class_names)
    optimizer = config.init_obj("optimizer", model.parameters())
    steps = (len(indices) + args["batch_size"] - 1) // args["batch_size"]
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, total_steps=epochs * steps, **config["lr_scheduler"]["args"])
    smoothing = config["loss"]["args"].get("label_smoothing", 0.0)
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        for batch in indices[torch.randperm(len(indices))].split(args["batch_size"]):
            x = images[batch].unsqueeze(1).float().div_(255).sub_(0.1307).div_(0.3081)
            loss = F.cross_entropy(model(x), labels[batch], label_smoothing=smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        times.append(time.perf_counter() - start)
    return times

results = {"ours": [], "bare": []}
for _ in range(repeats):
    our_times, n_samples = ours()
    results["ours"] += our_times
    results["bare"] += bare()
results["n_samples"] = n_samples
print(json.dumps(results))
"""

# The fixed reference for the time to 99%: the default recipe of 0.1.0 (MnistNet of width 12, 2
# epochs of 54,000 digits in batches of 256, AdamW with a one-cycle schedule to 0.02, label
# smoothing 0.1) in the shortest plain loop: torch only, no validation, checkpoint or logging; then
# its accuracy on the 10,000 test digits. It stays as it is when the project's recipe changes.
BARE = r"""
import gzip, json, sys
import torch
import torch.nn.functional as F
from torch import nn

def read(name, offset):
    with open(f"{sys.argv[1]}/MNIST/raw/{name}-ubyte.gz", "rb") as file:
        return torch.frombuffer(bytearray(gzip.decompress(file.read())[offset:]), dtype=torch.uint8)

def stage(n_in, n_out, kernel, padding):
    conv = nn.Conv2d(n_in, n_out, kernel, padding=padding, bias=False)
    return [conv, nn.MaxPool2d(2), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True)]

def normalise(images):
    x = images.unsqueeze(1).float().div_(255).sub_(0.1307).div_(0.3081)
    return x.contiguous(memory_format=torch.channels_last)

torch.manual_seed(123)
images, labels = read("train-images-idx3", 16).view(-1, 28, 28), read("train-labels-idx1", 8).long()
model = nn.Sequential(*stage(1, 12, 5, 0), *stage(12, 24, 3, 1), *stage(24, 48, 3, 1),
                      nn.Flatten(), nn.Linear(48 * 3 * 3, 10)).to(memory_format=torch.channels_last)
optimizer = torch.optim.AdamW(model.parameters(), lr=0.02, weight_decay=0.01)
train = torch.randperm(len(labels))[:54000]
epochs, batch_size = 2, 256
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=0.02, total_steps=epochs * -(-len(train) // batch_size))
for epoch in range(epochs):
    model.train()
    for batch in train[torch.randperm(len(train))].split(batch_size):
        loss = F.cross_entropy(model(normalise(images[batch])), labels[batch], label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
model.eval()
test_images = read("t10k-images-idx3", 16).view(-1, 28, 28)
test_labels = read("t10k-labels-idx1", 8)
with torch.inference_mode():
    right = sum((model(normalise(x)).argmax(1) == y).sum().item()
                for x, y in zip(test_images.split(1000), test_labels.split(1000)))
print(json.dumps({"accuracy": right / len(test_labels)}))
"""


def run_measured(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB, and stdout of ``args`` (which must succeed)."""
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def render_seconds(repeats: int = 3) -> float:
    """Median wall time of rendering the defaults with copier's run_copy, in this process: what
    `copier copy --defaults` costs beyond the interpreter's start-up."""
    from copier import run_copy

    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(repeats):
            start = time.perf_counter()
            run_copy(str(REPO), f"{tmp}/{attempt}", defaults=True, vcs_ref="HEAD", quiet=True)
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="folder that holds MNIST/raw/")
    parser.add_argument("--epochs-timed", type=int, default=2, help="epochs per epoch timing")
    parser.add_argument("--repeats", type=int, default=2, help="timings of each loop, alternating")
    parser.add_argument("--runs", type=int, default=3, help="whole runs of each, alternating")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS of every process")
    parser.add_argument("--overrides", nargs="*", default=[], help="KEY.PATH=VALUE for train.py")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter of the project's own environment, for every measured process (default:"
        " this one; an environment with more packages, e.g. scipy, makes torchmetrics import more)",
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    data_dir = args.data_dir.resolve()
    python = args.python

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "copier",
                "copy",
                "--quiet",
                "--trust",
                "--defaults",
                "--vcs-ref",
                "HEAD",
                str(REPO),
                str(project),
            ],
            check=True,
            capture_output=True,
        )
        # start-up: `--help` against `import torch` alone, alternating
        help_s, torch_s = [], []
        for _ in range(args.runs + 2):
            help_s.append(run_measured([python, "train.py", "--help"], project)[0])
            torch_s.append(run_measured([python, "-c", "import torch"], project)[0])
        # time to 99%: the whole train.py process against the whole bare reference, alternating
        ours_s, bare_s, accuracies, bare_accuracies, peak_rss = [], [], [], [], 0.0
        for attempt in range(args.runs):
            save_dir = Path(tmp) / f"saved{attempt}"
            train_args = [
                python,
                "train.py",
                "-c",
                "config.json",
                f"trainer.save_dir={save_dir}",
                f"data_loader.args.data_dir={data_dir}",
                *args.overrides,
            ]
            wall, rss, _ = run_measured(train_args, project)
            ours_s.append(wall)
            peak_rss = max(peak_rss, rss)
            (run_dir,) = (save_dir / "models").glob("*/*")
            checkpoint = str(run_dir / "model_best.pth")
            test_args = ["test.py", "-r", checkpoint, f"data_loader.args.data_dir={data_dir}"]
            run_measured([python, *test_args], project)
            accuracies.append(json.loads((run_dir / "test_metrics.json").read_text())["accuracy"])
            wall, _, output = run_measured([python, "-c", BARE, str(data_dir)], project)
            bare_s.append(wall)
            bare_accuracies.append(json.loads(output.strip().splitlines()[-1])["accuracy"])
        _, _, timings = run_measured(
            [python, "-c", EPOCH_TIMER, str(data_dir), str(args.epochs_timed), str(args.repeats)],
            project,
        )
    epochs = json.loads(timings.strip().splitlines()[-1])
    ours, bare = min(epochs["ours"]), min(epochs["bare"])
    print(
        json.dumps(
            {
                "time_to_99_s_ours": round(statistics.median(ours_s), 2),
                "time_to_99_s_bare": round(statistics.median(bare_s), 2),
                "time_to_99_ratio": round(statistics.median(ours_s) / statistics.median(bare_s), 3),
                "train_py_runs_s": [round(t, 2) for t in ours_s],
                "bare_runs_s": [round(t, 2) for t in bare_s],
                "test_accuracy": statistics.median(accuracies),
                "reached_99": min(accuracies) >= 0.99,
                "bare_test_accuracy": statistics.median(bare_accuracies),
                "epoch_s_ours": round(ours, 3),
                "epoch_s_bare": round(bare, 3),
                "overhead_ratio": round(ours / bare, 3),
                "samples_per_s_ours": round(epochs["n_samples"] / ours),
                "samples_per_s_bare": round(epochs["n_samples"] / bare),
                "peak_rss_mib": round(peak_rss),
                "startup_help_s": round(statistics.median(help_s), 2),
                "import_torch_s": round(statistics.median(torch_s), 2),
                "help_over_torch": round(statistics.median(help_s) / statistics.median(torch_s), 3),
                "render_defaults_s": round(render_seconds(), 2),
                "cpu_count": os.cpu_count(),
                "threads": args.threads,
                "python": python,
                "load_average": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
