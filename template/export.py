"""Export a checkpoint for deployment: ``python export.py -r CHECKPOINT --format FORMAT [-o PATH]``.

safetensors (weights and JSON metadata, no pickle), pt2 (torch.export) or onnx; the batch size
stays dynamic. The export is checked on a batch of test inputs against the checkpoint's model.
"""

import logging
from pathlib import Path

import torch

from model.predictions import TASK
from parse_config import ConfigParser, cli_parser, run_cli
from utils.checkpoint import load_checkpoint, load_model
from utils.exported import SUFFIXES, load, metadata, save
from utils.util import InputError

TOLERANCE = 1e-4
CHECK_BATCH = 256


def main(config: ConfigParser) -> None:
    fmt, cpu = config.cli_args.format, torch.device("cpu")
    path = Path(config.cli_args.output or config.resume.with_suffix(SUFFIXES[fmt]))
    model = load_model(config)
    loader = config.init_obj(
        "data_loader", shuffle=False, validation_split=0, training=False, batch_size=CHECK_BATCH
    )
    inputs = next(iter(loader))[0]
    save(model, inputs, fmt, path, metadata(config, load_checkpoint(config.resume), TASK))
    with torch.inference_mode():
        difference = (load(path, cpu, config)[0](inputs) - model(inputs)).abs().max().item()
    print(
        f"{path}: largest absolute difference to PyTorch on {len(inputs)} inputs {difference:.3g}"
    )
    if not difference <= TOLERANCE:
        path.unlink()
        raise InputError(
            f"{path}: removed, its outputs differ from PyTorch's by more than {TOLERANCE}"
        )
    logging.getLogger("export").info(f"Exported {path}")


def cli(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` defaults to ``sys.argv[1:]``."""
    parser = cli_parser("Export a checkpoint for deployment.", checkpoint_required=True)
    parser.add_argument("--format", required=True, choices=list(SUFFIXES), help="what to write")
    parser.add_argument(
        "-o",
        "--output",
        help="file to write (default: the checkpoint's path with the format's suffix)",
    )
    run_cli(parser, main, argv)


if __name__ == "__main__":
    cli()
