"""What tune.py costs: a trial against a plain train.py run of the same config, and a 6-trial
sweep with 1 and with 2 workers.

    python benchmarks/tune_bench.py ../shared/data          # the folder that holds MNIST/raw/

Renders the default project (on the CPU) into a temporary folder and measures, on the whole MNIST
training split with 2 epochs of `trainer.len_epoch` batches (default 40):
- `train_py_s`: wall time of `python train.py` (start-up included), best of `--repeats`;
- `tune_trial_s`: wall time of `python tune.py --trials N` divided by N, where every trial trains
  that same config (one categorical choice, no pruning), best of `--repeats`; `trial_ratio` is
  `tune_trial_s / train_py_s`;
- `sweep_1_worker_s`, `sweep_2_workers_s`: wall time of a 6-trial sweep of the default search
  space, without pruning, with `--workers 1` and `--workers 2`.
Prints one JSON object.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="folder that holds MNIST/raw/")
    parser.add_argument("--len-epoch", type=int, default=40, help="batches per epoch")
    parser.add_argument("--trials", type=int, default=3, help="trials of the per-trial figure")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tune-bench-"))
    project = work / "project"
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref", "HEAD",
         "--data", "n_gpu=0", str(REPO), str(project)],
        check=True, capture_output=True,
    )  # fmt: skip
    common = [
        f"data_loader.args.data_dir={Path(args.data_dir).resolve()}",
        "trainer.epochs=2",
        f"trainer.len_epoch={args.len_epoch}",
        "tune.pruner=none",
    ]
    same = 'tune.params={"seed": {"type": "categorical", "choices": [123]}}'
    python, results = sys.executable, {"cpu_count": os.cpu_count()}
    train_s, trial_s = [], []
    for repeat in range(args.repeats):  # alternating, so that load changes hit both alike
        save = f"trainer.save_dir={work / f'saved{repeat}'}"
        train_s.append(timed([python, "train.py", *common, save], project))
        sweep = [python, "tune.py", "--trials", str(args.trials), same, *common, save]
        trial_s.append(timed(sweep, project) / args.trials)
    results.update(train_py_s=min(train_s), tune_trial_s=min(trial_s))
    results["trial_ratio"] = round(results["tune_trial_s"] / results["train_py_s"], 3)
    for workers in (1, 2):
        save = f"trainer.save_dir={work / f'sweep{workers}'}"
        sweep = [python, "tune.py", "--trials", "6", "--workers", str(workers), *common, save]
        results[f"sweep_{workers}_worker{'s' if workers > 1 else ''}_s"] = timed(sweep, project)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}))


if __name__ == "__main__":
    main()
