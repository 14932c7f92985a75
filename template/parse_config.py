"""The config: read, changed on the command line, checked, built; a JSON dict a checkpoint holds."""

import argparse
import atexit
import difflib
import gc
import importlib
import itertools
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from logger import setup_logging
from utils import distributed
from utils.checkpoint import find_checkpoint, load_checkpoint
from utils.util import InputError, TrainingInterrupted, declared, read_json, write_json

# the module where each section's ``type`` is looked up (imported when a config is read: --help
# needs none), and how many positional arguments the code passes before the config's ``args``
# (the optimizer gets the parameters, a loss output and target)
SECTIONS = {
    "arch": ("model.model", 0),
    "data_loader": ("data_loader.data_loaders", 0),
    "loss": ("model.loss", 2),
    "optimizer": ("torch.optim", 1),
    "lr_scheduler": ("torch.optim.lr_scheduler", 1),
}


class ConfigParser:
    """The run's checked configuration plus the folders it writes to."""

    def __init__(self, config: dict[str, Any], resume: Path | None = None, check_arch: bool = True):
        from utils.validation import validate  # jsonschema and torchvision: not for --help

        validate(config, {k: v for k, v in SECTIONS.items() if check_arch or k != "arch"})
        self.config, self.resume = config, resume
        self.argv: list[str] = []  # the command line, for starting DDP worker processes
        self.cli_args: argparse.Namespace | None = None  # the script's own options, if any
        self.save_dir = self.log_dir = None  # the run's folders: start_run() sets them

    @classmethod
    def from_args(cls, args: argparse.Namespace, argv: list[str]) -> "ConfigParser":
        """-c's config over -r's (``args.read_state``; one without weights has no arch to check)."""
        if args.device:
            os.environ["CUDA_VISIBLE_DEVICES"] = args.device
        path = args.config or (None if args.resume else "config.json")
        config = read_json(path) if path else {}
        if not isinstance(config, dict):
            raise InputError(f"{path}: the top level must be a JSON object")
        from model.predictions import TASK  # with its metrics: torchmetrics, not for --help

        resume = find_checkpoint(args.resume) if args.resume else None
        state = args.read_state(resume) if resume else {"config": {}}
        if state.get("task", TASK) != TASK:
            raise InputError(f"{resume}: a {state['task']} model; this project is for {TASK}")
        config = {**state["config"], **config}  # -c's values win
        flags = [f"{key}={value}" for key, value in vars(args).items() if "." in key and value]
        for key, value in map(parse_override, flags + args.overrides):
            set_by_path(config, key, value)
        parsed = cls(config, resume, resume is None or "state_dict" in state)
        parsed.cli_args, parsed.argv = args, argv
        return parsed

    def __getitem__(self, name: str) -> Any:
        return self.config[name]

    def init_obj(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``<config[name]['type']>(*args, **config[name]['args'], **kwargs)``; kwargs win."""
        return self.factory(name)(*args, **{**self[name]["args"], **kwargs})

    def init_model(self, class_names: list[str] | None, from_checkpoint: bool = False) -> Any:
        """``arch`` in the data's shape; ``from_checkpoint``: without pretrained weights."""
        n = len(class_names) if class_names else None  # None: the arch's default
        channels = self["data_loader"]["args"]["channels"]
        shape = declared(self.factory("arch"), num_classes=n, num_outputs=n, in_channels=channels)
        for key, value in shape.items():
            if self["arch"]["args"].get(key, value) != value:
                raise InputError(
                    f"arch.args.{key} is {self['arch']['args'][key]}, the data's is {value}; "
                    f"delete arch.args.{key}: the model gets it from the data"
                )
        scratch = getattr(self.factory("arch"), "from_scratch", {}) if from_checkpoint else {}
        return self.init_obj("arch", **shape, **scratch)

    def init_ftn(self, name: str, **kwargs: Any) -> partial:
        """The function ``config[name]['type']`` with the config's args (kwargs win) bound."""
        return partial(self.factory(name), **{**self[name]["args"], **kwargs})

    def init_metrics(self, n: int) -> dict[str, Any]:
        """``{name: model.metric.<name>()}`` of ``metrics``; ``num_classes=n`` where declared."""
        metrics = importlib.import_module("model.metric")
        factories = {name: getattr(metrics, name) for name in self["metrics"]}
        return {name: f(**declared(f, num_classes=n)) for name, f in factories.items()}

    def factory(self, name: str) -> Callable[..., Any]:
        return getattr(importlib.import_module(SECTIONS[name][0]), self[name]["type"])

    def start_run(self) -> None:
        """Make (resuming: reuse) the run's folders, save the config, log there (main process)."""
        if distributed.is_main():
            self.save_dir = self.resume.parent if self.resume else self.new_run_dir()
        self.save_dir = Path(distributed.broadcast(str(self.save_dir)))  # the main process's
        self.log_dir = Path(self["trainer"]["save_dir"], "log", *self.save_dir.parts[-2:])
        if distributed.is_main():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            write_json(self.config, self.save_dir / "config.json")
            # trainer.verbosity 0: WARNING, 1: INFO, 2: DEBUG
            setup_logging(self.log_dir, level=logging.WARNING - 10 * self["trainer"]["verbosity"])

    def new_run_dir(self) -> Path:
        """``SAVE_DIR/models/NAME/MMDD_HHMMSS``, plus a suffix if a run of that second took it."""
        parent = Path(self["trainer"]["save_dir"]) / "models" / self["name"]
        run_id = datetime.now().strftime("%m%d_%H%M%S")
        paths = (parent / (f"{run_id}_{i}" if i else run_id) for i in itertools.count())
        path = next(p for p in paths if not p.exists())
        path.mkdir(parents=True)
        return path


def cli_parser(description: str, checkpoint_required: bool = False) -> argparse.ArgumentParser:
    """The options every script shares: -c, -r, -d, --debug and ``KEY.PATH=VALUE`` overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-c", "--config", help="config file (default: -r's, else config.json)")
    parser.add_argument("-r", "--resume", required=checkpoint_required, help="checkpoint/run dir")
    parser.add_argument("-d", "--device", help="indices of GPUs to use, e.g. 2,3")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("overrides", nargs="*", metavar="KEY.PATH=VALUE", help="config changes")
    parser.set_defaults(read_state=load_checkpoint)  # what reads -r's file
    return parser


def run_cli(parser: argparse.ArgumentParser, main: Callable, argv: list[str] | None = None) -> None:
    """Run ``main(config)``; bad input exits 2 with one ``error: ...`` line (--debug: traceback)."""
    atexit.register(gc.freeze)  # the exit skips a last garbage collection of all imports: 1 s
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_intermixed_args(argv)
    setup_logging(None)
    try:
        main(ConfigParser.from_args(args, argv))
    except InputError as err:
        if args.debug:
            raise
        parser.exit(2, f"error: {err}\n")
    except TrainingInterrupted as interrupted:  # its args: the message and the signal's number
        sys.exit(128 + interrupted.args[1])


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
    """``config['a']['b'] = value`` for ``'a.b'`` (``'+a.b'`` may add it), of the old type."""
    name = key.lstrip("+")
    parts = name.split(".")
    node: Any = config
    for depth, part in enumerate(parts):
        path = ".".join(parts[: depth + 1])
        if not isinstance(node, dict):
            raise InputError(f"{key}: {path.rpartition('.')[0]} is not a JSON object")
        if part not in node and not (key.startswith("+") and depth == len(parts) - 1):
            close = difflib.get_close_matches(part, list(node), n=1, cutoff=0.5)
            hint = ".".join([*parts[:depth], *close, *parts[depth + 1 :]]) if close else None
            raise InputError(
                f"unknown config key {path}; {f'did you mean {hint}? ' if hint else ''}"
                f"(to add a new key, write +{name}={json.dumps(value)})"
            )
        parent, node = node, node.get(part)
    kinds = (type(node), type(value))  # an int for a float is fine
    if None not in (node, value) and kinds[0] is not kinds[1] and kinds != (float, int):
        raise InputError(f"{name}: expected {kinds[0].__name__} like {node!r}, got {value!r}")
    parent[parts[-1]] = value
