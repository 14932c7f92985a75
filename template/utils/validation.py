"""Every config value is checked here, once, on reading: by config.schema.json, then the rest."""

import difflib
import inspect
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from torchvision.transforms import v2

from utils.util import InputError, read_json

# Draft 4's "integer" is an int: later drafts also accept 2.0, which range() refuses
Validator = validators.extend(Draft202012Validator, type_checker=Draft4Validator.TYPE_CHECKER)


def validate(config: dict[str, Any], sections: dict[str, tuple]) -> None:
    """Check every value the code reads; ``sections`` as ``parse_config.SECTIONS``."""
    schema = read_json(Path(__file__).parent / "config.schema.json")
    error = best_match(Validator(schema).iter_errors(config))
    if error is not None:
        raise InputError(explain(error))
    for i, name in enumerate(config["metrics"]):
        lookup(import_module("model.metric"), name, f"metrics[{i}]")
    loader = config["data_loader"]["args"]
    steps = enumerate(loader.get("augment", []))
    parts = [(name, config[name], import_module(m), n) for name, (m, n) in sections.items()]
    parts += [(f"data_loader.args.augment[{i}]", step, v2, 0) for i, step in steps]
    factories = {}
    for path, section, module, n_positional in parts:
        if section is not None:  # lr_scheduler null: no scheduler
            factory = factories[path] = lookup(module, section["type"], f"{path}.type")
            check_arguments(factory, n_positional, section["args"], f"{path}.args")
    check = getattr(factories.get("arch"), "check", lambda args: None)  # a pretrained arch's
    own = check(config["arch"]["args"]) or (None, None)  # its weights' mean and std
    for key, values in zip(("mean", "std"), own, strict=True):
        if loader.get(key, 0) is None:  # null: the weights' own (for gray images, their average)
            if values is None:
                raise InputError(
                    f"data_loader.args.{key}: null is a pretrained arch's own, and this arch has "
                    "none; give a list (python -m data_loader stats DIR computes it)"
                )
            loader[key] = list(values) if loader["channels"] == 3 else [sum(values) / 3]
    if config["loss"].get("class_weights") is not None:  # passed to the loss as its weight
        args = {**config["loss"]["args"], "weight": None}
        check_arguments(factories["loss"], 2, args, "loss.class_weights")
    split = loader.get("validation_split")
    if isinstance(split, list) and split[0] >= split[1]:
        raise InputError(f"data_loader.args.validation_split: needs i < K in [i, K], got {split}")
    for key, bounds in config.get("tune", {}).get("params", {}).items():
        low, high = bounds.get("low"), bounds.get("high")
        if low is not None and low > high:
            raise InputError(f"tune.params.{key}: low {low} is above high {high}")


def explain(error: ValidationError) -> str:
    """``KEY.PATH: must be <the schema's description>, got <value>``, or which key is missing."""
    # like metrics[0].type; not jsonschema's json_path, which quotes the dotted keys of tune.params
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator == "required":
        missing = next(key for key in error.validator_value if key not in error.instance)
        return f"{path}.{missing}"[1:] + ": missing in the config; add it (see config.json)"
    what = error.schema.get("description", error.message)
    return f"{path[1:]}: must be {what}, got {error.instance!r}"


def lookup(module: ModuleType, name: Any, key_path: str) -> Any:
    """``module.<name>``, a callable of its ``__all__`` (v2: its transforms), else an error."""
    names = getattr(module, "__all__", None) or [
        n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, v2.Transform)
    ]
    choices = sorted(n for n in names if callable(getattr(module, n)))
    if name not in choices:
        close = difflib.get_close_matches(str(name), choices, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(
            f"{key_path}: unknown {name!r} in {module.__name__}; {hint}"
            f"choose from {', '.join(choices)}"
        )
    return getattr(module, name)


def check_arguments(factory: Any, n_positional: int, kwargs: dict[str, Any], key_path: str) -> None:
    """An error naming ``key_path`` unless ``factory(n_positional values, **kwargs)`` binds."""
    signature = inspect.signature(factory)
    try:
        signature.bind(*[None] * n_positional, **kwargs)
    except TypeError as err:
        names = ", ".join(p for p in signature.parameters if p not in ("self", "args", "kwargs"))
        raise InputError(f"{key_path}: {err} for {factory.__name__}; it accepts {names}") from None
