"""Every value of config.json is checked here, once, when the config is read: a bad one fails
with its key path before anything is built or written, and the code then reads it unchecked."""

import difflib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from torchvision.transforms import v2

from utils.util import InputError

Rule = tuple[str, Callable[[Any], bool]]  # what a value must be, in words, and its test


def integer(low: int) -> Rule:
    return f"an integer >= {low}", lambda v: type(v) is int and v >= low


def one_of(*choices: Any) -> Rule:
    return (
        f"one of {', '.join(map(str, choices))}",
        lambda v: (type(v), v) in {(type(c), c) for c in choices},
    )


def integers(values: Any, low: int) -> bool:
    return isinstance(values, list) and all(type(v) is int and v >= low for v in values)


def optional(rule: Rule) -> Rule:
    return f"{rule[0]} or null", lambda v: v is None or rule[1](v)


BOOLEAN: Rule = ("true or false", lambda v: type(v) is bool)
TEXT: Rule = ("a non-empty string", lambda v: isinstance(v, str) and v != "")
MONITOR: Rule = (
    "'min METRIC', 'max METRIC' or 'off' (e.g. 'min val_loss')",
    lambda v: (
        v == "off"
        or (isinstance(v, str) and v.split()[:1] in (["min"], ["max"]))
        and len(v.split()) == 2
    ),
)
RULES: dict[str, Rule] = {
    "name": TEXT,
    "n_gpu": integer(0),
    "seed": integer(0),
    "metrics": ("a list of metric names", lambda v: isinstance(v, list)),
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
    "trainer.grad_clip": ("a number >= 0", lambda v: type(v) in (int, float) and v >= 0),
    "trainer.compile": BOOLEAN,
    "trainer.figure_period": integer(0),
    "trainer.init_strict": BOOLEAN,
    "trainer.freeze": (
        "a list of parameter-name prefixes",
        lambda v: isinstance(v, list) and all(map(TEXT[1], v)),
    ),
    "trainer.ema_decay": ("a number in [0, 1)", lambda v: type(v) in (int, float) and 0 <= v < 1),
}
LOADER_RULES: dict[str, Rule] = {  # data loader arguments, checked when the config sets them
    "batch_size": integer(1),
    "shuffle": BOOLEAN,
    "validation_split": (
        "a fraction in [0, 1) like 0.1, a sample count >= 0 or a fold [i, K] (0 <= i < K, K >= 2)",
        lambda v: (
            (type(v) is float and 0 <= v < 1)
            or (type(v) is int and v >= 0)
            or (type(v) is list and list(map(type, v)) == [int, int] and 0 <= v[0] < v[1] >= 2)
        ),
    ),
    "num_workers": integer(0),
    "pin_memory": BOOLEAN,
    "persistent_workers": BOOLEAN,
    "prefetch_factor": integer(1),
    "cache": BOOLEAN,
    "skip_bad_files": BOOLEAN,
    "image_size": ("[height, width] in pixels", lambda v: len(v) == 2 and integers(v, 1)),
    "channels": one_of(1, 3),
    "mean": ("a list of one number per channel", lambda v: all(type(x) in (int, float) for x in v)),
    "std": (
        "a list of one number > 0 per channel",
        lambda v: all(type(x) in (int, float) and x > 0 for x in v),
    ),
    "ignore_value": ("an integer in 0..255", lambda v: integers([v], 0) and v <= 255),
    "class_names": ("a list of names", lambda v: len(v) > 0 and all(isinstance(x, str) for x in v)),
    "targets": (
        "a list of CSV column names",
        lambda v: len(v) > 0 and all(isinstance(x, str) for x in v),
    ),
    "augment": (
        "a list of {type, args}: torchvision.transforms.v2 classes",
        lambda v: isinstance(v, list),
    ),
}
TUNE_RULES: dict[str, Rule] = {  # the tune section, read by tune.py, checked when present
    "tune.metric": optional(
        ("'min METRIC' or 'max METRIC'", lambda v: v != "off" and MONITOR[1](v))
    ),
    "tune.n_trials": integer(1),
    "tune.sampler": one_of("tpe", "random"),
    "tune.pruner": one_of("median", "hyperband", "none"),
    "tune.storage": optional(TEXT),
    "tune.params": ("an object of KEY.PATH: distribution", lambda v: type(v) is dict),
}
NUMBER: Rule = ("a number", lambda v: type(v) in (int, float))
INTEGER: Rule = ("an integer", lambda v: type(v) is int)
CHOICES: Rule = (
    "a non-empty list of numbers, strings, booleans or null",
    lambda v: (
        type(v) is list and v != [] and {type(c) for c in v} <= {bool, int, float, str, type(None)}
    ),
)
DISTRIBUTIONS: dict[str, dict[str, Rule]] = {  # the keys of each type of tune.params value
    "float": {"low": NUMBER, "high": NUMBER, "log": BOOLEAN},
    "int": {"low": INTEGER, "high": INTEGER, "log": BOOLEAN},
    "categorical": {"choices": CHOICES},
}
SECTION: Rule = (
    "an object with type and args",
    lambda v: isinstance(v, dict) and "type" in v and isinstance(v.get("args"), dict),
)


