"""Commands for image folders, run in the project folder:

python -m data_loader mnist DIR          # MNIST in this task's folder layout in DIR/train, test
python -m data_loader stats DIR/train    # mean and std of the images, for config.json
"""

import argparse
import json
import sys
from pathlib import Path

import torch

from data_loader.example import write_split
from data_loader.folder import image_files
from data_loader.images import read_image
from utils.util import InputError


def stats(folder: Path, channels: int) -> dict[str, list[float]]:
    """Per-channel mean and standard deviation of every pixel of the images below ``folder``,
    on the 0..1 scale that ``images.eval_transform`` normalises."""
    total, count = torch.zeros(2, channels, dtype=torch.float64), 0  # sums of values, squares
    for path in image_files(folder, "images"):
        image = read_image(path, channels).double().div_(255).flatten(1)
        total += torch.stack([image.sum(1), image.square().sum(1)])
        count += image.shape[1]
    mean = total[0] / count
    std = (total[1] / count - mean.square()).clamp(min=0).sqrt()
    return {"mean": mean.round(decimals=4).tolist(), "std": std.round(decimals=4).tolist()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m data_loader", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    mnist = commands.add_parser("mnist", help="write MNIST as PNG files in this task's layout")
    mnist.add_argument("dir", type=Path, help="where to write train/ and test/")
    mnist.add_argument("--mnist", type=Path, help="folder that holds MNIST/raw/ (default: DIR)")
    stat = commands.add_parser("stats", help="print mean and std of a folder's images")
    stat.add_argument("dir", type=Path)
    stat.add_argument("--channels", type=int, choices=(1, 3), default=1)
    args = parser.parse_args(argv)
    try:
        if args.command == "stats":
            print(json.dumps(stats(args.dir, args.channels)))
            return
        for split in ("train", "test"):
            if (args.dir / split).exists():
                raise InputError(f"{args.dir / split}: exists already; choose an empty folder")
        for split in ("train", "test"):
            count = write_split(args.mnist or args.dir, args.dir / split, split == "train")
            print(f"wrote {count} samples to {args.dir / split}")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
