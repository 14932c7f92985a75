"""Benchmark predict.py and the exported models of the default project on the CPU.

    python benchmarks/predict_bench.py ../shared/data      # the folder that holds MNIST/raw/
    python benchmarks/predict_bench.py DATA --images 1000 --repeats 5

Renders the default project, trains it for a few steps (speed does not depend on accuracy),
writes the first ``--images`` MNIST test digits as PNG files, exports pt2 and onnx, then measures:
- predict.py throughput: images per second of the whole ``python predict.py`` process on the PNG
  folder (start-up, decoding in DataLoader workers, CSV included), for each ``--workers``;
- latency of one forward pass at batch 1 and batch 256 (median over ``--repeats`` after a warm-up)
  of PyTorch eager, the torch.export program (.pt2) and ONNX Runtime.
Prints one JSON object. Not part of the test suite.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs inside the rendered project: the test digits as PNG files.
WRITE_PNGS = r"""
import sys
from pathlib import Path
from torchvision.io import write_png
from data_loader.mnist import load_mnist
images, _ = load_mnist(sys.argv[1], train=False)
Path(sys.argv[2]).mkdir()
for i, image in enumerate(images[: int(sys.argv[3])]):
    write_png(image[None], f"{sys.argv[2]}/{i:05d}.png")
"""

# Runs inside the rendered project: median latency of each runtime, in milliseconds.
LATENCY = r"""
import json, statistics, sys, time
from pathlib import Path
import torch
from parse_config import ConfigParser
from predict import load_program
from utils.checkpoint import load_checkpoint, load_model
checkpoint, repeats = Path(sys.argv[1]), int(sys.argv[2])
cpu = torch.device("cpu")
runtimes = {
    "eager": load_model(ConfigParser(load_checkpoint(checkpoint)["config"], checkpoint)),
    "pt2": load_program(checkpoint.with_suffix(".pt2"), cpu)[0],
    "onnxruntime": load_program(checkpoint.with_suffix(".onnx"), cpu)[0],
}
results = {}
with torch.inference_mode():
    for batch in (1, 256):
        inputs = torch.randn(batch, 1, 28, 28)
        for name, model in runtimes.items():
            model(inputs)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                model(inputs)
                times.append(time.perf_counter() - start)
            results[f"{name}_batch{batch}_ms"] = round(1000 * statistics.median(times), 3)
print(json.dumps(results))
"""


def run(args: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds and stdout of ``args``, which must succeed."""
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="folder that holds MNIST/raw/")
    parser.add_argument("--images", type=int, default=10000, help="PNG files to predict on")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="predict.py's")
    parser.add_argument("--repeats", type=int, default=50, help="timed passes per latency")
    args = parser.parse_args()
    data_dir, python = args.data_dir.resolve(), sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        project, save_dir, pngs = Path(tmp) / "project", Path(tmp) / "saved", Path(tmp) / "png"
        copier = ["-m", "copier", "copy", "--quiet", "--trust", "--defaults", "--vcs-ref", "HEAD"]
        run([python, *copier, "--data", "n_gpu=0", str(REPO), str(project)], REPO)
        run(
            [
                python,
                "train.py",
                "-c",
                "config.json",
                f"trainer.save_dir={save_dir}",
                f"data_loader.args.data_dir={data_dir}",
                "trainer.epochs=1",
                "trainer.len_epoch=20",
                "data_loader.args.validation_split=256",
            ],
            project,
        )
        (checkpoint,) = (save_dir / "models").glob("*/*/model_best.pth")
        run([python, "-c", WRITE_PNGS, str(data_dir), str(pngs), str(args.images)], project)
        for fmt in ("pt2", "onnx"):
            run([python, "export.py", "-r", str(checkpoint), "--format", fmt], project)
        results = {"images": args.images}
        for workers in args.workers:
            seconds, _ = run(
                [
                    python,
                    "predict.py",
                    "-r",
                    str(checkpoint),
                    str(pngs),
                    "-o",
                    f"{tmp}/out{workers}",
                    "--workers",
                    str(workers),
                ],
                project,
            )
            results[f"predict_workers{workers}_images_per_s"] = round(args.images / seconds)
            results[f"predict_workers{workers}_s"] = round(seconds, 2)
        results["help_s"] = round(
            min(run([python, "predict.py", "--help"], project)[0] for _ in range(3)), 2
        )
        _, latency = run([python, "-c", LATENCY, str(checkpoint), str(args.repeats)], project)
        results.update(json.loads(latency))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