def validate(
    config: dict[str, Any], sections: dict[str, tuple[ModuleType, int]], metrics: ModuleType
) -> None:
    """Check every value the code reads; ``sections`` name where each ``type`` is looked up and
    how many positional arguments the code passes before the config's ``args``."""
    for path, rule in RULES.items():
        check(get(config, path), rule, path)
    for i, name in enumerate(config["metrics"]):
        lookup(metrics, name, f"metrics[{i}]")
    for name, (module, n_positional) in sections.items():
        section = get(config, name)
        if section is None and name == "lr_scheduler":  # null: no scheduler
            continue
        check(section, SECTION, name)
        factory = lookup(module, section["type"], f"{name}.type")
        check_arguments(factory, n_positional, section["args"], f"{name}.args")
    loader = config["data_loader"]["args"]
    for key, rule in LOADER_RULES.items():
        if key in loader:
            check(loader[key], rule, f"data_loader.args.{key}")
    for key in ("mean", "std"):
        if key in loader and len(loader[key]) != loader.get("channels", 1):
            raise InputError(
                f"data_loader.args.{key}: needs one value per channel (channels="
                f"{loader.get('channels', 1)}), got {loader[key]!r}; "
                "python -m data_loader stats DIR computes them"
            )
    for i, step in enumerate(loader.get("augment", [])):
        check(step, SECTION, f"data_loader.args.augment[{i}]")
        transform = lookup(v2, step["type"], f"data_loader.args.augment[{i}].type")
        check_arguments(transform, 0, step["args"], f"data_loader.args.augment[{i}].args")
    if "tune" in config:
        for path, rule in TUNE_RULES.items():
            check(get(config, path), rule, path)
        for key, distribution in config["tune"]["params"].items():
            check_distribution(distribution, f"tune.params.{key}")
    if config["lr_scheduler"] is not None:
        interval = get(config, "lr_scheduler.interval")
        check(interval, one_of("step", "epoch"), "lr_scheduler.interval")
        check(get(config, "lr_scheduler.warmup_steps"), integer(0), "lr_scheduler.warmup_steps")
        plateau = config["lr_scheduler"]["type"] == "ReduceLROnPlateau"
        if plateau and (config["trainer"]["monitor"] == "off" or interval != "epoch"):
            raise InputError(
                "lr_scheduler: ReduceLROnPlateau is stepped with the monitored value after each "
                "validation; set trainer.monitor (not off) and lr_scheduler.interval=epoch"
            )


def check_distribution(distribution: Any, key_path: str) -> None:
    """A ``{"type": "float", "low": 1e-4, "high": 0.1, "log": true}`` search range (``log``
    optional), an ``int`` one alike, or ``{"type": "categorical", "choices": [...]}``."""
    check(
        distribution, ("an object with a type", lambda v: type(v) is dict and "type" in v), key_path
    )
    check(distribution["type"], one_of(*DISTRIBUTIONS), f"{key_path}.type")
    rules = DISTRIBUTIONS[distribution["type"]]
    for key in distribution.keys() - {"type"} - rules.keys():
        raise InputError(
            f"{key_path}.{key}: unknown; a {distribution['type']} range has {', '.join(rules)}"
        )
    for key, rule in rules.items():
        if key != "log" or key in distribution:
            check(get(distribution, key), rule, f"{key_path}.{key}")
    low, high = distribution.get("low"), distribution.get("high")
    if "low" in rules and low > high:
        raise InputError(f"{key_path}: low {low} is above high {high}")
    if distribution.get("log") and low <= 0:
        raise InputError(f"{key_path}: a log range needs low > 0, got {low}")


def get(config: dict[str, Any], path: str) -> Any:
    """``config['a']['b']`` for ``'a.b'``; a missing key is an error that names it."""
    node: Any = config
    for depth, part in enumerate(path.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(path.split(".")[: depth + 1])
            raise InputError(f"{where}: missing in the config; add it (see config.json)")
        node = node[part]
    return node


def check(value: Any, rule: Rule, key_path: str) -> None:
    if not rule[1](value):
        raise InputError(f"{key_path}: must be {rule[0]}, got {value!r}")


def lookup(module: ModuleType, name: Any, key_path: str) -> Any:
    """``module.<name>`` if ``name`` is one of its choices: its ``__all__``, or else the public
    callables it defines itself (not those it imports)."""
    names = getattr(module, "__all__", None) or [  # defined in it, or in its private submodules
        n
        for n, v in vars(module).items()
        if f"{getattr(v, '__module__', None)}.".startswith(
            (f"{module.__name__}.", f"{module.__name__}._")
        )
    ]
    choices = sorted(n for n in names if not n.startswith("_") and callable(getattr(module, n)))
    if name not in choices:
        hint = difflib.get_close_matches(str(name), choices, n=1)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        raise InputError(
            f"{key_path}: unknown {name!r} in {module.__name__}; {suggestion}"
            f"choose from {', '.join(choices)}"
        )
    return getattr(module, name)


def check_arguments(factory: Any, n_positional: int, kwargs: dict[str, Any], key_path: str) -> None:
    """An error naming ``key_path`` unless ``factory(n_positional values, **kwargs)`` binds."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        return
    try:
        signature.bind(*[None] * n_positional, **kwargs)
    except TypeError as err:
        accepted = [p for p in signature.parameters if p not in ("self", "args", "kwargs")]
        raise InputError(
            f"{key_path}: {err} for {factory.__name__}; it accepts {', '.join(accepted)}"
        ) from None
