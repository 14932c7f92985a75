"""Benchmark the default generated project on MNIST against a bare PyTorch loop.

    python benchmarks/bench.py ../shared/data            # the folder that holds MNIST/raw/
    python benchmarks/bench.py DATA --epochs-timed 2 --repeats 2

Renders the default project into a temporary folder, then measures:
- time to 99%: wall time of the whole `python train.py -c config.json` process (start-up and data
  loading included), with the test accuracy `test.py` gets from its model_best.pth;
- seconds per training epoch of our Trainer and of a bare loop written here, with the same model,
  batch size, optimizer, schedule, loss and in-memory data; their ratio; samples per second;
- peak RSS of the training process, and the wall time of `python train.py --help`;
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
    parser.add_argument("--overrides", nargs="*", default=[], help="KEY.PATH=VALUE for train.py")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    python = sys.executable

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        subprocess.run(
            [
                python,
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
        startup = min(run_measured([python, "train.py", "--help"], project)[0] for _ in range(3))
        save_dir = Path(tmp) / "saved"
        train_args = [
            python,
            "train.py",
            "-c",
            "config.json",
            f"trainer.save_dir={save_dir}",
            f"data_loader.args.data_dir={data_dir}",
            *args.overrides,
        ]
        wall, peak_rss, _ = run_measured(train_args, project)
        (run_dir,) = (save_dir / "models").glob("*/*")
        run_measured(
            [
                python,
                "test.py",
                "-r",
                str(run_dir / "model_best.pth"),
                f"data_loader.args.data_dir={data_dir}",
            ],
            project,
        )
        test = json.loads((run_dir / "test_metrics.json").read_text())
        _, _, timings = run_measured(
            [python, "-c", EPOCH_TIMER, str(data_dir), str(args.epochs_timed), str(args.repeats)],
            project,
        )
    epochs = json.loads(timings.strip().splitlines()[-1])
    ours, bare = min(epochs["ours"]), min(epochs["bare"])
    print(
        json.dumps(
            {
                "train_py_wall_s": round(wall, 2),
                "test_accuracy": test["accuracy"],
                "reached_99": test["accuracy"] >= 0.99,
                "epoch_s_ours": round(ours, 3),
                "epoch_s_bare": round(bare, 3),
                "overhead_ratio": round(ours / bare, 3),
                "samples_per_s_ours": round(epochs["n_samples"] / ours),
                "samples_per_s_bare": round(epochs["n_samples"] / bare),
                "peak_rss_mib": round(peak_rss),
                "startup_help_s": round(startup, 2),
                "render_defaults_s": round(render_seconds(), 2),
                "cpu_count": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
