"""Predict on image files: ``python predict.py -r CHECKPOINT INPUT... [-o OUT_DIR]``.

CHECKPOINT may also be a .pt2 or .onnx file written by export.py. What is written depends on the
task (model/predictions.py); the preprocessing is test time's, from the checkpoint's config.
"""

import csv
import logging
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from data_loader.image_files import find_images, image_loader, output_names
from model.predictions import PredictionWriter
from parse_config import ConfigParser, cli_parser, run_cli
from utils import distributed
from utils.checkpoint import load_model
from utils.exported import PROGRAMS, load, load_state
from utils.util import InputError


def main(config: ConfigParser) -> None:
    with distributed.session(config["n_gpu"]) as device:
        predict(config, device)


def predict(config: ConfigParser, device: torch.device) -> None:
    """Under torchrun each process takes every world_size-th file; the main one writes the CSV."""
    args, loader_args = config.cli_args, config["data_loader"]["args"]
    files = find_images(args.inputs)
    names = output_names(files)
    if config.resume.suffix in PROGRAMS:
        model, state = load(config.resume, device)
    else:
        model, state = load_model(config).to(device), load_state(config.resume)
    mine = list(range(distributed.rank(), len(files), distributed.world_size()))
    loader = image_loader([files[i] for i in mine], loader_args, args.workers)
    shown = distributed.is_main() and sys.stderr.isatty()
    rows, skipped, folder = [], [], Path(args.output or config.resume.parent / "predictions")
    with distributed.staged_output(folder) as staging:
        writer = PredictionWriter(staging, state.get("class_names"), loader_args)
        with torch.inference_mode():
            for indices, images, errors in tqdm(loader, "predict", disable=not shown):
                if errors and not args.skip_bad_files:
                    raise InputError(f"{errors[0]}; pass --skip-bad-files to skip such files")
                skipped += errors
                if images is not None:
                    outputs = model(images.to(device))
                    rows += writer.rows([names[mine[i]] for i in indices], images, outputs)
        rows, skipped = distributed.gather(rows), distributed.gather(skipped)
        if writer.header is not None and distributed.is_main():
            order = {name: i for i, name in enumerate(names)}
            with open(staging / "predictions.csv", "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(
                    [writer.header, *sorted(rows, key=lambda r: order[r[0]])]
                )
    logger = logging.getLogger("predict")
    for error in skipped:
        logger.warning(f"skipped {error}")
    logger.info(f"Predicted {len(files) - len(skipped)} of {len(files)} files: {folder}")


def cli(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` defaults to ``sys.argv[1:]``."""
    parser = cli_parser("Predict on image files with a trained model.", checkpoint_required=True)
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders (searched recursively) or glob patterns",
    )
    parser.add_argument(
        "-o", "--output", help="output folder (default: predictions/ beside the checkpoint)"
    )
    parser.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="skip unreadable or corrupt images, with a count, instead of stopping",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes that decode images (default: 2)"
    )
    run_cli(parser, main, argv)


if __name__ == "__main__":
    cli()
