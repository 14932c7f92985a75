"""Reads config.json, applies command-line changes, checks every value, and builds what it names.

The configuration stays a plain dict of JSON values, so checkpoints can hold it as plain data.
"""

import argparse
import difflib
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import torch

import data_loader.data_loaders as module_data
import model.loss as module_loss
import model.metric as module_metric
import model.model as module_arch
from logger import setup_logging
from model.predictions import TASK
from utils import distributed
from utils.checkpoint import PROGRAMS, find_checkpoint, load_state
from utils.util import InputError, TrainingInterrupted, read_json, write_json
from utils.validation import validate

LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
# where each section's ``type`` is looked up, and how many positional arguments the code passes
# before the config's ``args`` (the optimizer gets the parameters, a loss output and target)
SECTIONS = {
    "arch": (module_arch, 0),
    "data_loader": (module_data, 0),
    "loss": (module_loss, 2),
    "optimizer": (torch.optim, 1),
    "lr_scheduler": (torch.optim.lr_scheduler, 1),
}
JSON_KINDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


class ConfigParser:
    """The run's checked configuration plus the folders it writes to."""

    def __init__(
        self, config: dict[str, Any], resume: Path | None = None, argv: list[str] | None = None
    ):
        exported = resume is not None and resume.suffix in PROGRAMS  # runs without model code
        validate(
            config,
            {k: v for k, v in SECTIONS.items() if k != "arch" or not exported},
            module_metric,
        )
        self.config = config
        self.resume = resume
        self.argv = argv or []  # the command line, for starting DDP worker processes
        self.cli_args: argparse.Namespace | None = None  # the script's own options, if any
        self.run_dir: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, argv: list[str]) -> "ConfigParser":
        """The config of ``-c``/``-r``, then flags and ``KEY.PATH=VALUE`` overrides applied."""
        if args.device:
            os.environ["CUDA_VISIBLE_DEVICES"] = args.device
        resume = find_checkpoint(args.resume) if args.resume else None
        if resume is not None:
            state = load_state(resume)
            if state.get("task", TASK) != TASK:
                raise InputError(
                    f"{resume}: a {state['task']} model, but this project is for {TASK}; use it "
                    f"with the scripts of a {state['task']} project"
                )
            config = state["config"]
            if args.config is not None:  # the new file's values win
                config.update(read_json(args.config))
        else:
            config = read_json(args.config or "config.json")
        if not isinstance(config, dict):
            raise InputError(f"{args.config}: the top level must be a JSON object")
        flags = [f"{key}={value}" for key, value in vars(args).items() if "." in key and value]
        for key, value in map(parse_override, flags + args.overrides):
            set_by_path(config, key, value)
        parsed = cls(config, resume, argv)
        parsed.cli_args = args
        return parsed

    def __getitem__(self, name: str) -> Any:
        return self.config[name]

    def init_obj(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``<config[name]['type']>(*args, **config[name]['args'], **kwargs)``; kwargs win."""
        return self.factory(name)(*args, **{**self[name]["args"], **kwargs})

    def init_ftn(self, name: str) -> partial:
        """The function ``config[name]['type']`` with the config's args bound, uncalled."""
        return partial(self.factory(name), **self[name]["args"])

    def init_metrics(self, num_classes: int) -> dict[str, Any]:
        """``{name: model.metric.<name>()}`` for each name in the ``metrics`` list; a metric with a
        ``num_classes`` argument gets the data's (the data loader's number of class names)."""
        factories = {name: getattr(module_metric, name) for name in self["metrics"]}
        return {
            name: f(num_classes) if "num_classes" in inspect.signature(f).parameters else f()
            for name, f in factories.items()
        }

    def factory(self, name: str) -> Callable[..., Any]:
        return getattr(SECTIONS[name][0], self[name]["type"])

    def start_run(self) -> None:
        """Create (or, when resuming, reuse) the run's folders, save its config, log to its file.

        Under DDP only the main process writes; the others learn the folder from it.
        """
        if not distributed.is_main():
            self.run_dir = Path(distributed.broadcast(None))
            return
        self.run_dir = self.resume.parent if self.resume else self.new_run_dir()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.config, self.run_dir / "config.json")
        setup_logging(self.log_dir, level=LOG_LEVELS[self["trainer"]["verbosity"]])
        distributed.broadcast(str(self.run_dir))

    def new_run_dir(self) -> Path:
        """``SAVE_DIR/models/NAME/MMDD_HHMMSS``, plus a suffix if a run of that second took it."""
        parent = Path(self["trainer"]["save_dir"]) / "models" / self["name"]
        parent.mkdir(parents=True, exist_ok=True)
        run_id = datetime.now().strftime("%m%d_%H%M%S")
        for attempt in range(100):
            path = parent / (run_id if attempt == 0 else f"{run_id}_{attempt}")
            if not path.exists():
                path.mkdir()
                return path
        raise InputError(f"{parent}: cannot create a new run folder named {run_id}")

    @property
    def save_dir(self) -> Path:
        """Folder of the run's checkpoints and config copy."""
        if self.run_dir is None:
            raise RuntimeError("call start_run() first")
        return self.run_dir

    @property
    def log_dir(self) -> Path:
        """Folder of the run's info.log and logger files."""
        run = self.save_dir
        return Path(self["trainer"]["save_dir"]) / "log" / run.parent.name / run.name


