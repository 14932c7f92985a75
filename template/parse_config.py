"""Reads config.json, applies command-line changes, checks every value, and builds what it names.

The configuration stays a plain dict of JSON values, so it can be stored inside checkpoints and read
back with ``torch.load(..., weights_only=True)``.
"""

import argparse
import difflib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
from utils import distributed
from utils.checkpoint import find_checkpoint, load_checkpoint
from utils.util import InputError, TrainingInterrupted, read_json, write_json
from utils.validation import (
    BOOLEAN,
    FRACTION_OR_COUNT,
    MONITOR,
    TEXT,
    Rule,
    check,
    check_arguments,
    integer,
    lookup,
    number,
    one_of,
    optional,
)

LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
# sections that name a ``type``: where it is looked up, and how many positional arguments the code
# passes before the config's ``args`` (the optimizer gets the parameters, a loss output and target)
SECTIONS = {
    "arch": (module_arch, 0),
    "data_loader": (module_data, 0),
    "loss": (module_loss, 2),
    "optimizer": (torch.optim, 1),
    "lr_scheduler": (torch.optim.lr_scheduler, 1),
}
RULES: dict[str, Rule] = {
    "name": TEXT,
    "n_gpu": integer(0),
    "seed": integer(0),
    "trainer.epochs": integer(1),
    "trainer.len_epoch": optional(integer(1)),
    "trainer.save_dir": TEXT,
    "trainer.save_period": integer(1),
    "trainer.keep_last": integer(0),
    "trainer.verbosity": one_of(0, 1, 2),
    "trainer.monitor": MONITOR,
    "trainer.early_stop": integer(0),
    "trainer.amp": one_of("off", "bf16", "fp16"),
    "trainer.grad_accum_steps": integer(1),
    "trainer.grad_clip": number(0),
    "trainer.compile": BOOLEAN,
    "trainer.figure_period": integer(0),
}
ARG_RULES: dict[str, Rule] = {  # data loader arguments, checked when the config sets them
    "batch_size": integer(1),
    "shuffle": BOOLEAN,
    "validation_split": FRACTION_OR_COUNT,
    "num_workers": integer(0),
}


@dataclass(frozen=True)
class CliOption:
    """A command-line flag that sets one config value, e.g. ``--lr`` for ``optimizer.args.lr``."""

    flags: tuple[str, ...]
    type: type
    target: str


class ConfigParser:
    """The run's checked configuration plus the folders it writes to."""

    def __init__(
        self, config: dict[str, Any], resume: Path | None = None, argv: list[str] | None = None
    ):
        validate(config)
        self.config = config
        self.resume = resume
        self.argv = argv or []  # the command line, for starting DDP worker processes
        self.run_dir: Path | None = None

    @classmethod
    def from_args(
        cls,
        parser: argparse.ArgumentParser,
        options: Iterable[CliOption] = (),
        argv: list[str] | None = None,
    ) -> "ConfigParser":
        """The config from ``-c``/``-r``, custom flags and ``KEY.PATH=VALUE`` overrides."""
        options = list(options)
        for option in options:
            parser.add_argument(
                *option.flags,
                type=option.type,
                dest=option.target,
                metavar=option.type.__name__.upper(),
                help=f"sets {option.target}",
            )
        parser.add_argument(
            "overrides",
            nargs="*",
            metavar="KEY.PATH=VALUE",
            help="change a config value, e.g. trainer.epochs=1 (value parsed as JSON if it can "
            "be, else a string); a leading + adds a key that config.json lacks",
        )
        args = parser.parse_intermixed_args(argv)
        if getattr(args, "device", None):
            os.environ["CUDA_VISIBLE_DEVICES"] = args.device

        resume = find_checkpoint(args.resume) if getattr(args, "resume", None) else None
        if resume is not None:
            config = load_checkpoint(resume)["config"]
            if args.config is not None:  # the new file's values win
                config.update(read_json(args.config))
        else:
            config = read_json(args.config or "config.json")
        if not isinstance(config, dict):
            raise InputError(f"{args.config}: the top level must be a JSON object")

        changes = [(o.target, getattr(args, o.target)) for o in options]
        changes = [(key, value) for key, value in changes if value is not None]
        changes += [parse_override(text) for text in args.overrides]
        for key, value in changes:
            set_by_path(config, key, value)
        return cls(config, resume, list(sys.argv[1:] if argv is None else argv))

    def __getitem__(self, name: str) -> Any:
        return self.config[name]

    def init_obj(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``<config[name]['type']>(*args, **config[name]['args'], **kwargs)``; kwargs win."""
        return self._factory(name)(*args, **{**self[name]["args"], **kwargs})

    def init_ftn(self, name: str) -> partial:
        """The function ``config[name]['type']`` with the config's args bound, uncalled."""
        return partial(self._factory(name), **self[name]["args"])

    def init_metrics(self) -> dict[str, Any]:
        """``{name: model.metric.<name>()}`` for each name in the ``metrics`` list."""
        return {name: getattr(module_metric, name)() for name in self["metrics"]}

    def _factory(self, name: str) -> Callable[..., Any]:
        return getattr(SECTIONS[name][0], self[name]["type"])

    def start_run(self, run_id: str | None = None) -> None:
        """Create (or, when resuming, reuse) the run's folders, save its config, log to its file.

        Under DDP only the main process writes; the others learn the folder from it.
        """
        trainer = self["trainer"]
        if not distributed.is_main():
            self.run_dir = Path(distributed.broadcast(None))
            return
        if self.resume is not None:
            self.run_dir = self.resume.parent
        else:
            run_id = run_id or datetime.now().strftime("%m%d_%H%M%S")
            self.run_dir = make_unique_dir(
                Path(trainer["save_dir"]) / "models" / self["name"], run_id
            )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.config, self.run_dir / "config.json")
        setup_logging(self.log_dir, level=LOG_LEVELS[trainer["verbosity"]])
        distributed.broadcast(str(self.run_dir))

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


