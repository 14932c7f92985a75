"""Predict on image files: ``python predict.py -r CHECKPOINT INPUT... [-o OUT_DIR]``.

CHECKPOINT may also be a .pt2 or .onnx file written by export.py. What is written depends on the
task (model/predictions.py); the preprocessing is test time's, from the checkpoint's config.
"""

import csv
import glob
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from data_loader.images import SUFFIXES, eval_transform, read_image
from model.predictions import PredictionWriter
from parse_config import ConfigParser, cli_parser, run_cli
from utils import distributed
from utils.checkpoint import load_checkpoint, load_model, unreadable
from utils.util import InputError

PROGRAMS = (".pt2", ".onnx")  # models of export.py, which run without the model code
KEY = "pytorch_template"  # the name of the metadata in exported files


def main(config: ConfigParser) -> None:
    """Under torchrun each process takes every world_size-th file; the main one writes the CSV."""
    args, loader_args = config.cli_args, config["data_loader"]["args"]
    files = find_images(args.inputs)
    names = output_names(files)
    folder = Path(args.output or config.resume.parent / "predictions")
    with distributed.session(config["n_gpu"]) as device:
        if config.resume.suffix in PROGRAMS:
            model, state = load_program(config.resume, device)
        else:
            model, state = load_model(config).to(device), load_checkpoint(config.resume)
        mine = list(enumerate(files))[distributed.rank() :: distributed.world_size()]
        read = partial(read_images, eval_transform(loader_args), loader_args["channels"])
        loader = DataLoader(
            mine, loader_args["batch_size"], num_workers=args.workers, collate_fn=read
        )
        shown = distributed.is_main() and sys.stderr.isatty()
        rows, skipped = [], []
        with staged_output(folder) as staging, torch.inference_mode():
            writer = PredictionWriter(staging, state.get("class_names"), loader_args)
            for indices, images, errors in tqdm(loader, "predict", disable=not shown):
                if errors and not args.skip_bad_files:
                    raise InputError(f"{errors[0]}; pass --skip-bad-files to skip such files")
                skipped += errors
                if images is not None:
                    outputs = model(images.to(device))
                    rows += writer.rows([names[i] for i in indices], images, outputs)
            parts = [(rows, skipped)] * distributed.world_size()
            if distributed.is_distributed():
                dist.all_gather_object(parts, (rows, skipped))
            rows = [row for part, _ in parts for row in part]
            skipped = [error for _, part in parts for error in part]
            if writer.header is not None and distributed.is_main():
                order = {name: i for i, name in enumerate(names)}
                rows.sort(key=lambda row: order[row[0]])
                with open(staging / "predictions.csv", "w", newline="", encoding="utf-8") as handle:
                    csv.writer(handle).writerows([writer.header, *rows])
    logger = logging.getLogger("predict")
    for error in skipped:
        logger.warning(f"skipped {error}")
    logger.info(f"Predicted {len(files) - len(skipped)} of {len(files)} files: {folder}")


def read_state(path: Path) -> dict[str, Any]:
    """A checkpoint, or the metadata of a program (with config, task and class_names)."""
    return load_program(path)[1] if path.suffix in PROGRAMS else load_checkpoint(path)


def load_program(path: Path, device: Any = "cpu") -> tuple[Any, dict[str, Any]]:
    """A .pt2 or .onnx file of export.py: a function of a batch on ``device``, and its metadata."""
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    try:
        if path.suffix == ".pt2":
            extra = {KEY: ""}
            program = torch.export.load(path, extra_files=extra)
            return program.module().to(device), json.loads(extra[KEY])
        import onnxruntime  # the [export] extra

        session = onnxruntime.InferenceSession(str(path))
        meta = json.loads(session.get_modelmeta().custom_metadata_map[KEY])
    except ImportError:
        raise InputError('ONNX inference needs onnxruntime: pip install -e ".[export]"') from None
    except Exception as err:  # damaged files make each reader fail its own way
        raise unreadable(path, err, "a model exported by export.py") from None

    def run(inputs: torch.Tensor) -> torch.Tensor:
        outputs = session.run(None, {"input": inputs.cpu().numpy()})[0]
        return torch.from_numpy(outputs).to(inputs.device)

    return run, meta


def find_images(inputs: list[str]) -> list[Path]:
    """Files, image files in folders (recursively) and glob matches, once each, in order."""
    found: list[Path] = []
    for item in inputs:
        paths = sorted(glob.glob(item, recursive=True)) if glob.has_magic(item) else [item]
        for path in map(Path, paths):
            if path.is_dir():
                found += sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES)
            elif path.exists() or glob.has_magic(item):
                found.append(path)
            else:
                raise InputError(f"{item}: no such file or folder")
    if not found:
        raise InputError(
            f"no image matched {' '.join(inputs)}; give image files, folders or glob patterns"
        )
    return list(dict.fromkeys(found))


def output_names(files: list[Path]) -> list[str]:
    """Each file's path below the folder that holds all of them: its name in the outputs."""
    root = Path(os.path.commonpath([path.resolve().parent for path in files]))
    return [str(path.resolve().relative_to(root)) for path in files]


def read_images(transform: Callable, channels: int, batch: list[tuple[int, Path]]) -> tuple:
    """In a DataLoader worker: the indices and images of the readable files, others' errors."""
    indices, images, errors = [], [], []
    for index, path in batch:
        try:
            images.append(transform(read_image(path, channels)))
            indices.append(index)
        except InputError as err:  # without its last clause, the fix for training data
            errors.append(str(err).rsplit("; ", 1)[0])
    return indices, torch.stack(images) if images else None, errors


@contextmanager
def staged_output(folder: Path) -> Iterator[Path]:
    """A hidden folder in ``folder`` for every process; its files move into ``folder`` when the
    block ends without error, so a failed run leaves nothing half-written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        made = tempfile.mkdtemp(prefix=".partial-", dir=folder) if distributed.is_main() else None
        staging = Path(distributed.broadcast(made))
    except OSError as err:
        raise InputError(
            f"{folder}: cannot write there ({err.strerror}); choose another folder with -o"
        ) from None
    try:
        yield staging
        if distributed.is_main():
            for path in sorted(staging.rglob("*")):
                target = folder / path.relative_to(staging)
                if path.is_dir():
                    target.mkdir(exist_ok=True)
                else:
                    os.replace(path, target)
    finally:
        if distributed.is_main():
            shutil.rmtree(staging, ignore_errors=True)


def count(text: str) -> int:
    """An integer in 0..1024 (processes); argparse reports anything else as an "invalid count"."""
    if not 0 <= int(text) <= 1024:
        raise ValueError(text)
    return int(text)


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
        "--workers", type=count, default=2, help="processes that decode images (default: 2)"
    )
    parser.set_defaults(read_state=read_state)  # -r may be a program
    run_cli(parser, main, argv)


if __name__ == "__main__":
    cli()