def cli_parser(description: str, checkpoint_required: bool = False) -> argparse.ArgumentParser:
    """The options every script shares: -c, -r, -d, --debug and ``KEY.PATH=VALUE`` overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "-c",
        "--config",
        help="config file (default: config.json; with -r, its values replace the checkpoint's)",
    )
    parser.add_argument(
        "-r",
        "--resume",
        required=checkpoint_required,
        help="checkpoint, or a run folder (its newest checkpoint)",
    )
    parser.add_argument("-d", "--device", help="indices of GPUs to use, e.g. 2,3")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY.PATH=VALUE",
        help="change a config value, e.g. trainer.epochs=1 (value parsed as JSON if it can "
        "be, else a string); a leading + adds a key that config.json lacks",
    )
    return parser


def run_cli(
    parser: argparse.ArgumentParser,
    main: Callable[[ConfigParser], None],
    argv: list[str] | None = None,
) -> None:
    """Parse the command line and run ``main(config)``; ``config.cli_args`` holds the options.

    Bad input ends the program with exit code 2 and a one-line ``error: ...`` naming the culprit
    (``--debug`` shows the traceback instead); an interrupted run exits with 128 + the signal.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_intermixed_args(argv)
    setup_logging(None)
    try:
        main(ConfigParser.from_args(args, argv))
    except InputError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except TrainingInterrupted as interrupted:
        sys.exit(interrupted.exit_code)


def parse_override(text: str) -> tuple[str, Any]:
    """``'optimizer.args.lr=3e-4'`` -> ``('optimizer.args.lr', 0.0003)``; non-JSON: a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip("+"):
        raise InputError(f"override {text!r}: write KEY.PATH=VALUE, e.g. trainer.epochs=1")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def set_by_path(config: dict[str, Any], key: str, value: Any) -> None:
    """Set ``config['a']['b'] = value`` for key ``'a.b'``; ``'+a.b'`` may add a missing key.

    A value of another JSON type than the old one is refused (an integer for a number is fine).
    """
    *parents, last = key.lstrip("+").split(".")
    node: Any = config
    for depth, part in enumerate([*parents, last]):
        path = ".".join([*parents, last][: depth + 1])
        if not isinstance(node, dict):
            raise InputError(f"{key}: {path.rpartition('.')[0]} is not a JSON object")
        if part not in node and not (key.startswith("+") and depth == len(parents)):
            hint = difflib.get_close_matches(path, list(key_paths(config)), n=1, cutoff=0.5)
            raise InputError(
                f"unknown config key {path}; {f'did you mean {hint[0]}? ' if hint else ''}"
                f"(to add a new key, write +{key.lstrip('+')}={json.dumps(value)})"
            )
        if depth < len(parents):
            node = node[part]
    old = node.get(last)
    kinds = json_kind(old), json_kind(value)
    if None not in (old, value) and kinds[0] != kinds[1] and kinds != ("a number", "an integer"):
        raise InputError(
            f"{key.lstrip('+')}: expected {kinds[0]} like {json.dumps(old)}, got {value!r}"
        )
    node[last] = value


def json_kind(value: Any) -> str:
    """The JSON type of a value, in words for error messages."""
    return JSON_KINDS.get(type(value)) or ("a list" if isinstance(value, list) else "an object")


def key_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted key path in a nested dict, for suggestions."""
    for key, value in node.items() if isinstance(node, dict) else ():
        yield f"{prefix}{key}"
        yield from key_paths(value, f"{prefix}{key}.")