def validate(config: dict[str, Any]) -> None:
    """Check every value the code reads, naming the key path of the first bad one."""
    for path, rule in RULES.items():
        check(get_by_path(config, path), rule, path)
    for name, (module, n_positional) in SECTIONS.items():
        section = get_by_path(config, name)
        if section is None and name == "lr_scheduler":  # null: no scheduler
            continue
        check(section, ("an object with type and args", is_section), name)
        check_arguments(
            lookup(module, section["type"], f"{name}.type"),
            n_positional,
            section["args"],
            f"{name}.args",
        )
    for key, rule in ARG_RULES.items():
        if key in config["data_loader"]["args"]:
            check(config["data_loader"]["args"][key], rule, f"data_loader.args.{key}")
    if config["lr_scheduler"] is not None:
        check(
            config["lr_scheduler"].get("interval"), one_of("step", "epoch"), "lr_scheduler.interval"
        )
    check(config["metrics"], ("a list of metric names", lambda v: isinstance(v, list)), "metrics")
    for i, name in enumerate(config["metrics"]):
        lookup(module_metric, name, f"metrics[{i}]")


def is_section(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("args"), dict) and "type" in value


def get_by_path(config: dict[str, Any], path: str) -> Any:
    """``config['a']['b']`` for ``'a.b'``; a missing key is an error that names it."""
    node: Any = config
    for depth, part in enumerate(path.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(path.split(".")[: depth + 1])
            raise InputError(f"{where}: missing in the config; add it (see config.json)")
        node = node[part]
    return node


def run_cli(
    parser: argparse.ArgumentParser,
    main: Callable[[ConfigParser], None],
    options: Iterable[CliOption] = (),
    argv: list[str] | None = None,
) -> None:
    """Parse the command line and run ``main(config)``.

    Bad input ends the program with exit code 2 and a one-line ``error: ...`` naming the culprit
    (``--debug`` shows the traceback instead); an interrupted run exits with 128 + the signal.
    """
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    argv = sys.argv[1:] if argv is None else argv
    setup_logging(None)
    try:
        main(ConfigParser.from_args(parser, options, argv))
    except InputError as err:
        if "--debug" in argv:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except TrainingInterrupted as interrupted:
        sys.exit(interrupted.exit_code)


def make_unique_dir(parent: Path, name: str) -> Path:
    """Create ``parent/name``, adding a suffix if a run started in the same second took it."""
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        path = parent / (name if attempt == 0 else f"{name}_{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise InputError(f"{parent}: cannot create a new run folder named {name}")


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
    """Set ``config['a']['b'] = value`` for key ``'a.b'``; ``'+a.b'`` may add a missing key."""
    add = key.startswith("+")
    parts = key.lstrip("+").split(".")
    node: Any = config
    for depth, part in enumerate(parts):
        path = ".".join(parts[: depth + 1])
        if not isinstance(node, dict):
            raise InputError(f"{key}: {'.'.join(parts[:depth])} is not a JSON object")
        last = depth == len(parts) - 1
        if part not in node and not (add and last):
            hint = difflib.get_close_matches(path, list(key_paths(config)), n=1, cutoff=0.5)
            suggestion = f"did you mean {hint[0]}? " if hint else ""
            raise InputError(
                f"unknown config key {path}; {suggestion}"
                f"(to add a new key, write +{key.lstrip('+')}={json.dumps(value)})"
            )
        if last:
            check_type(path, node.get(part), value)
            node[part] = value
        else:
            node = node[part]


def check_type(path: str, old: Any, new: Any) -> None:
    """Refuse an override whose JSON type differs from the old value's (int for float is ok)."""
    if old is None or new is None or json_kind(old) == json_kind(new):
        return
    if json_kind(old) == "a number" and json_kind(new) == "an integer":
        return
    raise InputError(f"{path}: expected {json_kind(old)} like {json.dumps(old)}, got {new!r}")


def json_kind(value: Any) -> str:
    """The JSON type of a value, in words for error messages."""
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number")):
        if isinstance(value, kind):
            return name
    return {str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def key_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted key path in a nested dict, for suggestions."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            yield path
            yield from key_paths(value, path + ".")
