"""Export a checkpoint for deployment: ``python export.py -r CHECKPOINT --format FORMAT [-o PATH]``.

safetensors (weights, no pickle), pt2 (torch.export) or onnx, with a dynamic batch size and, as
JSON metadata, what predict.py needs. Each export is checked against the checkpoint's model.
"""

import importlib
import io
import json
import logging
from pathlib import Path

import safetensors.torch
import torch
from torch import nn

from model.predictions import TASK
from parse_config import ConfigParser, cli_parser, run_cli
from predict import KEY, load_program
from utils.checkpoint import load_checkpoint, load_model
from utils.util import InputError, atomic_open

FORMATS = ("safetensors", "pt2", "onnx")
PREPROCESSING = ("image_size", "channels", "mean", "std")
TOLERANCE = 1e-4
CHECK_BATCH = 256


def main(config: ConfigParser) -> None:
    fmt, args = config.cli_args.format, config["data_loader"]["args"]
    path = Path(config.cli_args.output or config.resume.with_suffix(f".{fmt}"))
    model = load_model(config)
    loader = config.init_obj(
        "data_loader", shuffle=False, validation_split=0, training=False, batch_size=CHECK_BATCH
    )
    inputs = next(iter(loader))[0]
    meta = {
        "task": TASK,
        "arch": config["arch"],
        "class_names": load_checkpoint(config.resume).get("class_names"),
        "preprocessing": {key: args[key] for key in PREPROCESSING if key in args},
        "config": config.config,
    }
    data = serialize(model, inputs, fmt, json.dumps(meta))
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    if fmt == "safetensors":  # loaded back as a consumer would
        exported = config.init_model(meta["class_names"], True).eval()
        exported.load_state_dict(safetensors.torch.load_file(path))
    else:
        exported = load_program(path)[0]
    with torch.inference_mode():
        difference = (exported(inputs) - model(inputs)).abs().max().item()
    print(
        f"{path}: largest absolute difference to PyTorch on {len(inputs)} inputs {difference:.3g}"
    )
    if not difference <= TOLERANCE:
        path.unlink()
        raise InputError(
            f"{path}: removed, its outputs differ from PyTorch's by more than {TOLERANCE}"
        )
    logging.getLogger("export").info(f"Exported {path}")


def serialize(model: nn.Module, example: torch.Tensor, fmt: str, meta: str) -> bytes:
    """``model`` as ``fmt`` with a dynamic batch size (traced on ``example``)."""
    if fmt == "safetensors":
        weights = {name: value.contiguous() for name, value in model.state_dict().items()}
        return safetensors.torch.save(weights, metadata={KEY: meta})
    dynamic = ({0: torch.export.Dim("batch", min=1)},)
    if fmt == "pt2":
        buffer = io.BytesIO()
        program = torch.export.export(model, (example,), dynamic_shapes=dynamic)
        torch.export.save(program, buffer, extra_files={KEY: meta})
        return buffer.getvalue()
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            importlib.import_module(name)
        except ImportError:
            raise InputError(
                f'ONNX export and inference need {name}: pip install -e ".[export]"'
            ) from None
    for name in ("onnxscript", "onnx_ir"):  # their INFO lines on every pass would flood the log
        logging.getLogger(name).setLevel(logging.WARNING)
    program = torch.onnx.export(
        model, (example,), dynamo=True, dynamic_shapes=dynamic, input_names=["input"], verbose=False
    )
    program.model.metadata_props[KEY] = meta
    return program.model_proto.SerializeToString()


def cli(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` defaults to ``sys.argv[1:]``."""
    parser = cli_parser("Export a checkpoint for deployment.", checkpoint_required=True)
    parser.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    parser.add_argument(
        "-o",
        "--output",
        help="file to write (default: the checkpoint's path with the format's suffix)",
    )
    run_cli(parser, main, argv)


if __name__ == "__main__":
    cli()
